/**
 * A DeviceContext for testing a kind without the agent or MQTT: events,
 * state changes and losses are recorded; enqueue runs the work at once (one
 * at a time, like the agent's per-device queue).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { Kernel } from '../../src/kernel/kernel.js';
import { LibcKernel } from '../../src/kernel/libc.js';
import type { CommandContext, Device, DeviceContext, DeviceKind } from '../../src/devices/kind.js';
import { formatIssues } from '../../src/schema/schema.js';

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

export function makeTestDevice<O, D extends Device>(
  kind: DeviceKind<O, D>,
  cfg: {
    id?: string;
    sim?: boolean;
    options?: unknown;
    kernel?: Kernel;
    stateDir?: string;
    /** Wraps the kernel the device gets (its sim's, or libc): to watch or answer its requests (kernel-hook.ts). */
    wrapKernel?: (k: Kernel) => Kernel;
  },
): TestDevice<D> {
  const sim = cfg.sim ?? false;
  const parsed = kind.options(sim).parse(cfg.options ?? {}, 'options');
  if (!parsed.ok) throw new Error(`bad options: ${formatIssues(parsed.issues)}`);
  const recorded: Recorded = { events: [], stateChanges: 0, lost: [] };
  const abort = new AbortController();
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  let chain: Promise<unknown> = Promise.resolve();
  const base = {
    id: cfg.id ?? `${kind.kind}0`,
    name: cfg.id ?? `${kind.kind}0`,
    kind: kind.kind,
    options: parsed.value,
    sim,
    log,
    stateDir: cfg.stateDir ?? mkdtempSync(path.join(tmpdir(), `dev2mqtt-${kind.kind}-`)),
    signal: abort.signal,
    emit: (type: string, data: Record<string, unknown> = {}) => void recorded.events.push({ ...data, type, ts: Date.now() }),
    stateChanged: () => void recorded.stateChanges++,
    lost: (reason: Error) => void recorded.lost.push(reason),
    enqueue: <T>(_label: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      const next = chain.then(() => work(abort.signal));
      chain = next.catch(() => undefined);
      return next;
    },
  };
  const inner = cfg.kernel ?? (sim && kind.simKernel ? kind.simKernel(base) : new LibcKernel());
  const kernel = cfg.wrapKernel ? cfg.wrapKernel(inner) : inner;
  const ctx: DeviceContext<O> = { ...base, kernel };
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
