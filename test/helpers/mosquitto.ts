/**
 * A real mosquitto, started by the test on a free loopback port with its own
 * config and (optionally) persistence, plus the real mosquitto_pub/_sub.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../bench/ports.mjs';
import { tempDir } from './agent.js';
import { requireTool } from './tools.js';

export { freePort };

export function haveMosquitto(): boolean {
  return (
    requireTool('mosquitto', 'the broker of the integration tests') &&
    requireTool('mosquitto_pub', 'publishes as users do') &&
    requireTool('mosquitto_sub', 'subscribes as users do')
  );
}

/** Waits until something accepts TCP connections on the loopback `port`; fails early if `proc` exits. */
export async function waitListening(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 500; i++) {
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
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-C', String(o.count), '-W', String(o.timeoutS ?? 30)];
  for (const t of Array.isArray(topics) ? topics : [topics]) args.push('-t', t);
  if (o.v5) args.push('-V', 'mqttv5');
  if (o.noRetained) args.push('-R');
  args.push(...(o.format ? ['-F', o.format] : ['-v']));
  // -d prints the SUBACK, which tells us the subscription is live before we publish.
  args.push('-d');
  // mosquitto_sub writes through stdio, block-buffered into a pipe: line-buffer it so SUBACK shows at once.
  const proc = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-q', '1', ...source, ...extra];
  return new Promise((resolve) => {
    const proc = spawn('mosquitto_pub', args, { stdio: [message === null ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
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
