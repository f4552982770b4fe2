/** Evaluates what jinja.ts parses, with Home Assistant's semantics (see jinja.ts). */
import { parseTemplate, type Node, type Part } from './jinja.js';
import { DICT_METHODS, equal, isDict, num, PyFloat, str, Undefined, type JVal, type Rendered } from './jinja-values.js';

class Scope {
  readonly warnings: string[] = [];
  constructor(readonly vars: Record<string, JVal>) {}

  /** What HA's LoggingUndefined logs (and we count as a defect). */
  warn(u: Undefined, how: string): void {
    this.warnings.push(`${u.hint} (${how})`);
  }

  truthy(v: JVal): boolean {
    if (v instanceof Undefined) {
      this.warn(v, 'tested for truth');
      return false;
    }
    if (v === null || v === false || v === '' || v === 0) return false;
    if (v instanceof PyFloat) return v.v !== 0;
    if (Array.isArray(v)) return v.length > 0;
    if (isDict(v)) return Object.keys(v).length > 0;
    return true;
  }

  text(v: JVal): string {
    if (v instanceof Undefined) this.warn(v, 'rendered');
    return str(v);
  }
}

function numeric(v: JVal, op: string): number {
  if (v instanceof Undefined) throw new Error(`UndefinedError: ${v.hint} (used with ${op})`);
  const n = num(v);
  if (n === undefined) throw new Error(`TypeError: ${op} on ${JSON.stringify(v)}`);
  return n;
}

const isFloat = (v: JVal): boolean => v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v));

