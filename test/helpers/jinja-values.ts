/** Python values as our Jinja subset sees them (see jinja.ts), and Python's str() of them. */
export class Undefined {
  constructor(readonly hint: string) {}
}
/** A Python float (only needed where it renders differently from an int: 2.0). */
export class PyFloat {
  constructor(readonly v: number) {}
}
export type JVal = null | boolean | number | PyFloat | string | Undefined | JVal[] | { [k: string]: JVal };

export interface Rendered {
  readonly output: string;
  readonly warnings: string[];
}

export const DICT_METHODS = new Set([
  'items',
  'keys',
  'values',
  'get',
  'update',
  'pop',
  'popitem',
  'copy',
  'clear',
  'setdefault',
  'fromkeys',
]);

export const isDict = (v: JVal): v is { [k: string]: JVal } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Undefined) && !(v instanceof PyFloat);
export const num = (v: JVal): number | undefined =>
  typeof v === 'number' ? v : v instanceof PyFloat ? v.v : typeof v === 'boolean' ? Number(v) : undefined;

function floatText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e16 || a < 1e-4)) {
    const [m, e] = v.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

function repr(v: JVal): string {
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : str(v);
}

export function str(v: JVal): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : floatText(v);
  if (v instanceof PyFloat) return floatText(v.v);
  if (typeof v === 'string') return v;
  if (v instanceof Undefined) return '';
  if (Array.isArray(v)) return `[${v.map(repr).join(', ')}]`;
  return `{${Object.entries(v)
    .map(([k, x]) => `${repr(k)}: ${repr(x)}`)
    .join(', ')}}`;
}

export function equal(a: JVal, b: JVal): boolean {
  if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
  const na = num(a);
  const nb = num(b);
  if (na !== undefined && nb !== undefined) return na === nb;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i] ?? null));
  if (isDict(a) && isDict(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && equal(a[k] ?? null, b[k] ?? null));
  }
  return a === b;
}
