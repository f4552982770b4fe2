/**
 * The on/off words a user may send: plain payloads arrive as `{value}` (the
 * contract turns `ON`, `off`, `1` into `{"value": …}`), Home Assistant sends
 * `ON`/`OFF`, scripts send 0/1 or true/false. One reading for every kind.
 */
const WORDS: Readonly<Record<string, 0 | 1>> = {
  on: 1,
  off: 0,
  true: 1,
  false: 0,
  high: 1,
  low: 0,
  '1': 1,
  '0': 0,
};

/** 1, 0, or undefined when `v` is not an on/off value. */
export function parseOnOff(v: unknown): 0 | 1 | undefined {
  if (v === true || v === 1) return 1;
  if (v === false || v === 0) return 0;
  if (typeof v === 'string') {
    const word = v.trim().toLowerCase();
    // Own keys only: `constructor` or `__proto__` must not find Object.prototype's.
    return Object.hasOwn(WORDS, word) ? WORDS[word] : undefined;
  }
  return undefined;
}

export const ON_OFF_WORDS = 'ON/OFF, 1/0, true/false';
