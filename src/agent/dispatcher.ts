/**
 * From a command message to exactly one result: topic → payload → dedupe →
 * limits → route → validate → the device's queue → result. Every path ends
 * in `respond`, once; nothing a sender can put in a topic or payload throws
 * past this file.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { CommandError, toErrorBody, type ErrorBody } from '../devices/errors.js';
import { DEFAULT_COMMAND_TIMEOUT_MS, type CommandContext } from '../devices/kind.js';
import { formatIssues } from '../schema/schema.js';
import type { InboundMessage } from '../transport/transport.js';
import type { DeviceRuntime } from './device-runtime.js';
import { packetTag, userKey, type CommandJournal } from './journal.js';
import { BatchFailed, runNodeCommand, type NodeCommandEnv } from './node-commands.js';
import { parsePayload, type PayloadResult } from './payload.js';
import { RAW_IOCTL_COMMAND, type RawIoctl } from './raw-ioctl.js';
import type { Outcome } from './queue.js';
import type { RateLimiter } from './rate-limit.js';
import { elapsedMs, encodeResult, errorResult, okResult, type CommandResult } from './result.js';
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
  /**
   * Publishes a finished result (`encoded`: its JSON) to its topic and the MQTT 5 response
   * topic; `delivered` once the broker has it.
   */
  readonly publish: (result: CommandResult, reply: Reply, encoded: string, delivered?: () => void) => void;
  /** Publishes a command's progress event. */
  readonly progress: (device: string, data: Record<string, unknown>) => void;
  /** Hears every result (the node state's commands per minute and last error). */
  readonly answered?: (result: CommandResult) => void;
}

/** The passthrough of a device, or `forbidden` when the config does not enable it there. */
function rawIoctlOf(rt: DeviceRuntime): RawIoctl {
  if (!rt.rawIoctl)
    throw new CommandError('forbidden', `raw ioctl passthrough is off for ${rt.id} (security.rawIoctl lists no requests for it)`);
  return rt.rawIoctl;
}

