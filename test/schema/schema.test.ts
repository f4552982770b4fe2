import { describe, expect, it } from 'vitest';
import { formatIssues, s } from '../../src/schema/schema.js';

describe('schema', () => {
  const setArgs = s.object({
    state: s.enum(['ON', 'OFF'], { caseInsensitive: true }).optional(),
    brightness: s.int({ min: 0, max: 255 }).optional(),
    onMs: s.int({ min: 1 }).default(500),
  });

  it('parses, fills defaults and normalises case-insensitive enums', () => {
    expect(setArgs.parse({ state: 'on', brightness: 12 })).toEqual({ ok: true, value: { state: 'ON', brightness: 12, onMs: 500 } });
  });

  it('collects every problem with its path', () => {
    const r = setArgs.parse({ state: 'dim', brightness: 300, extra: 1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path)).toEqual(['state', 'brightness', 'extra']);
    expect(formatIssues(r.issues)).toMatch(
      /state must be one of ON, OFF, got "dim"; brightness must be <= 255, got 300; extra is not a known key/,
    );
  });

  it('keeps only declared keys: __proto__ and constructor never pass through', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as unknown;
    const r = s.object({ a: s.int().optional() }, { unknownKeys: 'strip' }).parse(hostile);
    expect(r).toEqual({ ok: true, value: {} });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('nested arrays report indexed paths', () => {
    const batch = s.object({
      steps: s.array(s.object({ command: s.string({ minLength: 1 }), args: s.any().optional() }), { maxItems: 3 }),
    });
    const r = batch.parse({ steps: [{ command: 'status' }, { command: 7 }] });
    expect(r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['steps[1].command: must be a string, got 7']);
    expect(batch.parse({ steps: [{}, {}, {}, {}] }).ok).toBe(false);
  });

  it('unions try each option and explain all when none fits', () => {
    const v = s.union(s.enum(['ON', 'OFF'], { caseInsensitive: true }), s.int({ min: 0, max: 255 }));
    expect(v.parse('off')).toEqual({ ok: true, value: 'OFF' });
    expect(v.parse(128)).toEqual({ ok: true, value: 128 });
    const bad = v.parse(true);
    expect(bad.ok).toBe(false);
  });

  it('describes itself as JSON', () => {
    expect(setArgs.describe()).toEqual({
      type: 'object',
      properties: {
        state: { type: 'string', enum: ['ON', 'OFF'], optional: true },
        brightness: { type: 'integer', min: 0, max: 255, optional: true },
        onMs: { type: 'integer', min: 1, optional: true, default: 500 },
      },
    });
  });

  it('refine adds a rule on top', () => {
    const even = s.int().refine((n) => (n % 2 ? 'must be even' : undefined));
    expect(even.parse(3).ok).toBe(false);
    expect(even.parse(4).ok).toBe(true);
  });
});
