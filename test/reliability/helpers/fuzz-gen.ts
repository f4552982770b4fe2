/**
 * Hostile MQTT messages for the fuzz test, from a seeded PRNG (the same seed
 * gives the same messages): random topics under the base, random bytes,
 * payloads around and over security.maxPayloadBytes, deeply nested JSON,
 * __proto__/constructor/prototype keys, wrong types, unknown commands and
 * devices, ids of every shape. Each message says whether it reaches a command
 * topic of the node — worked out here from the contract's topic table, not
 * from the agent's code — and so must get exactly one result.
 */

/** mulberry32: small, fast, and good enough to spread inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzTarget {
  readonly base: string;
  readonly node: string;
  readonly groups: readonly string[];
  /** Device id → its command names and their argument names. */
  readonly devices: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
  readonly nodeCommands: readonly string[];
  readonly maxPayloadBytes: number;
  /** Commands never to send with valid-looking arguments (they hold a device for long). */
  readonly avoid: ReadonlySet<string>;
}

export interface FuzzMessage {
  readonly topic: string;
  readonly payload: Buffer;
  /** True when the topic is a command topic this node answers: exactly one result is due. */
  readonly answered: boolean;
  readonly kind: string;
}

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const chance = (r: Rng, p: number): boolean => r() < p;

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NASTY_SEGMENTS = [
  '..',
  '.',
  '...',
  '%2e%2e',
  '~',
  '/etc',
  'con',
  'nul',
  'a b',
  'ünïcødé',
  '🙂',
  '\u202e',
  'x'.repeat(300),
  '$SYS',
  'cmd',
  'group',
  'result',
  'state',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  '-',
  '_',
];
const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'id',
  'expiresAt',
  'timeoutMs',
  'value',
  'args',
  'steps',
  'device',
  'command',
];

/** A topic level: printable, never a wildcard, never a control character (brokers drop those clients). */
function segment(r: Rng): string {
  if (chance(r, 0.35)) return pick(r, NASTY_SEGMENTS);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:;,=@!$%&()[]{}<>?*\'"\\ éß漢😀';
  const chars = [...alphabet];
  return Array.from({ length: int(r, 1, 24) }, () => pick(r, chars)).join('');
}

function scalar(r: Rng): unknown {
  return pick(r, [
    () => int(r, -10, 10),
    () => int(r, 0, 10),
    () => 2 ** 31,
    () => -(2 ** 53),
    () => 1e308,
    () => 3.5,
    () => 0.1,
    () => true,
    () => false,
    () => null,
    () => '',
    () => 'ON',
    () => 'OFF',
    () => 'x'.repeat(int(r, 0, 300)),
    () => segment(r),
    () => '\u0000',
    () => '{"nested":"json"}',
    () => '2020-01-01T00:00:00Z',
  ])();
}

function value(r: Rng, depth: number): unknown {
  if (depth > 4 || chance(r, 0.55)) return scalar(r);
  if (chance(r, 0.5)) return Array.from({ length: int(r, 0, 4) }, () => value(r, depth + 1));
  return object(r, depth + 1);
}

