/**
 * A real mosquitto, started by the test on a free loopback port with its own
 * config and (optionally) persistence, plus mosquitto_pub/_sub: the real ones
 * where they are installed (always under CI), else the same command lines run
 * by MQTT.js (helpers/mqtt-cli.mjs), so suites that need *a* broker and *a*
 * client run with only Node installed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../bench/ports.mjs';
import { tempDir } from './agent.js';
import { deadline } from './deadline.js';
import { pub } from './mqtt-cli.mjs';
import { hasCommand, inCI, requireTools } from './tools.js';

export { freePort };

/**
 * For a suite about mosquitto itself (its ACL, bridges, TLS listener, crashes): true when
 * mosquitto and its clients are here; else it skips (outside CI) with `suite` in the summary.
 */
export function mosquittoItself(suite: string): boolean {
  return requireTools(suite, 'mosquitto', 'mosquitto_pub', 'mosquitto_sub');
}

/** Whether the real mosquitto is here to be the broker of suites that need one (else they use aedes). */
export function haveMosquittoBroker(): boolean {
  if (inCI) return requireTools('the broker of the integration tests', 'mosquitto');
  return hasCommand('mosquitto');
}

const MQTT_CLI = fileURLToPath(new URL('./mqtt-cli.mjs', import.meta.url));
let realClients: boolean | undefined;

/** The real mosquitto clients, or (outside CI, without them) MQTT.js running the same command lines. */
function useRealClients(): boolean {
  realClients ??= inCI
    ? requireTools('the MQTT clients of the integration tests', 'mosquitto_pub', 'mosquitto_sub', 'stdbuf')
    : hasCommand('mosquitto_pub') && hasCommand('mosquitto_sub') && hasCommand('stdbuf');
  return realClients;
}

/**
 * The command that runs `mosquitto_sub ARGS` with its output line-buffered (a pipe would
 * hold lines back) or `mosquitto_pub ARGS`: the real client, or MQTT.js in a child node.
 */
export function clientCommand(tool: 'mosquitto_pub' | 'mosquitto_sub', args: readonly string[]): [string, string[]] {
  if (useRealClients()) return tool === 'mosquitto_sub' ? ['stdbuf', ['-oL', tool, ...args]] : [tool, [...args]];
  return [process.execPath, [MQTT_CLI, tool === 'mosquitto_sub' ? 'sub' : 'pub', ...args]];
}

