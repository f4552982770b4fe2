/**
 * A DeviceContext for testing a kind without the agent or MQTT, built by the
 * same code the runtime uses (src/devices/context.ts: the kind's sim is
 * imported when `sim` is set; sysfs is rooted at the `sysfsRoot` option):
 * events, state changes and losses are recorded; enqueue runs the work at once
 * (one at a time, like the agent's per-device queue), and so do polls, through
 * the runtime's own poll service.
 */
import { pino } from 'pino';
import { Polls } from '../../src/agent/polls.js';
import { deviceContext, type ContextBase } from '../../src/devices/context.js';
import { toErrorBody } from '../../src/devices/errors.js';
import type { AnyKind, CommandContext, Device, DeviceContext, DeviceKind } from '../../src/devices/kind.js';
import type { Kernel } from '../../src/kernel/kernel.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import type { Sysfs } from '../../src/kernel/sysfs.js';
import { formatIssues } from '../../src/schema/schema.js';
import { tempDir } from './temp.js';

export interface Recorded {
  readonly events: Array<{ type: string; ts: number; [k: string]: unknown }>;
  stateChanges: number;
  readonly lost: Error[];
}

export interface TestDevice<D extends Device> {
  readonly device: D;
  readonly ctx: DeviceContext<unknown>;
  readonly recorded: Recorded;
  readonly abort: AbortController;
  /** Validates args with the command's schema, then runs it (as the dispatcher would). */
  run(command: string, args?: unknown, opts?: { signal?: AbortSignal; requestedTimeoutMs?: number }): Promise<unknown>;
}

/** The same context, its kernel (still made on first use) passed through `wrap`. */
function withWrappedKernel(ctx: DeviceContext<unknown>, wrap: (k: Kernel) => Kernel): DeviceContext<unknown> {
  let kernel: Kernel | undefined;
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(ctx)) as DeviceContext<unknown>;
  Object.defineProperty(out, 'kernel', { get: () => (kernel ??= wrap(ctx.kernel)), enumerable: true });
  return out;
}

export async function makeTestDevice<O, D extends Device>(
  kind: DeviceKind<O, D>,
  cfg: {
    id?: string;
    sim?: boolean;
    options?: unknown;
    kernel?: Kernel;
    sysfs?: Sysfs;
    procfs?: Sysfs;
    stateDir?: string;
    /** Wraps the kernel the device gets (its sim's, a given one, or libc): to watch or answer its requests (kernel-hook.ts). */
    wrapKernel?: (k: Kernel) => Kernel;
    /** Where the device's log goes (at info level); silent by default. */
    logStream?: NodeJS.WritableStream;
  },
): Promise<TestDevice<D>> {
  const sim = cfg.sim ?? false;
  const parsed = kind.options(sim).parse(cfg.options ?? {}, 'options');
  if (!parsed.ok) throw new Error(`bad options: ${formatIssues(parsed.issues)}`);
  const recorded: Recorded = { events: [], stateChanges: 0, lost: [] };
  const abort = new AbortController();
  const log = cfg.logStream ? pino({ level: 'info' }, cfg.logStream) : pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let chain: Promise<unknown> = Promise.resolve();
  const polls = new Polls({
    run: async (_label, work) => {
      const next = chain.then(() => work(abort.signal));
      chain = next.catch(() => undefined);
      return next.then(
        (value) => ({ ok: true, value }),
        (e: unknown) => ({ ok: false, error: toErrorBody(e) }),
      );
    },
    active: () => !abort.signal.aborted,
    idle: () => true,
    log,
  });
  abort.signal.addEventListener('abort', () => polls.stopAll(), { once: true });
  const base: ContextBase = {
    id: cfg.id ?? `${kind.kind}0`,
    name: cfg.id ?? `${kind.kind}0`,
    kind: kind.kind,
    options: parsed.value,
    sim,
    log,
    stateDir: cfg.stateDir ?? tempDir(`dev2mqtt-${kind.kind}-`),
    signal: abort.signal,
    emit: (type: string, data: Record<string, unknown> = {}) => void recorded.events.push({ ...data, type, ts: Date.now() }),
    stateChanged: () => void recorded.stateChanges++,
    lost: (reason: Error) => void recorded.lost.push(reason),
    enqueue: <T>(_label: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      const next = chain.then(() => work(abort.signal));
      chain = next.catch(() => undefined);
      return next;
    },
    poll: (label, everyMs, work, opts) => polls.add(label, everyMs, work, opts),
  };
  // A test may bring its own kernel or trees (recorded ones, a sim it drives) in place of the kind's sim.
  const given =
    cfg.kernel || cfg.sysfs || cfg.procfs
      ? {
          ...(cfg.kernel ? { kernel: cfg.kernel } : {}),
          ...(cfg.sysfs ? { sysfs: cfg.sysfs } : {}),
          ...(cfg.procfs ? { procfs: cfg.procfs } : {}),
        }
      : undefined;
  const made = await deviceContext(kind as AnyKind, base, () => new LibcKernel(), given);
  const ctx = (cfg.wrapKernel ? withWrappedKernel(made, cfg.wrapKernel) : made) as DeviceContext<O>;
  const device = kind.create(ctx);
  const run = async (
    command: string,
    args: unknown = {},
    opts: { signal?: AbortSignal; requestedTimeoutMs?: number } = {},
  ): Promise<unknown> => {
    const spec = kind.commands[command];
    if (!spec) throw new Error(`no command ${command}`);
    const a = spec.args.parse(args);
    if (!a.ok) throw new Error(`bad args: ${formatIssues(a.issues)}`);
    const cctx: CommandContext = {
      id: 'test',
      signal: opts.signal ?? abort.signal,
      ...(opts.requestedTimeoutMs !== undefined ? { requestedTimeoutMs: opts.requestedTimeoutMs } : {}),
      log,
      progress: (data) => void recorded.events.push({ ...data, type: 'progress', ts: Date.now() }),
    };
    return spec.run(device, a.value, cctx);
  };
  return { device, ctx: ctx, recorded, abort, run };
}
