import { describe, expect, it } from 'vitest';
import { CommandQueue, LazyAbort, type Job, type Outcome } from '../../src/agent/queue.js';
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