function arith(op: string, a: JVal, b: JVal): JVal {
  if (op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (op === '+' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  const x = numeric(a, op);
  const y = numeric(b, op);
  const float = isFloat(a) || isFloat(b);
  const wrap = (r: number): JVal => (float && Number.isInteger(r) ? new PyFloat(r) : r);
  switch (op) {
    case '+':
      return wrap(x + y);
    case '-':
      return wrap(x - y);
    case '*':
      return wrap(x * y);
    case '/':
      if (y === 0) throw new Error('ZeroDivisionError');
      return new PyFloat(x / y);
    case '//':
      if (y === 0) throw new Error('ZeroDivisionError');
      return wrap(Math.floor(x / y));
    default:
      if (y === 0) throw new Error('ZeroDivisionError');
      return wrap(((x % y) + y) % y);
  }
}

function compare(op: string, a: JVal, b: JVal): boolean {
  if (op === '==') return equal(a, b);
  if (op === '!=') return !equal(a, b);
  let x: number | string;
  let y: number | string;
  if (typeof a === 'string' && typeof b === 'string') [x, y] = [a, b];
  else [x, y] = [numeric(a, op), numeric(b, op)];
  return op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
}

function contains(s: Scope, container: JVal, item: JVal): boolean {
  if (container instanceof Undefined) {
    s.warn(container, 'iterated');
    return false;
  }
  if (typeof container === 'string') {
    if (typeof item !== 'string') throw new Error("TypeError: 'in <string>' requires string as left operand");
    return container.includes(item);
  }
  if (Array.isArray(container)) return container.some((x) => equal(x, item));
  if (isDict(container)) return typeof item === 'string' && item in container;
  throw new Error(`TypeError: argument of type ${typeof container} is not iterable`);
}

function test(name: string, v: JVal): boolean {
  switch (name) {
    case 'defined':
      return !(v instanceof Undefined);
    case 'undefined':
      return v instanceof Undefined;
    case 'none':
      return v === null;
    case 'number':
      return typeof v === 'number' || typeof v === 'boolean' || v instanceof PyFloat;
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
      return isFloat(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'true':
      return v === true;
    case 'false':
      return v === false;
    case 'string':
      return typeof v === 'string';
    case 'mapping':
      return isDict(v);
    case 'sequence':
      return typeof v === 'string' || Array.isArray(v) || isDict(v);
    default:
      throw new Error(`TemplateAssertionError: no test named '${name}'`);
  }
}

function toNumber(v: JVal, int: boolean, fallback: JVal | undefined, name: string): JVal {
  let n: number | undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) n = Number(t);
  } else if (v !== null && !(v instanceof Undefined)) {
    n = num(v);
  }
  if (n === undefined || !Number.isFinite(n)) {
    // HA's forgiving int/float/round: without a default, a value that does not convert is an error.
    if (fallback === undefined)
      throw new Error(`ValueError: Template error: ${name} got invalid input '${str(v)}' and no default was specified`);
    return fallback;
  }
  return int ? Math.trunc(n) : new PyFloat(n);
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number, digits: number): number {
  const m = 10 ** digits;
  const y = x * m;
  const f = Math.floor(y);
  const diff = y - f;
  const r = diff > 0.5 ? f + 1 : diff < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return r / m;
}

function filter(s: Scope, name: string, v: JVal, args: JVal[]): JVal {
  switch (name) {
    case 'int':
      return toNumber(v, true, args[0], 'int');
    case 'float':
      return toNumber(v, false, args[0], 'float');
    case 'round': {
      const n = toNumber(v, false, args[2], 'round');
      const p = args[0] === undefined ? 0 : numeric(args[0], 'round');
      const x = num(n);
      if (x === undefined) return n;
      const r = roundHalfEven(x, p);
      // HA's round filter gives an int for precision 0.
      return p === 0 ? r : new PyFloat(r);
    }
    case 'default':
    case 'd': {
      const boolean = args[1] === true;
      if (v instanceof Undefined || (boolean && !s.truthy(v))) return args[0] ?? '';
      return v;
    }
    case 'lower':
      return s.text(v).toLowerCase();
    case 'upper':
      return s.text(v).toUpperCase();
    case 'string':
      return s.text(v);
    case 'abs':
      return Math.abs(numeric(v, 'abs'));
    case 'length':
    case 'count':
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (isDict(v)) return Object.keys(v).length;
      throw new Error(`TypeError: object of type ${typeof v} has no len()`);
    default:
      throw new Error(`TemplateAssertionError: no filter named '${name}'`);
  }
}

function getattr(of: JVal, key: string, how: 'attr' | 'item', where: string): JVal {
  if (of instanceof Undefined) throw new Error(`UndefinedError: ${of.hint} has no attribute '${key}'`);
  if (isDict(of)) {
    if (how === 'attr' && DICT_METHODS.has(key))
      throw new Error(`'${where}.${key}' is the dict method '${key}', not the key: write ${where}['${key}']`);
    return Object.prototype.hasOwnProperty.call(of, key) ? (of[key] ?? null) : new Undefined(`'dict object' has no attribute '${key}'`);
  }
  if (Array.isArray(of) && how === 'item' && /^-?\d+$/.test(key)) {
    const i = Number(key);
    const v = of[i < 0 ? of.length + i : i];
    return v === undefined ? new Undefined(`list index ${key} out of range`) : v;
  }
  return new Undefined(`'${str(of)}' has no attribute '${key}'`);
}

function describe(n: Node): string {
  if (n.t === 'name') return n.name;
  if (n.t === 'attr') return `${describe(n.of)}.${n.name}`;
  return '…';
}

export function evaluate(s: Scope, n: Node): JVal {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'name':
      return n.name in s.vars ? (s.vars[n.name] ?? null) : new Undefined(`'${n.name}' is undefined`);
    case 'attr':
      return getattr(evaluate(s, n.of), n.name, 'attr', describe(n.of));
    case 'item': {
      const key = evaluate(s, n.key);
      return getattr(evaluate(s, n.of), str(key), 'item', describe(n.of));
    }
    case 'filter':
      return filter(
        s,
        n.name,
        evaluate(s, n.of),
        n.args.map((a) => evaluate(s, a)),
      );
    case 'test':
      return test(n.name, evaluate(s, n.of)) !== n.negate;
    case 'cond':
      if (s.truthy(evaluate(s, n.test))) return evaluate(s, n.then);
      return n.else ? evaluate(s, n.else) : new Undefined('an inline if without else (renders nothing)');
    case 'not':
      return !s.truthy(evaluate(s, n.of));
    case 'neg':
      return arith('-', 0, evaluate(s, n.of));
    case 'bin': {
      if (n.op === 'and') {
        const l = evaluate(s, n.l);
        return s.truthy(l) ? evaluate(s, n.r) : l;
      }
      if (n.op === 'or') {
        const l = evaluate(s, n.l);
        return s.truthy(l) ? l : evaluate(s, n.r);
      }
      const l = evaluate(s, n.l);
      const r = evaluate(s, n.r);
      if (n.op === '~') return s.text(l) + s.text(r);
      if (n.op === 'in') return contains(s, r, l);
      if (['==', '!=', '<', '>', '<=', '>='].includes(n.op)) {
        // Stricter than HA (which compares Undefined silently): comparing a missing key is always a bug here.
        for (const side of [l, r]) if (side instanceof Undefined) s.warn(side, 'compared');
        return compare(n.op, l, r);
      }
      return arith(n.op, l, r);
    }
  }
}

function run(s: Scope, parts: Part[]): string {
  let out = '';
  for (const p of parts) {
    if (p.t === 'text') out += p.text;
    else if (p.t === 'out') out += s.text(evaluate(s, p.expr));
    else {
      const hit = p.branches.find((b) => b.test === undefined || s.truthy(evaluate(s, b.test)));
      if (hit) out += run(s, hit.body);
    }
  }
  return out;
}

/** Parses JSON as Python's json.loads would for our payloads (integral numbers are ints). */
function valueJson(payload: string): JVal {
  try {
    return JSON.parse(payload) as JVal;
  } catch {
    return new Undefined("'value_json' is undefined (the payload is not JSON)");
  }
}

/** Renders a value template as Home Assistant does for an MQTT payload. */
export function render(template: string, payload: string): Rendered {
  const s = new Scope({ value: payload, value_json: valueJson(payload) });
  const output = run(s, parseTemplate(template)).trim();
  return { output, warnings: s.warnings };
}

/** Throws when a template uses syntax outside the supported subset. */
export function checkSyntax(template: string): void {
  parseTemplate(template);
}
