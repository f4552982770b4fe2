import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DeviceRuntime } from '../../src/agent/device-runtime.js';
import { CommandQueue, LazyAbort, type Job, type Outcome } from '../../src/agent/queue.js';
import { CommandError, toErrorBody } from '../../src/devices/errors.js';
import { KernelError } from '../../src/kernel/errors.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import { tempDir } from '../helpers/agent.js';
import { probeKind } from '../helpers/test-kinds.js';
import { until } from '../helpers/wait.js';

function job(
  id: string,
  run: (signal: AbortSignal) => unknown,
  o: { timeoutMs?: number; expiresAt?: number } = {},
): { job: Job; outcome: Promise<Outcome> } {
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => {
    settle = r;
  });
  return {
    job: {
      id,
      label: id,
      timeoutMs: o.timeoutMs ?? 5000,
      ...(o.expiresAt !== undefined ? { expiresAt: o.expiresAt } : {}),
      run: (abort) => run(abort.signal),
      settle,
    },
    outcome,
  };
}

const gate = (): { wait: Promise<void>; open: () => void } => {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
};

describe('per-device command queue', () => {
  const q = (available = () => true): CommandQueue => new CommandQueue({ available, now: () => performance.now() });

  it('runs jobs one at a time in arrival order', async () => {
    const queue = q();
    const order: string[] = [];
    const g = gate();
    const a = job('a', async () => {
      order.push('a-start');
      await g.wait;
      order.push('a-end');
      return 1;
    });
    const b = job('b', () => {
      order.push('b');
      return 2;
    });
    queue.push(a.job);
    queue.push(b.job);
    expect(order).toEqual(['a-start']);
    g.open();
    expect(await a.outcome).toEqual({ ok: true, value: 1 });
    expect(await b.outcome).toEqual({ ok: true, value: 2 });
    expect(order).toEqual(['a-start', 'a-end', 'b']);
  });

  it('a running job past its timeout gets `timeout` and an aborted signal; the device stays held until it returns', async () => {
    const queue = q();
    const g = gate();
    let aborted = false;
    const slow = job(
      'slow',
      async (signal) => {
        signal.addEventListener('abort', () => {
          aborted = true;
        });
        await g.wait;
        return 'late';
      },
      { timeoutMs: 20 },
    );
    const next = job('next', () => 'ran');
    queue.push(slow.job);
    queue.push(next.job);
    const o = await slow.outcome;
    expect(o.ok ? null : o.error.code).toBe('timeout');
    expect(aborted).toBe(true);
    expect(queue.running?.id).toBe('slow');
    g.open();
    expect(await next.outcome).toEqual({ ok: true, value: 'ran' });
  });

  it('a job still waiting when its timeout passes gets `busy`, naming what holds the device', async () => {
    const queue = q();
    const g = gate();
    const holder = job('rewind', () => g.wait, { timeoutMs: 60_000 });
    const waiting = job('status', () => 'never', { timeoutMs: 20 });
    queue.push(holder.job);
    queue.push(waiting.job);
    const o = await waiting.outcome;
    expect(o.ok).toBe(false);
    if (!o.ok) {
      expect(o.error.code).toBe('busy');
      expect(o.error.message).toContain("behind 'rewind'");
    }
    g.open();
    await holder.outcome;
  });

  it('cancel removes a waiting job, which gets `canceled`; a running one cannot be canceled', async () => {
    const queue = q();
    const g = gate();
    const a = job('a', () => g.wait);
    const b = job('b', () => 'no');
    queue.push(a.job);
    queue.push(b.job);
    expect(queue.cancel('a')).toBe(false);
    expect(queue.cancel('b')).toBe(true);
    const o = await b.outcome;
    expect(o.ok ? '' : o.error.code).toBe('canceled');
    g.open();
    await a.outcome;
  });

  it('a job that expired while it waited gets `expired`', async () => {
    const queue = q();
    const g = gate();
    const a = job('a', () => g.wait);
    const expiresAt = Date.now() + 5;
    const b = job('b', () => 'no', { expiresAt });
    queue.push(a.job);
    queue.push(b.job);
    // b's instant passes while a holds the device, however long that takes on this machine.
    await until(() => Date.now() > expiresAt, "b's expiry instant");
    g.open();
    const o = await b.outcome;
    expect(o.ok ? '' : o.error.code).toBe('expired');
  });

  it('an unavailable device answers `unavailable` when a job reaches the head', async () => {
    const queue = q(() => false);
    const a = job('a', () => 'no');
    queue.push(a.job);
    const o = await a.outcome;
    expect(o.ok ? '' : o.error.code).toBe('unavailable');
  });

  it('close cancels waiting jobs and abandons a running one after the grace period', async () => {
    const queue = q();
    const a = job('a', () => new Promise(() => undefined));
    const b = job('b', () => 'no');
    queue.push(a.job);
    queue.push(b.job);
    await queue.close(30);
    const [oa, ob] = await Promise.all([a.outcome, b.outcome]);
    expect(oa.ok ? '' : oa.error.code).toBe('canceled');
    expect(ob.ok ? '' : ob.error.code).toBe('canceled');
  });

  it('a handler that throws synchronously becomes an error result, and the queue goes on', async () => {
    const queue = q();
    const a = job('a', () => {
      throw Object.assign(new Error('sysfs says no'), { code: 'EACCES', syscall: 'open', path: '/sys/x' });
    });
    const b = job('b', () => 'after');
    queue.push(a.job);
    queue.push(b.job);
    const o = await a.outcome;
    expect(o.ok ? null : o.error).toMatchObject({ code: 'device_error', errno: 'EACCES', path: '/sys/x' });
    expect(await b.outcome).toEqual({ ok: true, value: 'after' });
  });

  it('a handler that looks at its signal only after the timeout finds it aborted, with the reason', async () => {
    const queue = q();
    let late: AbortSignal | undefined;
    let settled: Outcome | undefined;
    let release!: () => void;
    const a: Job = {
      id: 'a',
      label: 'a',
      timeoutMs: 20,
      run: (abort) =>
        new Promise<void>((r) => {
          release = () => {
            late = abort.signal;
            r();
          };
        }),
      settle: (o) => (settled = o),
    };
    queue.push(a);
    // The job is answered `timeout` while it still runs; only then does it return.
    expect(await until(() => settled, 'the timeout answer')).toMatchObject({ ok: false, error: { code: 'timeout' } });
    release();
    expect(late?.aborted).toBe(true);
    expect((late?.reason as Error).message).toBe('timeout');
  });

  it('a settle that throws cannot leave the device held by a finished job: the next job runs, the failure is told', async () => {
    const told: string[] = [];
    let heard: (() => void) | undefined;
    const queue = new CommandQueue({
      available: () => true,
      now: () => performance.now(),
      callbackFailed: (_e, where) => {
        told.push(where);
        heard?.();
      },
    });
    // What a result path that throws looks like (a journal write on a full disk, before this was fixed).
    const throwing: Job = {
      id: 'a',
      label: 'a',
      timeoutMs: 5000,
      run: () => 'done',
      settle: () => {
        throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const g = gate();
    const slow: Job = { ...throwing, id: 'slow', label: 'slow', run: () => g.wait };
    const timedOut: Job = { ...throwing, id: 't', label: 't', timeoutMs: 10, run: () => g.wait };
    const next = job('next', () => 'ran');
    queue.push(throwing);
    queue.push(next.job);
    expect(await next.outcome).toEqual({ ok: true, value: 'ran' });
    expect(queue.running).toBeUndefined();
    // The same from a timer (a timeout's settle) and from a handler that returns later.
    const timerSettled = new Promise<void>((r) => {
      heard = r;
    });
    queue.push(timedOut);
    queue.push(slow);
    const after = job('after', () => 'ran too');
    queue.push(after.job);
    await timerSettled;
    expect(queue.running?.id).toBe('t');
    g.open();
    expect(await after.outcome).toEqual({ ok: true, value: 'ran too' });
    expect(told).toEqual(["settling 'a' (a)", "settling 't' (t)", "settling 'slow' (slow)"]);
  });
});

describe("a device runtime's enqueue (state polls)", () => {
  const kernel = new LibcKernel();
  function runtime(): Promise<DeviceRuntime> {
    return DeviceRuntime.create({
      kind: probeKind,
      config: { id: 'q1', kind: 'probe', name: 'q1', sim: false, options: { label: 'q1' } },
      libc: () => kernel,
      log: pino({ level: 'silent' }),
      stateDir: tempDir('dev2mqtt-queue-'),
      hooks: { event: () => undefined, stateChanged: () => undefined, availability: () => undefined },
      reopenMinMs: 10,
      reopenMaxMs: 100,
    });
  }

  it('rejects with the real code: busy behind a long job, timeout, device_error with the errno and path', async () => {
    const rt = await runtime();
    await rt.start();
    const g = gate();
    const holder = rt.enqueue('rewind', () => g.wait, 60_000);
    const busy = rt.enqueue('status poll', () => Promise.resolve('never'), 10).catch((e: unknown) => e);
    const e1 = await busy;
    expect(e1).toBeInstanceOf(CommandError);
    expect(toErrorBody(e1)).toMatchObject({ code: 'busy' });
    g.open();
    await holder;
    // A handler that gives the device back once aborted, as a well-behaved one does.
    const timeout = await rt
      .enqueue('poll', (signal) => new Promise((r) => signal.addEventListener('abort', () => r('late'), { once: true })), 10)
      .catch((e: unknown) => e);
    expect(toErrorBody(timeout)).toMatchObject({ code: 'timeout' });
    const eio = KernelError.of('EIO', { syscall: 'ioctl', request: 'MTIOCGET', path: '/dev/nst0' });
    const failed = await rt.enqueue('poll', () => Promise.reject(eio)).catch((e: unknown) => e);
    expect(toErrorBody(failed)).toMatchObject({ code: 'device_error', errno: 'EIO', request: 'MTIOCGET', path: '/dev/nst0' });
    await rt.stop(100);
  });
});

describe('LazyAbort', () => {
  it('makes one signal, on demand, that follows abort before or after it was made', () => {
    const before = new LazyAbort();
    before.abort(new Error('x'));
    expect(before.signal.aborted).toBe(true);
    expect(before.signal).toBe(before.signal);
    const after = new LazyAbort();
    const s = after.signal;
    let heard = 0;
    s.addEventListener('abort', () => heard++);
    after.abort('why');
    after.abort('again');
    expect([s.aborted, s.reason, heard]).toEqual([true, 'why', 1]);
  });
});
