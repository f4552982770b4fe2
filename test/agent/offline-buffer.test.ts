/**
 * The offline buffer on its own: order, the bounds, what it counts as
 * dropped, and its spill files in a real directory (a spill that cannot
 * write degrades to memory: here a file where its directory should be).
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineBuffer, type HeldMessage } from '../../src/agent/offline-buffer.js';
import { SpillStore } from '../../src/agent/offline-spill.js';
import { tempDir as makeTempDir } from '../helpers/agent.js';

const log = pino({ level: 'silent' });
const msg = (i: number, device = 'in0'): HeldMessage => ({
  topic: `dev2mqtt/n/${device}/event`,
  payload: JSON.stringify({ type: 'edge', n: i, ts: 1000 + i, replayed: true }),
  device,
  ts: 1000 + i,
});
/** A modem URC with 2-, 3- and 4-byte UTF-8 characters: far more bytes than UTF-16 code units. */
const urc = (i: number): HeldMessage => ({
  topic: 'dev2mqtt/n/modem-é/event',
  payload: JSON.stringify({ type: 'urc', line: `+CMT: "Grüße ${'€'.repeat(24)} 😀" ${i}`, ts: 1000 + i, replayed: true }),
  device: 'modem-é',
  ts: 1000 + i,
});
const bytes = (m: HeldMessage): number => Buffer.byteLength(m.topic) + Buffer.byteLength(m.payload) + Buffer.byteLength(m.device) + 32;
const numbers = (ms: readonly HeldMessage[]): number[] => ms.map((m) => (JSON.parse(m.payload) as { n: number }).n);

function drain(b: OfflineBuffer, batch = 7): HeldMessage[] {
  const out: HeldMessage[] = [];
  for (let got = b.take(batch); got.length; got = b.take(batch)) out.push(...got);
  return out;
}

describe('offline buffer (memory)', () => {
  it('hands back what it kept, oldest first, in batches', () => {
    const b = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) b.push(msg(i));
    expect(b.held).toBe(50);
    expect(numbers(drain(b))).toEqual([...Array(50).keys()]);
    expect(b.held).toBe(0);
    expect(b.takeDropped().size).toBe(0);
  });

  it('past maxMessages the oldest go, counted per device with the span they covered, reported once', () => {
    const b = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 });
    for (let i = 0; i < 25; i++) b.push(msg(i, i < 3 ? 'a' : 'b'));
    expect(b.held).toBe(10);
    expect(b.status()).toMatchObject({ held: 10, dropped: 15, spill: { state: 'off' } });
    expect(b.takeDropped()).toEqual(
      new Map([
        ['a', { count: 3, firstTs: 1000, lastTs: 1002 }],
        ['b', { count: 12, firstTs: 1003, lastTs: 1014 }],
      ]),
    );
    expect(b.takeDropped().size).toBe(0);
    expect(numbers(drain(b))).toEqual([...Array(10).keys()].map((i) => i + 15));
  });

  it('past maxBytes too', () => {
    const one = msg(0);
    const size = Buffer.byteLength(one.topic) + Buffer.byteLength(one.payload) + Buffer.byteLength(one.device) + 32;
    const b = new OfflineBuffer({ maxMessages: 1000, maxBytes: size * 4 + 10 });
    for (let i = 0; i < 9; i++) b.push(msg(i));
    expect(numbers(drain(b))).toEqual([5, 6, 7, 8]);
  });

  it('maxBytes counts UTF-8 bytes: non-ASCII payloads (a modem URC, a device name) cannot outgrow it', () => {
    const maxBytes = bytes(urc(0)) * 4 + 10;
    const b = new OfflineBuffer({ maxMessages: 1000, maxBytes });
    for (let i = 0; i < 9; i++) b.push(urc(i));
    const heldBytes = b.status().heldBytes as number;
    const kept = drain(b);
    const keptBytes = kept.reduce((sum, m) => sum + bytes(m), 0);
    expect(keptBytes).toBeLessThanOrEqual(maxBytes);
    expect(kept.map((m) => m.ts)).toEqual([1005, 1006, 1007, 1008]);
    expect(b.takeDropped().get('modem-é')?.count).toBe(5);
    // Node state's heldBytes is the same count.
    expect(heldBytes).toBe(keptBytes);
  });

  it('maxMessages 0 keeps nothing and counts everything', () => {
    const b = new OfflineBuffer({ maxMessages: 0, maxBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) b.push(msg(i));
    expect(b.held).toBe(0);
    expect(b.takeDropped().get('in0')).toEqual({ count: 5, firstTs: 1000, lastTs: 1004 });
  });

  it('messages pushed while it is being drained come after the rest', () => {
    const b = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) b.push(msg(i));
    const first = b.take(4);
    b.push(msg(10));
    expect(numbers([...first, ...drain(b)])).toEqual([...Array(11).keys()]);
  });

  it('a stop without a spill counts what is not yet published as dropped, the batch handed out included, and says per device', () => {
    const b = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) b.push(msg(i, i < 6 ? 'in0' : 'modem'));
    b.take(3);
    b.published(); // the broker has 0–2
    b.take(3); // 3–5 handed out, not confirmed when the agent stops
    const lost = b.persist();
    expect(Object.fromEntries(lost)).toEqual({
      in0: { count: 3, firstTs: 1003, lastTs: 1005 },
      modem: { count: 4, firstTs: 1006, lastTs: 1009 },
    });
    expect(b.status()).toMatchObject({ held: 0, dropped: 7 });
  });
});

