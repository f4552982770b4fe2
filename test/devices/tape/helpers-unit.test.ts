/** The small pieces of the tape kind: payload encodings, records, the progress throttle. */
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, toRecords } from '../../../src/devices/tape/data.js';
import { ProgressThrottle, type Progress } from '../../../src/devices/tape/progress.js';
import { isRewindingNode, tapeWarnings, tapeOptions } from '../../../src/devices/tape/options.js';

describe('payload encodings', () => {
  it('decodes utf8, base64 and hex, and refuses malformed base64/hex instead of dropping bytes', () => {
    expect(decodePayload('héllo', 'utf8').toString('utf8')).toBe('héllo');
    expect(decodePayload('aGVs bG8=', 'base64').toString()).toBe('hello');
    expect(decodePayload('68 65 6c', 'hex').toString()).toBe('hel');
    expect(() => decodePayload('abc', 'hex')).toThrow(expect.objectContaining({ code: 'bad_args' }));
    expect(() => decodePayload('zz', 'hex')).toThrow(expect.objectContaining({ code: 'bad_args' }));
    expect(() => decodePayload('a$==', 'base64')).toThrow(expect.objectContaining({ code: 'bad_args' }));
    expect(encodePayload(Buffer.from([1, 255]), 'hex')).toBe('01ff');
  });
});

describe('records', () => {
  it('variable-block mode: one record, or recordBytes pieces', () => {
    const data = Buffer.alloc(10, 1);
    expect(toRecords(data, 0, { pad: true, recordBytes: 10, chunkBytes: 64 }).writes.map((w) => w.length)).toEqual([10]);
    expect(toRecords(data, 0, { pad: true, recordBytes: 4, chunkBytes: 64 }).writes.map((w) => w.length)).toEqual([4, 4, 2]);
  });

  it('fixed-block mode: whole blocks per write, the last padded with zeros, or refused without pad', () => {
    const r = toRecords(Buffer.alloc(1000, 7), 512, { pad: true, recordBytes: 0, chunkBytes: 1024 });
    expect(r.records).toBe(2);
    expect(r.paddedBytes).toBe(24);
    expect(r.writes.map((w) => w.length)).toEqual([1024]);
    expect(r.writes[0]?.subarray(1000).every((b) => b === 0)).toBe(true);
    const small = toRecords(Buffer.alloc(2048), 512, { pad: true, recordBytes: 0, chunkBytes: 600 });
    expect(small.writes.map((w) => w.length)).toEqual([512, 512, 512, 512]);
    expect(() => toRecords(Buffer.alloc(1000), 512, { pad: false, recordBytes: 0, chunkBytes: 1024 })).toThrow(
      expect.objectContaining({ code: 'bad_args' }),
    );
  });
});

describe('progress throttle', () => {
  it('reports at most once a second on its clock, and at the end unless it just did', () => {
    let now = 0;
    const seen: Progress[] = [];
    const p = new ProgressThrottle(
      (x) => seen.push(x),
      1000,
      () => now,
    );
    for (const [t, bytes] of [
      [100, 10],
      [900, 90],
      [1000, 100],
      [1500, 150],
      [1999, 199],
      [2000, 200],
      [2500, 250],
    ] as const) {
      now = t;
      p.update(bytes);
    }
    now = 2600;
    p.done(260);
    expect(seen).toEqual([
      { bytes: 100, total: 1000, rateBytesPerS: 100 },
      { bytes: 200, total: 1000, rateBytesPerS: 100 },
    ]);
    now = 3600;
    p.done(400);
    expect(seen.at(-1)).toEqual({ bytes: 400, total: 1000, rateBytesPerS: 111 });
  });

  it('a transfer shorter than a second reports once, at the end', () => {
    let now = 0;
    const seen: Progress[] = [];
    const p = new ProgressThrottle(
      (x) => seen.push(x),
      null,
      () => now,
    );
    now = 300;
    p.update(5);
    now = 400;
    p.done(8);
    expect(seen).toEqual([{ bytes: 8, total: null, rateBytesPerS: 20 }]);
  });
});

describe('options and warnings', () => {
  it('warns about a rewinding node and names the non-rewinding one', () => {
    const opts = (p: string) => {
      const r = tapeOptions(false).parse({ path: p });
      if (!r.ok) throw new Error('bad options');
      return r.value;
    };
    expect(tapeWarnings(opts('/dev/st0'))).toEqual([expect.stringContaining('use /dev/nst0')]);
    expect(tapeWarnings(opts('/dev/nst0'))).toEqual([]);
    expect(tapeWarnings(opts('/dev/tape/by-id/scsi-HP_Ultrium-nst'))).toEqual([]);
    expect(tapeWarnings(opts('/dev/tape/by-id/scsi-HP_Ultrium'))).toEqual([expect.stringContaining('-nst')]);
    expect(isRewindingNode('/dev/st1l')).toBe(true);
    expect(isRewindingNode('/dev/nst1l')).toBe(false);
  });

  it('needs a path without sim and defaults it with sim', () => {
    expect(tapeOptions(false).parse({}).ok).toBe(false);
    const sim = tapeOptions(true).parse({ sim: { timing: { rewindMs: 30_000 } } });
    expect(sim.ok && sim.value.path).toBe('/dev/nst0');
    expect(sim.ok && sim.value.sim?.timing.rewindMs).toBe(30_000);
    expect(sim.ok && sim.value.sim?.timing.spaceMs).toBe(1500);
  });
});
