/**
 * Node commands on `{base}/{node}/cmd/{command}`: ping, describe, batch, cancel,
 * announce (every retained topic and the Home Assistant discovery again).
 * batch runs its steps as one job in the device's queue, so nothing else
 * reaches the device between them, and stops at the first error.
 */
import { CommandError, toErrorBody, type ErrorBody } from '../devices/errors.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, type CommandContext } from '../devices/kind.js';
import { formatIssues, s, type Issue } from '../schema/schema.js';
import type { DeviceRuntime } from './device-runtime.js';
import { elapsedMs } from './result.js';

export interface NodeCommandEnv {
  readonly node: string;
  readonly version: string;
  readonly startedAt: number;
  readonly devices: ReadonlyMap<string, DeviceRuntime>;
  readonly groups: readonly string[];
  describe(): unknown;
  /** Publishes the retained topics and discovery again; resolves to what it published. */
  announce(): Promise<unknown>;
}

/** How a node command finishes: at once, or as a job on a device's queue. */
export type NodeCommandRun =
  | { readonly kind: 'now'; readonly value: unknown }
  | { readonly kind: 'async'; run(): Promise<unknown> }
  | {
      readonly kind: 'device';
      readonly device: DeviceRuntime;
      readonly label: string;
      readonly timeoutMs: number;
      run(signal: AbortSignal, ctx: Omit<CommandContext, 'signal'>): Promise<unknown>;
    };

export interface StepRecord {
  readonly command: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: ErrorBody;
  readonly ms: number;
}

/**
 * A batch that stopped at a failing step, returned (not thrown) so the result
 * can carry every step in `result.steps` and the failing one in `error`.
 */
export class BatchFailed extends Error {
  constructor(
    readonly error: ErrorBody,
    readonly steps: readonly StepRecord[],
  ) {
    super(error.message);
  }
}

const batchArgs = s.object({
  device: s.string({ minLength: 1, maxLength: 64 }),
  steps: s.array(s.object({ command: s.string({ minLength: 1, maxLength: 64 }), args: s.any().optional() }), {
    minItems: 1,
    maxItems: 100,
  }),
});
const cancelArgs = s.object({ device: s.string({ minLength: 1, maxLength: 64 }), id: s.string({ minLength: 1, maxLength: 128 }) });

function deviceOf(env: NodeCommandEnv, id: string): DeviceRuntime {
  const d = env.devices.get(id);
  if (!d) throw new CommandError('unknown_device', `no device '${id}' on node ${env.node}`);
  return d;
}

function parseArgs<T>(schema: { parse(v: unknown): { ok: true; value: T } | { ok: false; issues: readonly Issue[] } }, args: unknown): T {
  const r = schema.parse(args);
  if (!r.ok) throw new CommandError('bad_args', formatIssues(r.issues), { issues: r.issues });
  return r.value;
}

function batch(env: NodeCommandEnv, rawArgs: unknown, timeoutMs: number | undefined): NodeCommandRun {
  const a = parseArgs(batchArgs, rawArgs);
  const device = deviceOf(env, a.device);
  const issues: Issue[] = [];
  const steps = a.steps.map((step, i) => {
    // Own commands only: a step named `constructor` must not find Object.prototype's.
    const spec = Object.hasOwn(device.kind.commands, step.command) ? device.kind.commands[step.command] : undefined;
    if (!spec) {
      issues.push({
        path: `steps[${i}].command`,
        message: `'${step.command}' is not a command of ${device.kind.kind} (${Object.keys(device.kind.commands).join(', ')})`,
      });
      return undefined;
    }
    const parsed = spec.args.parse(step.args === undefined ? {} : step.args, `steps[${i}].args`);
    if (!parsed.ok) {
      issues.push(...parsed.issues);
      return undefined;
    }
    return { command: step.command, spec, args: parsed.value };
  });
  if (issues.length) throw new CommandError('bad_args', formatIssues(issues), { issues });
  const ready = steps as NonNullable<(typeof steps)[number]>[];
  const total = timeoutMs ?? ready.reduce((sum, st) => sum + (st.spec.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS), 0);
  return {
    kind: 'device',
    device,
    label: 'batch',
    timeoutMs: total,
    async run(signal, ctx) {
      const done: StepRecord[] = [];
      for (const [i, st] of ready.entries()) {
        const t0 = performance.now();
        if (signal.aborted)
          return new BatchFailed({ code: 'canceled', message: `batch stopped before step ${i + 1} (${st.command})` }, done);
        try {
          const result = await st.spec.run(device.device, st.args, { ...ctx, signal });
          done.push({ command: st.command, ok: true, result: result ?? {}, ms: elapsedMs(t0) });
        } catch (e) {
          const error = toErrorBody(e);
          done.push({ command: st.command, ok: false, error, ms: elapsedMs(t0) });
          return new BatchFailed({ ...error, message: `step ${i + 1} (${st.command}) failed: ${error.message}` }, done);
        }
      }
      return { steps: done };
    },
  };
}

export function runNodeCommand(env: NodeCommandEnv, command: string, args: unknown, timeoutMs: number | undefined): NodeCommandRun {
  switch (command) {
    case 'ping':
      parseArgs(s.none(), args);
      return {
        kind: 'now',
        value: {
          pong: true,
          node: env.node,
          version: env.version,
          uptimeS: Math.round((Date.now() - env.startedAt) / 1000),
          ts: Date.now(),
        },
      };
    case 'describe':
      parseArgs(s.none(), args);
      return { kind: 'now', value: env.describe() };
    case 'cancel': {
      const a = parseArgs(cancelArgs, args);
      const device = deviceOf(env, a.device);
      if (!device.queue.cancel(a.id)) {
        const running = device.queue.running;
        const why = running?.id === a.id ? 'it is already running' : 'no such command is waiting';
        throw new CommandError('bad_args', `cannot cancel '${a.id}' on ${a.device}: ${why}`);
      }
      return { kind: 'now', value: { canceled: a.id, device: a.device } };
    }
    case 'batch':
      return batch(env, args, timeoutMs);
    case 'announce':
      parseArgs(s.none(), args);
      return { kind: 'async', run: () => env.announce() };
    default:
      throw new CommandError('unknown_command', `'${command}' is not a node command (ping, describe, batch, cancel, announce)`);
  }
}