/** An object as JSON text, so keys like __proto__ are written as they come (not swallowed by a literal). */
function objectText(r: Rng, depth: number, argNames: readonly string[] = []): string {
  const n = int(r, 0, 5);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = chance(r, 0.4) && argNames.length ? pick(r, argNames) : chance(r, 0.5) ? pick(r, NASTY_KEYS) : segment(r);
    let v: string;
    if ((key === '__proto__' || key === 'constructor' || key === 'prototype') && chance(r, 0.7)) {
      v = '{"polluted":true,"prototype":{"polluted":true},"__proto__":{"polluted":true}}';
    } else if (key === 'id' && chance(r, 0.7)) {
      v = JSON.stringify(pick(r, [`id-${int(r, 0, 1e6)}`, int(r, 0, 1e6), 'x'.repeat(int(r, 120, 140)), '', { a: 1 }, null]));
    } else if (key === 'timeoutMs' && chance(r, 0.5)) {
      v = JSON.stringify(pick(r, [1, 5, 50, -1, 0, 1e12, 'soon', 2.5]));
    } else if (key === 'steps') {
      v = JSON.stringify(Array.from({ length: int(r, 0, 4) }, () => ({ command: segment(r), args: value(r, depth + 1) })));
    } else {
      v = depth < 3 && chance(r, 0.2) ? objectText(r, depth + 1) : (JSON.stringify(value(r, depth)) ?? 'null');
    }
    parts.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

function object(r: Rng, depth: number): unknown {
  return JSON.parse(objectText(r, depth)) as unknown;
}

function payload(r: Rng, t: FuzzTarget, argNames: readonly string[]): { bytes: Buffer; kind: string } {
  const roll = r();
  if (roll < 0.12) return { bytes: Buffer.from(Array.from({ length: int(r, 0, 512) }, () => int(r, 0, 255))), kind: 'random bytes' };
  if (roll < 0.16) {
    // Around and over the limit: a JSON string value, or bytes.
    const size = chance(r, 0.5)
      ? int(r, t.maxPayloadBytes - 4096, t.maxPayloadBytes)
      : int(r, t.maxPayloadBytes + 1, t.maxPayloadBytes + 20_000);
    const text = chance(r, 0.5) ? `{"value":"${'y'.repeat(Math.max(0, size - 12))}"}` : 'z'.repeat(size);
    return { bytes: Buffer.from(text), kind: size > t.maxPayloadBytes ? 'over the limit' : 'near the limit' };
  }
  if (roll < 0.22) {
    const depth = int(r, 100, Math.min(30_000, Math.floor(t.maxPayloadBytes / 6)));
    const text = chance(r, 0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    // Deep inside an argument, or as the whole payload.
    return { bytes: Buffer.from(chance(r, 0.5) ? `{"value":${text}}` : text), kind: 'deep JSON' };
  }
  if (roll < 0.3) return { bytes: Buffer.from(String(JSON.stringify(scalar(r)) ?? '')), kind: 'scalar' };
  if (roll < 0.34)
    return {
      bytes: Buffer.from(pick(r, ['ON', 'off', '128', 'hello world', '  ', '{', '{"a":', '[]', 'null', '"\\ud800"', '{"id":"dup"}'])),
      kind: 'plain',
    };
  if (roll < 0.36) return { bytes: Buffer.alloc(0), kind: 'empty' };
  if (roll < 0.4) {
    return {
      bytes: Buffer.from(
        pick(r, [
          '{"__proto__":{"polluted":true}}',
          '{"constructor":{"prototype":{"polluted":true}}}',
          '{"value":{"__proto__":{"polluted":true}}}',
          '{"steps":[{"command":"get","args":{"__proto__":{"polluted":true}}}],"device":"__proto__"}',
        ]),
      ),
      kind: 'pollution',
    };
  }
  return { bytes: Buffer.from(objectText(r, 0, argNames)), kind: 'object' };
}

export function generate(r: Rng, t: FuzzTarget): FuzzMessage {
  const ids = [...t.devices.keys()];
  const roll = r();
  let levels: string[];
  let argNames: readonly string[] = [];
  if (roll < 0.55) {
    const device = chance(r, 0.75) ? pick(r, ids) : segment(r);
    const commands = t.devices.get(device);
    let command =
      commands && chance(r, 0.7) ? pick(r, [...commands.keys()]) : pick(r, [segment(r), 'constructor', '__proto__', 'toString', 'explode']);
    if (t.avoid.has(command)) command = 'get';
    argNames = commands?.get(command) ?? [];
    levels = [t.base, t.node, device, 'cmd', command];
  } else if (roll < 0.65) {
    levels = [t.base, t.node, 'cmd', chance(r, 0.8) ? pick(r, t.nodeCommands) : segment(r)];
    argNames = ['device', 'steps', 'id', 'command', 'args'];
  } else if (roll < 0.72) {
    const group = chance(r, 0.7) ? pick(r, t.groups) : segment(r);
    levels = chance(r, 0.5)
      ? [t.base, 'group', group, pick(r, [...ids, segment(r)]), 'cmd', pick(r, ['get', segment(r)])]
      : [t.base, 'group', group, 'cmd', pick(r, t.nodeCommands)];
  } else {
    levels = [t.base, ...Array.from({ length: int(r, 0, 7) }, () => segment(r))];
    if (chance(r, 0.3)) levels.splice(1, 0, t.node);
  }
  const topic = levels.join('/');
  const p = payload(r, t, argNames);
  return { topic, payload: p.bytes, answered: answered(t, topic), kind: p.kind };
}

/** The contract's command topics of this node (see CONTRACT.md, Topics). */
export function answered(t: FuzzTarget, topic: string): boolean {
  const l = topic.split('/');
  if (l[0] !== t.base) return false;
  const rest = l.slice(1);
  if (rest[0] === t.node) {
    if (rest.length === 3 && rest[1] === 'cmd' && rest[2] !== '') return true;
    return rest.length === 4 && rest[2] === 'cmd' && rest[1] !== '' && rest[3] !== '';
  }
  if (rest[0] === 'group' && rest[1] !== undefined && t.groups.includes(rest[1])) {
    if (rest.length === 4 && rest[2] === 'cmd' && rest[3] !== '') return true;
    // A group command for a device this node does not have is for the other nodes of the group.
    return rest.length === 5 && rest[3] === 'cmd' && rest[4] !== '' && t.devices.has(rest[2] ?? '') && ID_RE.test(rest[2] ?? '');
  }
  return false;
}