describe('offline buffer with a spill directory', () => {
  const dirs: string[] = [];
  const tempDir = (prefix: string): string => {
    const d = makeTempDir(prefix);
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const spillIn = (dir: string, maxBytes = 1 << 20): SpillStore => new SpillStore(dir, maxBytes, log, 0);

  it('moves the older half to a file past the memory bound, and replays files first: nothing lost, order kept', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const b = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir));
    for (let i = 0; i < 95; i++) b.push(msg(i));
    expect(b.held).toBe(95);
    expect(readdirSync(path.join(dir, 'offline')).length).toBeGreaterThan(1);
    expect(b.status()).toMatchObject({ dropped: 0, spill: { state: 'ok' } });
    expect(numbers(drain(b))).toEqual([...Array(95).keys()]);
    // Replayed files are deleted.
    expect(readdirSync(path.join(dir, 'offline'))).toEqual([]);
    expect(b.takeDropped().size).toBe(0);
  });

  it('past spillMaxBytes the oldest file goes, reported as dropped for its devices', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const b = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir, 1200));
    for (let i = 0; i < 60; i++) b.push(msg(i));
    const dropped = b.takeDropped().get('in0');
    expect(dropped?.count).toBeGreaterThan(0);
    const kept = numbers(drain(b));
    // What is left is the newest, contiguous, and it starts right after what was dropped.
    expect(kept[0]).toBe(dropped?.count);
    expect(kept).toEqual([...Array(60 - (dropped?.count ?? 0)).keys()].map((i) => i + (dropped?.count ?? 0)));
    expect(dropped).toEqual({ count: kept[0], firstTs: 1000, lastTs: 1000 + (kept[0] ?? 0) - 1 });
  });

  it('spill accounting counts UTF-8 bytes: what it says it holds is what is on disk, and spillMaxBytes bounds the files', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const spill = spillIn(dir, 3000);
    const b = new OfflineBuffer({ maxMessages: 4, maxBytes: 1 << 20 }, spill);
    for (let i = 0; i < 60; i++) b.push(urc(i));
    const onDisk = readdirSync(path.join(dir, 'offline')).reduce((sum, f) => sum + statSync(path.join(dir, 'offline', f)).size, 0);
    expect(b.takeDropped().get('modem-é')?.count).toBeGreaterThan(0);
    expect(spill.bytes).toBe(onDisk);
    expect(onDisk).toBeLessThanOrEqual(3000);
  });

  it('what memory holds at a stop is written, and the next run replays it before anything new', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const before = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 }, spillIn(dir));
    for (let i = 0; i < 30; i++) before.push(msg(i));
    before.persist();
    const after = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 }, spillIn(dir));
    expect(after.held).toBe(30);
    after.push(msg(30));
    expect(numbers(drain(after))).toEqual([...Array(31).keys()]);
  });

  it('a stop in the middle of a replay loses nothing: the batch not yet published, the rest of the file, memory', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const before = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir));
    for (let i = 0; i < 40; i++) before.push(msg(i));
    expect(numbers(before.take(2))).toEqual([0, 1]); // published: the next take says so
    expect(numbers(before.take(2))).toEqual([2, 3]); // handed out; the link and then the agent stop
    before.persist();
    const after = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir));
    expect(numbers(drain(after))).toEqual([...Array(38).keys()].map((i) => i + 2));
    expect(readdirSync(path.join(dir, 'offline'))).toEqual([]);
  });

  it('a stop in the middle of a replay whose file cannot be rewritten still keeps the unconfirmed live events: in a new file', () => {
    const dir = tempDir('dev2mqtt-spill-');
    const before = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir));
    for (let i = 0; i < 40; i++) before.push(msg(i));
    before.take(2); // a file is being replayed
    const offline = path.join(dir, 'offline');
    const reading = readdirSync(offline).sort()[0] ?? '';
    // The file being replayed cannot be written (EISDIR here; EROFS, EIO on a card).
    rmSync(path.join(offline, reading));
    mkdirSync(path.join(offline, reading));
    const live = msg(-1, 'live');
    expect(Object.fromEntries(before.persist([live]))).toEqual({});
    rmSync(path.join(offline, reading), { recursive: true });
    const after = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spillIn(dir));
    expect(drain(after).filter((m) => m.device === 'live')).toEqual([live]);
  });

  it('a torn last line (power lost mid-write) costs that line only', () => {
    const dir = tempDir('dev2mqtt-spill-');
    mkdirSync(path.join(dir, 'offline'));
    const lines = [msg(0), msg(1)].map((m) => JSON.stringify(m)).join('\n');
    writeFileSync(path.join(dir, 'offline', '000000000007.jsonl'), `${lines}\n{"topic":"dev2mq`);
    const b = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 }, spillIn(dir));
    b.push(msg(2));
    expect(numbers(drain(b))).toEqual([0, 1, 2]);
  });

  it('a line that is JSON but not a kept message (a corrupted card) is skipped; the rest of its file replays', () => {
    const dir = tempDir('dev2mqtt-spill-');
    mkdirSync(path.join(dir, 'offline'));
    const junk = [
      'null',
      '7',
      '"text"',
      '[]',
      '{}',
      '{"topic":5,"payload":"x","device":"in0","ts":1}',
      '{"topic":"t","payload":"x","device":"in0"}',
    ];
    const lines = [JSON.stringify(msg(0)), ...junk, JSON.stringify(msg(1))].join('\n');
    writeFileSync(path.join(dir, 'offline', '000000000003.jsonl'), `${lines}\n`);
    const b = new OfflineBuffer({ maxMessages: 100, maxBytes: 1 << 20 }, spillIn(dir));
    expect(b.held).toBe(2);
    b.push(msg(2));
    const out = drain(b);
    // Each one something the replay can publish: a topic and a payload, never a crash on a null.
    expect(out.every((m) => typeof m.topic === 'string' && typeof m.payload === 'string')).toBe(true);
    expect(numbers(out)).toEqual([0, 1, 2]);
  });

  it('a spill that cannot write is degraded, with the reason; memory keeps the newest; it is ok again once it can', () => {
    const dir = tempDir('dev2mqtt-spill-');
    // A file where the directory should be: every write fails (ENOTDIR/EEXIST), the way a broken card fails.
    writeFileSync(path.join(dir, 'offline'), 'not a directory');
    const spill = spillIn(dir);
    const b = new OfflineBuffer({ maxMessages: 10, maxBytes: 1 << 20 }, spill);
    for (let i = 0; i < 25; i++) b.push(msg(i));
    expect(b.status()).toMatchObject({ held: 10, dropped: 15, spill: { state: 'degraded' } });
    expect(String((b.status().spill as { reason: string }).reason)).toMatch(/write .*offline: E[A-Z]+/);
    rmSync(path.join(dir, 'offline'));
    for (let i = 25; i < 40; i++) b.push(msg(i));
    expect(b.status()).toMatchObject({ spill: { state: 'ok' } });
    expect(numbers(drain(b))).toEqual([...Array(25).keys()].map((i) => i + 15));
  });
});