/** An ISO time for messages that never throws (toISOString does, past ±8.64e15 ms). */
function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** How one command message is being handled: where its result goes, and what the journal hears. */
interface Handling {
  readonly receivedAt: number;
  /** Epoch ms from MQTT 5 Message Expiry. */
  readonly mqttExpiry?: number;
  readonly done: (r: CommandResult) => void;
  readonly madeUpId?: string;
  /** Called when the device handler is about to run. */
  readonly started?: () => void;
}

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
      this.#run(address, parsePayload(payload, this.#o.maxPayloadBytes), { receivedAt: performance.now(), done: resolve });
    });
  }

  #handle(msg: InboundMessage, replayKey?: string): void {
    const address = parseCommandTopic(this.#o.topics, msg.topic);
    if (!address) return;
    // A group command for a device this node does not have is for other nodes.
    if (address.scope === 'device' && address.group && !this.#o.devices.has(address.device)) return;
    const reply = this.#replyFor(address, msg);
    const journal = this.#o.journal;
    const parsed = parsePayload(msg.payload, this.#o.maxPayloadBytes);
    const parsedId = parsed.ok ? parsed.command.id : parsed.id;
    // An id is the sender's, per command topic: the same id on two devices is two commands.
    const key = replayKey ?? (parsedId ? userKey(msg.topic, parsedId) : `g:${this.#newId()}`);

    if (!replayKey && msg.dup && parsedId && journal?.has(key)) {
      // QoS 1 redelivered a command that already ran: answer again, do not run again.
      this.stats.duplicates++;
      const previous = journal.result(key);
      if (previous) this.#o.publish(previous, reply, encodeResult(previous));
      return;
    }
    // Without an id, only the packet identifier tells a redelivery: of a command that ran, or that a crash
    // caught running (a hung handler, killed by the watchdog), answered already, never run again.
    const packet = !parsedId && parsed.ok && msg.packetId !== undefined && journal ? packetTag(msg.packetId, msg.payload) : undefined;
    if (!replayKey && msg.dup && packet && journal?.redelivered(msg.topic, packet)) {
      this.stats.duplicates++;
      return;
    }
    // Only a command that can run is worth its payload in the journal (a replay needs it); a
    // refused one with an id keeps just its result, for a redelivery; one without, nothing.
    const keep = parsed.ok || !key.startsWith('g:');
    if (!replayKey && parsed.ok) {
      journal?.accepted(key, {
        topic: msg.topic,
        payload: msg.payload.toString('base64'),
        receivedAtMs: Date.now(),
        ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}),
        ...(msg.correlationData ? { correlationData: msg.correlationData.toString('base64') } : {}),
        ...(packet ? { packet } : {}),
      });
    }
    this.#run(address, parsed, {
      receivedAt: msg.receivedAt,
      ...(msg.messageExpiryS !== undefined ? { mqttExpiry: Date.now() + msg.messageExpiryS * 1000 } : {}),
      done: (result) => {
        const encoded = encodeResult(result);
        if (keep) journal?.finished(key, result, encoded);
        this.#o.publish(result, reply, encoded, keep ? () => journal?.delivered(key) : undefined);
      },
      ...(key.startsWith('g:') ? { madeUpId: key.slice(2) } : {}),
      started: () => journal?.started(key),
    });
  }

  /**
   * After a restart: a command the crash caught running, or one the journal
   * cannot vouch for. It is not run (again: its effect may have happened); it
   * gets its one result, `message` saying why.
   */
  answerInterrupted(key: string, msg: InboundMessage, receivedAtMs: number, message: string): void {
    const address = parseCommandTopic(this.#o.topics, msg.topic);
    if (!address) return;
    const parsed = parsePayload(msg.payload, this.#o.maxPayloadBytes);
    const id = (parsed.ok ? parsed.command.id : parsed.id) ?? key.slice(2);
    const result = errorResult(
      {
        id,
        node: this.#o.topics.node,
        ...(address.scope === 'device' ? { device: address.device } : {}),
        command: address.command,
        ms: Math.max(0, Date.now() - receivedAtMs),
      },
      { code: 'canceled', message },
    );
    this.stats.failed++;
    const encoded = encodeResult(result);
    this.#o.journal?.finished(key, result, encoded);
    this.#o.publish(result, this.#replyFor(address, msg), encoded, () => this.#o.journal?.delivered(key));
  }

  /** After a restart: publishes again a result the broker had not confirmed when the process died. */
  redeliver(key: string, msg: InboundMessage, result: CommandResult, encoded: string): void {
    const address = parseCommandTopic(this.#o.topics, msg.topic);
    if (!address) return;
    this.#o.publish(result, this.#replyFor(address, msg), encoded, () => this.#o.journal?.delivered(key));
  }

  #replyFor(address: CommandAddress, msg: InboundMessage): Reply {
    const { topics } = this.#o;
    return {
      topic: address.scope === 'device' && address.validId ? deviceTopic(topics, address.device, 'result') : nodeTopic(topics, 'result'),
      ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}),
      ...(msg.correlationData ? { correlationData: msg.correlationData } : {}),
    };
  }

  #newId(): string {
    return `${this.#idPrefix}-${(++this.#seq).toString(36)}`;
  }

  #run(address: CommandAddress, parsed: PayloadResult, h: Handling): void {
    this.stats.received++;
    const device = address.scope === 'device' ? address.device : undefined;
    let id = h.madeUpId ?? this.#newId();
    let answered = false;
    const respond = (outcome: Outcome): void => {
      if (answered) return;
      answered = true;
      const base = {
        id,
        node: this.#o.topics.node,
        ...(device !== undefined ? { device } : {}),
        command: address.command,
        ms: elapsedMs(h.receivedAt),
      };
      let result: CommandResult;
      if (outcome.ok && outcome.value instanceof BatchFailed)
        result = errorResult(base, outcome.value.error, { steps: outcome.value.steps });
      else result = outcome.ok ? okResult(base, outcome.value) : errorResult(base, outcome.error);
      if (result.ok) this.stats.ok++;
      else this.stats.failed++;
      this.#o.answered?.(result);
      h.done(result);
    };
    const fail = (error: ErrorBody): void => respond({ ok: false, error });

    if (!parsed.ok) {
      if (parsed.id) id = parsed.id;
      return fail({ code: parsed.code, message: parsed.message });
    }
    const cmd = parsed.command;
    if (cmd.id) id = cmd.id;
    const expiresAt =
      cmd.expiresAt === undefined ? h.mqttExpiry : h.mqttExpiry === undefined ? cmd.expiresAt : Math.min(cmd.expiresAt, h.mqttExpiry);
    if (expiresAt !== undefined && Date.now() > expiresAt) {
      return fail({ code: 'expired', message: `arrived after it expired (${isoTime(expiresAt)})` });
    }

    try {
      if (address.scope === 'node') return this.#nodeCommand(address.command, cmd.args, cmd.timeoutMs, expiresAt, id, respond, h.started);
      if (!address.validId) throw new CommandError('unknown_device', `'${address.device}' is not a valid device id`);
      const rt = this.#o.devices.get(address.device);
      if (!rt) throw new CommandError('unknown_device', `no device '${address.device}' on node ${this.#o.topics.node}`);
      const own = Object.prototype.hasOwnProperty.call(rt.kind.commands, address.command) ? rt.kind.commands[address.command] : undefined;
      const raw = !own && address.command === RAW_IOCTL_COMMAND ? rawIoctlOf(rt) : undefined;
      const spec = own ?? raw?.spec;
      if (!spec) {
        throw new CommandError(
          'unknown_command',
          `'${address.command}' is not a command of ${rt.kind.kind} device ${rt.id} (${Object.keys(rt.kind.commands).join(', ')})`,
        );
      }
      if (!this.#o.limiter.take(rt.id))
        throw new CommandError('rate_limited', `more than the allowed commands per second for ${rt.id}; try again shortly`);
      const args = spec.args.parse(cmd.args);
      if (!args.ok) throw new CommandError('bad_args', formatIssues(args.issues), { issues: args.issues });
      raw?.authorize(args.value);
      if (!rt.online && rt.queue.length === 0 && !rt.queue.running) {
        throw new CommandError('unavailable', `${rt.id} cannot be used now (see its availability topic)`);
      }
      rt.submit({
        id,
        label: address.command,
        timeoutMs: cmd.timeoutMs ?? spec.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        run: (abort) => {
          h.started?.();
          return spec.run(rt.device, args.value, this.#context(rt, id, address.command, abort, cmd.timeoutMs));
        },
        settle: respond,
      });
    } catch (e) {
      fail(toErrorBody(e));
    }
  }

  #nodeCommand(
    command: string,
    args: unknown,
    timeoutMs: number | undefined,
    expiresAt: number | undefined,
    id: string,
    respond: (o: Outcome) => void,
    started?: () => void,
  ): void {
    if (!this.#o.limiter.take('\u0000node'))
      throw new CommandError('rate_limited', 'more than the allowed node commands per second; try again shortly');
    const r = runNodeCommand(this.#o.node, command, args, timeoutMs);
    if (r.kind === 'now') return respond({ ok: true, value: r.value });
    if (r.kind === 'async') {
      r.run().then(
        (value) => respond({ ok: true, value }),
        (e: unknown) => respond({ ok: false, error: toErrorBody(e) }),
      );
      return;
    }
    const rt = r.device;
    rt.submit({
      id,
      label: r.label,
      timeoutMs: r.timeoutMs,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      run: (abort) => {
        started?.();
        return r.run(abort.signal, this.#context(rt, id, command, abort));
      },
      settle: respond,
    });
  }

  #context(
    rt: DeviceRuntime,
    id: string,
    command: string,
    abort: { readonly signal: AbortSignal },
    requestedTimeoutMs?: number,
  ): CommandContext {
    return {
      id,
      // A getter, so that the signal is only made for handlers that use it.
      get signal() {
        return abort.signal;
      },
      ...(requestedTimeoutMs !== undefined ? { requestedTimeoutMs } : {}),
      log: rt.log,
      progress: (data) => this.#o.progress(rt.id, { ...data, id, command }),
    };
  }
}
