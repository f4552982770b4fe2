/**
 * From a command message to exactly one result: topic → payload → dedupe →
 * limits → route → validate → the device's queue → result. Every path ends
 * in `respond`, once; nothing a sender can put in a topic or payload throws
 * past this file.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { CommandError, toErrorBody, type ErrorBody } from '../devices/errors.js';
import type { CommandContext } from '../devices/kind.js';
import { formatIssues } from '../schema/schema.js';
import type { InboundMessage } from '../transport/transport.js';
import type { DeviceRuntime } from './device-runtime.js';
import type { CommandJournal } from './journal.js';
import { BatchFailed, runNodeCommand, type NodeCommandEnv } from './node-commands.js';
import { parsePayload, type PayloadResult } from './payload.js';
import type { Outcome } from './queue.js';
import type { RateLimiter } from './rate-limit.js';
import { elapsedMs, errorResult, okResult, type CommandResult } from './result.js';
import { deviceTopic, nodeTopic, parseCommandTopic, type CommandAddress, type TopicScheme } from './topics.js';

export interface Reply {
  readonly topic: string;
  readonly responseTopic?: string;
  readonly correlationData?: Buffer;
}

export interface DispatcherOptions {
  readonly topics: TopicScheme;
  readonly devices: ReadonlyMap<string, DeviceRuntime>;
  readonly journal?: CommandJournal;
  readonly limiter: RateLimiter;
  readonly maxPayloadBytes: number;
  readonly node: NodeCommandEnv;
  readonly log: Logger;
  /** Publishes a finished result to its topic (and the MQTT 5 response topic). */
  readonly publish: (result: CommandResult, reply: Reply) => void;
  /** Publishes a command's progress event. */
  readonly progress: (device: string, data: Record<string, unknown>) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export interface Stats {
  received: number;
  ok: number;
  failed: number;
  duplicates: number;
}

export class Dispatcher {
  readonly stats: Stats = { received: 0, ok: 0, failed: 0, duplicates: 0 };
  readonly #o: DispatcherOptions;
  readonly #idPrefix = randomBytes(3).toString('hex');
  #seq = 0;

  constructor(o: DispatcherOptions) {
    this.#o = o;
  }

  /** An MQTT message. `replayKey` marks a journaled command being run after a restart. */
  handle(msg: InboundMessage, replayKey?: string): void {
    try {
      this.#handle(msg, replayKey);
    } catch (e) {
      // Only a bug gets here; the message still gets its one result if we can address it.
      this.#o.log.error({ err: e, topic: msg.topic }, 'dispatcher failed on a message');
    }
  }

  /** The same path without MQTT, for `dev2mqtt exec`: resolves with the result. */
  execute(device: string, command: string, payload: Buffer): Promise<CommandResult> {
    return new Promise((resolve) => {
      const address: CommandAddress = { scope: 'device', device, validId: true, command };
      this.#run(address, parsePayload(payload, this.#o.maxPayloadBytes), performance.now(), undefined, (r) => resolve(r));
    });
  }

