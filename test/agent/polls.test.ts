/**
 * The device runtime's one poll service (DeviceContext.poll), in a real
 * DeviceRuntime with its real command queue: a poll runs through the queue
 * while the device is online, is never queued twice, ends when the device
 * closes and starts again when it reopens, and reports a failed run with the
 * queue's own error body — `busy` behind a long command, `timeout`,
 * `device_error` with the errno — never a bare message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceRuntime } from '../../src/agent/device-runtime.js';
import type { ErrorBody } from '../../src/devices/errors.js';
import { defineKind, type Device, type DeviceContext, type PollOptions } from '../../src/devices/kind.js';
import { KernelError } from '../../src/kernel/errors.js';
import { s } from '../../src/schema/schema.js';

/** What a test tells its device to do in open(): the polls it starts. */
type Setup = (ctx: DeviceContext<unknown>) => void;

interface PollDevice extends Device {
  opens: number;
  present: boolean;
}

function pollKind(setup: Setup) {
  return defineKind<unknown, PollDevice>({
    kind: 'polled',
    title: 'a device that polls',
    options: () => s.object({}),
    commands: {},
    create(ctx) {
      const dev: PollDevice = {
        opens: 0,
        present: true,
        async open() {
          if (!dev.present) throw KernelError.of('ENOENT', { syscall: 'open', path: '/dev/polled' });
          dev.opens++;
          setup(ctx);
        },
        async close() {},
        state: () => ({}),
      };
      return dev;
    },
  });
}

const runtimes: DeviceRuntime[] = [];
const temps: string[] = [];
afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.stop(100);
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

async function runtime(setup: Setup): Promise<DeviceRuntime> {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'dev2mqtt-polls-'));
  temps.push(stateDir);
  const rt = await DeviceRuntime.create({
    kind: pollKind(setup),
    config: { id: 'd1', kind: 'polled', name: 'd1', sim: false, options: {} },
    libc: () => {
      throw new Error('no kernel here');
    },
    log: pino({ level: 'silent' }),
    stateDir,
    hooks: { event: () => undefined, stateChanged: () => undefined, availability: () => undefined },
    reopenMinMs: 5,
    reopenMaxMs: 20,
  });
  runtimes.push(rt);
  return rt;
}

/** The next `n` error bodies a poll reports. */
function errors(n: number): { opts: Pick<PollOptions, 'onError'>; done: Promise<ErrorBody[]> } {
  const got: ErrorBody[] = [];
  let finish!: (v: ErrorBody[]) => void;
  const done = new Promise<ErrorBody[]>((r) => (finish = r));
  return {
    opts: {
      onError: (e) => {
        got.push(e);
        if (got.length === n) finish(got);
      },
    },
    done,
  };
}

describe('the poll service', () => {
  it('reports a failed run with the kernel error as device_error with its errno, request and path', async () => {
    const e = errors(2);
    const rt = await runtime((ctx) => {
      ctx.poll(
        'status',
        5,
        async () => {
          throw KernelError.of('EIO', { syscall: 'ioctl', request: 'MTIOCGET', path: '/dev/nst0' });
        },
        e.opts,
      );
    });
    await rt.start();
    const [first, second] = await e.done;
    expect(first).toMatchObject({ code: 'device_error', errno: 'EIO', request: 'MTIOCGET', path: '/dev/nst0' });
    expect(second).toEqual(first);
  });

  it('a run still waiting behind a long command gets busy, not a generic error, and is not queued twice', async () => {
    const e = errors(1);
    let runs = 0;
    const rt = await runtime((ctx) => {
      ctx.poll(
        'status',
        5,
        async () => {
          runs++;
        },
        { ...e.opts, timeoutMs: 30 },
      );
    });
    await rt.start();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const settled = new Promise((resolve) =>
      rt.submit({ id: 'long', label: 'rewind', timeoutMs: 60_000, run: () => held, settle: resolve }),
    );
    const [busy] = await e.done;
    expect(busy).toMatchObject({ code: 'busy' });
    expect(busy?.message).toContain("behind 'rewind'");
    // Ticks every 5 ms for the whole wait, yet never more than one run in the queue.
    expect(rt.queue.length).toBeLessThanOrEqual(1);
    release();
    await settled;
    expect(runs).toBe(0);
  });

  it('a run that outlives its timeout is `timeout`, and its work is told to stop', async () => {
    const e = errors(1);
    let aborted = false;
    const rt = await runtime((ctx) => {
      ctx.poll(
        'slow',
        5,
        (signal) =>
          new Promise((resolve) =>
            signal.addEventListener('abort', () => {
              aborted = true;
              resolve(undefined);
            }),
          ),
        { ...e.opts, timeoutMs: 20 },
      );
    });
    await rt.start();
    const [timeout] = await e.done;
    expect(timeout).toMatchObject({ code: 'timeout' });
    expect(aborted).toBe(true);
  });

  it('idleOnly: a tick that finds the device busy waits for the next one instead of queueing', async () => {
    let runs = 0;
    let ran!: () => void;
    const afterRelease = new Promise<void>((r) => (ran = r));
    const rt = await runtime((ctx) => {
      ctx.poll(
        'status',
        5,
        async () => {
          runs++;
          ran();
        },
        { idleOnly: true, timeoutMs: 20 },
      );
    });
    await rt.start();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    rt.submit({
      id: 'long',
      label: 'rewind',
      timeoutMs: 60_000,
      run: () => {
        started();
        return held;
      },
      settle: () => undefined,
    });
    await running;
    const before = runs;
    // Several ticks pass while the command holds the device: none is queued.
    await new Promise((r) => setTimeout(r, 50));
    expect(rt.queue.length).toBe(0);
    expect(runs).toBe(before);
    release();
    await afterRelease;
  });

  it('ends when the device is lost and starts again when it reopens; nothing runs while it is offline', async () => {
    let runs = 0;
    let lostCtx: DeviceContext<unknown> | undefined;
    const waiters: Array<() => void> = [];
    const rt = await runtime((ctx) => {
      lostCtx = ctx;
      ctx.poll('status', 5, async () => {
        runs++;
        for (const w of waiters.splice(0)) w();
      });
    });
    const nextRun = (): Promise<void> => new Promise((r) => waiters.push(r));
    await rt.start();
    await nextRun();
    const dev = rt.device as PollDevice;
    dev.present = false;
    lostCtx?.lost(new Error('unplugged'));
    expect(rt.online).toBe(false);
    const atLoss = runs;
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(atLoss);
    dev.present = true;
    await nextRun();
    expect(rt.online).toBe(true);
    expect(dev.opens).toBe(2);
  });

  it('refuses a period that is not above zero', async () => {
    let thrown: unknown;
    const rt = await runtime((ctx) => {
      try {
        ctx.poll('never', 0, async () => undefined);
      } catch (e) {
        thrown = e;
      }
    });
    await rt.start();
    expect(thrown).toBeInstanceOf(RangeError);
  });
});