/**
 * A command line of the docs split as sh would: they quote only with '…'; anything
 * else sh would interpret (", \\, $, `, ;, &, |, <, >) throws rather than being misread.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|([^\s']+)/g)) {
    const bare = m[2];
    if (bare !== undefined && /["\\$`;&|<>]/.test(bare)) throw new Error(`shellWords: ${line} needs a real shell`);
    words.push(m[1] ?? bare ?? '');
  }
  return words;
}

/** Runs `mosquitto_pub ARGS` (asynchronously: the broker may live in this very process). */
export function runMosquittoPub(args: readonly string[], input?: string): Promise<{ status: number | null; stderr: string }> {
  if (!useRealClients()) return pub(args, input);
  return new Promise((resolve) => {
    const proc = spawn('mosquitto_pub', args, { stdio: [args.includes('-l') ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    proc.on('close', (status) => resolve({ status, stderr }));
    // A mosquitto_pub that fails early closes its stdin: that is its exit status to report, not an EPIPE to throw.
    proc.stdin?.on('error', () => undefined);
    proc.stdin?.end(input ?? '');
  });
}

/** Waits until something accepts TCP connections on the loopback `port`; fails early if `proc` exits. */
export async function waitListening(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + deadline(10_000);
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${proc.spawnfile} exited (${proc.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${proc.spawnfile} did not listen on ${port}: ${log()}`);
}

export interface MosquittoOptions {
  readonly port?: number;
  /** Keep sessions and retained messages across restarts (saved on every change). */
  readonly persistence?: boolean;
  /** Extra lines for mosquitto.conf (listeners, ACLs, TLS). When they define the listener, set `listenerIncluded`. */
  readonly extra?: readonly string[];
  readonly listenerIncluded?: boolean;
  readonly noDelay?: boolean;
}

export class Mosquitto {
  readonly name = 'mosquitto';
  /** mosquitto 2 speaks MQTT 5 (and 3.1.1). */
  readonly protocolVersion = 5;
  #proc: ChildProcess | undefined;
  #log = '';
  readonly dir = tempDir('dev2mqtt-mosq-');

  private constructor(
    readonly port: number,
    private readonly o: MosquittoOptions,
  ) {
    // Started as root, mosquitto drops to its own user: it must still be able to write its persistence file here.
    chmodSync(this.dir, 0o777);
  }

  static async start(o: MosquittoOptions = {}): Promise<Mosquitto> {
    const m = new Mosquitto(o.port ?? (await freePort()), o);
    await m.start();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get log(): string {
    return this.#log;
  }

  async start(): Promise<void> {
    const conf = path.join(this.dir, 'mosquitto.conf');
    const lines = [
      ...(this.o.listenerIncluded ? [] : [`listener ${this.port} 127.0.0.1`, 'allow_anonymous true']),
      `set_tcp_nodelay ${this.o.noDelay === false ? 'false' : 'true'}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'max_queued_messages 100000',
      ...(this.o.persistence
        ? ['persistence true', `persistence_location ${this.dir}/`, 'autosave_interval 1', 'autosave_on_changes true']
        : []),
      ...(this.o.extra ?? []),
    ];
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      this.#log += d.toString();
    });
    this.#proc = proc;
    await waitListening(this.port, proc, () => this.#log);
  }

  /** SIGTERM (a clean stop that saves persistence) or SIGKILL (a crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.#proc;
    // A process killed by a signal has no exit code: stopping it again must not wait for an exit that has been.
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }
}

export interface SubOptions {
  readonly count: number;
  readonly timeoutS?: number;
  readonly v5?: boolean;
  readonly format?: string;
  /** Skip retained messages. */
  readonly noRetained?: boolean;
}

/**
 * Runs mosquitto_sub until `count` messages came (or the timeout). Resolves
 * once it is subscribed — the returned promise `lines` gives the output.
 */
export async function mosquittoSub(
  port: number,
  topics: string | string[],
  o: SubOptions,
): Promise<{ lines: Promise<string[]>; proc: ChildProcess }> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-C', String(o.count), '-W', String(deadline(o.timeoutS ?? 30))];
  for (const t of Array.isArray(topics) ? topics : [topics]) args.push('-t', t);
  if (o.v5) args.push('-V', 'mqttv5');
  if (o.noRetained) args.push('-R');
  args.push(...(o.format ? ['-F', o.format] : ['-v']));
  // -d prints the SUBACK, which tells us the subscription is live before we publish.
  args.push('-d');
  // mosquitto_sub writes through stdio, block-buffered into a pipe: line-buffered, SUBACK shows at once.
  const [cmd, cmdArgs] = clientCommand('mosquitto_sub', args);
  const proc = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let subscribed: () => void = () => undefined;
  const ready = new Promise<void>((r) => {
    subscribed = r;
  });
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('SUBACK')) subscribed();
  });
  const lines = new Promise<string[]>((resolve) => {
    // 'close', not 'exit': the last lines may still be in the pipe when the process has exited.
    proc.on('close', () => resolve(out.split('\n').filter((l) => l && !l.startsWith('Client ') && !l.startsWith('Subscribed ('))));
  });
  await Promise.race([ready, lines]);
  return { lines, proc };
}

/**
 * Runs mosquitto_pub (asynchronously: the broker may live in this very process).
 * `message`: a string (-m), null (one message per line of `input`, -l), or bytes (sent from a file, -f).
 */
export function mosquittoPub(
  port: number,
  topic: string,
  message: string | Buffer | null,
  extra: string[] = [],
  input?: string,
): Promise<{ status: number | null; stderr: string }> {
  let source: string[];
  if (message === null) source = ['-l'];
  else if (typeof message === 'string') source = ['-m', message];
  else {
    const file = path.join(tempDir('dev2mqtt-pub-'), 'payload');
    writeFileSync(file, message);
    source = ['-f', file];
  }
  return runMosquittoPub(['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', '1', ...source, ...extra], input);
}