  #handle(msg: InboundMessage, replayKey?: string): void {
    const address = parseCommandTopic(this.#o.topics, msg.topic);
    if (!address) return;
    // A group command for a device this node does not have is for other nodes.
    if (address.scope === 'device' && address.group && !this.#o.devices.has(address.device)) return;
    const { topics } = this.#o;
    const reply: Reply = {
      topic: address.scope === 'device' && address.validId ? deviceTopic(topics, address.device, 'result') : nodeTopic(topics, 'result'),
      ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}),
      ...(msg.correlationData ? { correlationData: msg.correlationData } : {}),
    };
    const journal = this.#o.journal;
    const parsed = parsePayload(msg.payload, this.#o.maxPayloadBytes);
    const parsedId = parsed.ok ? parsed.command.id : parsed.id;
    const key = replayKey ?? (parsedId ? `u:${parsedId}` : `g:${this.#newId()}`);

    if (!replayKey && msg.dup && parsedId && journal?.has(key)) {
      // QoS 1 redelivered a command that already ran: answer again, do not run again.
      this.stats.duplicates++;
      const previous = journal.result(key);
      if (previous) this.#o.publish(previous, reply);
      return;
    }
    if (!replayKey) {
      journal?.accepted(key, {
        topic: msg.topic, payload: msg.payload.toString('base64'), receivedAtMs: Date.now(),
        ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}),
        ...(msg.correlationData ? { correlationData: msg.correlationData.toString('base64') } : {}),
      });
    }
    const expiry = msg.messageExpiryS !== undefined ? Date.now() + msg.messageExpiryS * 1000 : undefined;
    this.#run(address, parsed, msg.receivedAt, expiry, (result) => {
      journal?.finished(key, result);
      this.#o.publish(result, reply);
    }, key.startsWith('g:') ? key.slice(2) : undefined);
  }

  #newId(): string {
    return `${this.#idPrefix}-${(++this.#seq).toString(36)}`;
  }

  #run(address: CommandAddress, parsed: PayloadResult, receivedAt: number, mqttExpiry: number | undefined, done: (r: CommandResult) => void, madeUpId?: string): void {
    this.stats.received++;
    const device = address.scope === 'device' ? address.device : undefined;
    let id = madeUpId ?? this.#newId();
    let answered = false;
    const respond = (outcome: Outcome): void => {
      if (answered) return;
      answered = true;
      const base = { id, node: this.#o.topics.node, ...(device !== undefined ? { device } : {}), command: address.command, ms: elapsedMs(receivedAt) };
      let result: CommandResult;
      if (outcome.ok && outcome.value instanceof BatchFailed) result = errorResult(base, outcome.value.error, { steps: outcome.value.steps });
      else result = outcome.ok ? okResult(base, outcome.value) : errorResult(base, outcome.error);
      if (result.ok) this.stats.ok++;
      else this.stats.failed++;
      done(result);
    };
    const fail = (error: ErrorBody): void => respond({ ok: false, error });

    if (!parsed.ok) {
      if (parsed.id) id = parsed.id;
      return fail({ code: parsed.code, message: parsed.message });
    }
    const cmd = parsed.command;
    if (cmd.id) id = cmd.id;
    const expiresAt = [cmd.expiresAt, mqttExpiry].filter((t): t is number => t !== undefined).reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined);
    if (expiresAt !== undefined && Date.now() > expiresAt) {
      return fail({ code: 'expired', message: `arrived after it expired (${new Date(expiresAt).toISOString()})` });
    }

    try {
      if (address.scope === 'node') return this.#nodeCommand(address.command, cmd.args, cmd.timeoutMs, expiresAt, id, respond);
      if (!address.validId) throw new CommandError('unknown_device', `'${address.device}' is not a valid device id`);
      const rt = this.#o.devices.get(address.device);
      if (!rt) throw new CommandError('unknown_device', `no device '${address.device}' on node ${this.#o.topics.node}`);
      const spec = rt.kind.commands[address.command];
      if (!spec || !Object.prototype.hasOwnProperty.call(rt.kind.commands, address.command)) {
        throw new CommandError('unknown_command', `'${address.command}' is not a command of ${rt.kind.kind} device ${rt.id} (${Object.keys(rt.kind.commands).join(', ')})`);
      }
      if (!this.#o.limiter.take(rt.id)) throw new CommandError('rate_limited', `more than the allowed commands per second for ${rt.id}; try again shortly`);
      const args = spec.args.parse(cmd.args);
      if (!args.ok) throw new CommandError('bad_args', formatIssues(args.issues), { issues: args.issues });
      if (!rt.online && rt.queue.length === 0 && !rt.queue.running) {
        throw new CommandError('unavailable', `${rt.id} cannot be used now (see its availability topic)`);
      }
      rt.submit({
        id,
        label: address.command,
        timeoutMs: cmd.timeoutMs ?? spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        run: (signal) => spec.run(rt.device, args.value, this.#context(rt, id, address.command, signal, cmd.timeoutMs)),
        settle: respond,
      });
    } catch (e) {
      fail(toErrorBody(e));
    }
  }

  #nodeCommand(command: string, args: unknown, timeoutMs: number | undefined, expiresAt: number | undefined, id: string, respond: (o: Outcome) => void): void {
    if (!this.#o.limiter.take('\u0000node')) throw new CommandError('rate_limited', 'more than the allowed node commands per second; try again shortly');
    const r = runNodeCommand(this.#o.node, command, args, timeoutMs);
    if (r.kind === 'now') return respond({ ok: true, value: r.value });
    const rt = r.device;
    rt.submit({
      id,
      label: r.label,
      timeoutMs: r.timeoutMs,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      run: (signal) => r.run(signal, this.#context(rt, id, command, signal)),
      settle: respond,
    });
  }

  #context(rt: DeviceRuntime, id: string, command: string, signal: AbortSignal, requestedTimeoutMs?: number): CommandContext {
    return {
      id,
      signal,
      ...(requestedTimeoutMs !== undefined ? { requestedTimeoutMs } : {}),
      log: rt.log,
      progress: (data) => this.#o.progress(rt.id, { ...data, id, command }),
    };
  }
}
