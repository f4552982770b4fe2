/**
 * A small schema language for command arguments and device options: it
 * validates untrusted JSON (collecting every problem with its path), fills
 * defaults, infers TypeScript types, and describes itself as JSON for the
 * `{base}/{node}/devices` topic and `describe`. Parsed objects carry only the
 * declared keys, so `__proto__`/`constructor` in user JSON never reach code.
 */

export interface Issue {
  /** `brightness`, `steps[2].command`, `devices[1].options.line` … */
  readonly path: string;
  readonly message: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };

/** JSON description of a schema: what `describe` and the devices topic publish. */
export type Description = { readonly type: string; readonly optional?: boolean; readonly default?: unknown; readonly [k: string]: unknown };

const join = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

const show = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'function') return 'a function';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a primitive by now; the rule does not narrow unknown
  return String(v);
};

const MISSING = Symbol('missing');

export abstract class Schema<T> {
  /** Parses `input` (MISSING when the key is absent), pushing problems into `issues`. */
  abstract check(input: unknown, path: string, issues: Issue[]): T;
  abstract describe(): Description;

  parse(input: unknown, path = ''): Parsed<T> {
    const issues: Issue[] = [];
    const value = this.check(input === undefined ? MISSING : input, path, issues);
    return issues.length ? { ok: false, issues } : { ok: true, value };
  }

  optional(): Schema<T | undefined> {
    return new OptionalSchema(this, undefined, false);
  }

  default(value: T): Schema<T> {
    return new OptionalSchema(this, value, true) as Schema<T>;
  }

  /** Adds a human description to the JSON description. */
  doc(text: string): Schema<T> {
    return new DocSchema(this, text);
  }

  /** Extra validation after the base checks pass; return a message to reject. */
  refine(check: (value: T) => string | undefined): Schema<T> {
    return new RefineSchema(this, check);
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

class OptionalSchema<T> extends Schema<T | undefined> {
  constructor(
    private readonly inner: Schema<T>,
    private readonly fallback: T | undefined,
    private readonly hasDefault: boolean,
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T | undefined {
    if (input === MISSING || input === undefined) return this.fallback;
    return this.inner.check(input, path, issues);
  }
  describe(): Description {
    return { ...this.inner.describe(), optional: true, ...(this.hasDefault ? { default: this.fallback } : {}) };
  }
}

class DocSchema<T> extends Schema<T> {
  constructor(
    private readonly inner: Schema<T>,
    private readonly text: string,
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T {
    return this.inner.check(input, path, issues);
  }
  describe(): Description {
    return { ...this.inner.describe(), description: this.text };
  }
}

class RefineSchema<T> extends Schema<T> {
  constructor(
    private readonly inner: Schema<T>,
    private readonly rule: (v: T) => string | undefined,
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T {
    const before = issues.length;
    const v = this.inner.check(input, path, issues);
    if (issues.length === before) {
      const msg = this.rule(v);
      if (msg) issues.push({ path, message: msg });
    }
    return v;
  }
  describe(): Description {
    return this.inner.describe();
  }
}

function required(input: unknown, path: string, issues: Issue[]): boolean {
  if (input === MISSING) {
    issues.push({ path, message: 'is required' });
    return false;
  }
  return true;
}

class StringSchema extends Schema<string> {
  constructor(private readonly o: { minLength?: number; maxLength?: number; pattern?: RegExp; patternText?: string }) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): string {
    if (!required(input, path, issues)) return '';
    if (typeof input !== 'string') {
      issues.push({ path, message: `must be a string, got ${show(input)}` });
      return '';
    }
    if (this.o.minLength !== undefined && input.length < this.o.minLength)
      issues.push({ path, message: `must be at least ${this.o.minLength} characters` });
    if (this.o.maxLength !== undefined && input.length > this.o.maxLength)
      issues.push({ path, message: `must be at most ${this.o.maxLength} characters` });
    if (this.o.pattern && !this.o.pattern.test(input))
      issues.push({ path, message: `must match ${this.o.patternText ?? this.o.pattern.source}, got ${show(input)}` });
    return input;
  }
  describe(): Description {
    return {
      type: 'string',
      ...(this.o.minLength !== undefined ? { minLength: this.o.minLength } : {}),
      ...(this.o.maxLength !== undefined ? { maxLength: this.o.maxLength } : {}),
      ...(this.o.pattern ? { pattern: this.o.patternText ?? this.o.pattern.source } : {}),
    };
  }
}

class NumberSchema extends Schema<number> {
  constructor(
    private readonly integer: boolean,
    private readonly o: { min?: number; max?: number },
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): number {
    if (!required(input, path, issues)) return 0;
    if (typeof input !== 'number' || !Number.isFinite(input)) {
      issues.push({ path, message: `must be ${this.integer ? 'an integer' : 'a number'}, got ${show(input)}` });
      return 0;
    }
    if (this.integer && !Number.isInteger(input)) issues.push({ path, message: `must be an integer, got ${input}` });
    if (this.o.min !== undefined && input < this.o.min) issues.push({ path, message: `must be >= ${this.o.min}, got ${input}` });
    if (this.o.max !== undefined && input > this.o.max) issues.push({ path, message: `must be <= ${this.o.max}, got ${input}` });
    return input;
  }
  describe(): Description {
    return {
      type: this.integer ? 'integer' : 'number',
      ...(this.o.min !== undefined ? { min: this.o.min } : {}),
      ...(this.o.max !== undefined ? { max: this.o.max } : {}),
    };
  }
}

class BooleanSchema extends Schema<boolean> {
  check(input: unknown, path: string, issues: Issue[]): boolean {
    if (!required(input, path, issues)) return false;
    if (typeof input !== 'boolean') {
      issues.push({ path, message: `must be true or false, got ${show(input)}` });
      return false;
    }
    return input;
  }
  describe(): Description {
    return { type: 'boolean' };
  }
}

class EnumSchema<T extends string> extends Schema<T> {
  constructor(
    private readonly values: readonly T[],
    private readonly caseInsensitive: boolean,
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T {
    const first = this.values[0] as T;
    if (!required(input, path, issues)) return first;
    const hit =
      typeof input === 'string'
        ? this.values.find((v) => v === input || (this.caseInsensitive && v.toLowerCase() === input.toLowerCase()))
        : undefined;
    if (hit === undefined) {
      issues.push({ path, message: `must be one of ${this.values.join(', ')}, got ${show(input)}` });
      return first;
    }
    return hit;
  }
  describe(): Description {
    return { type: 'string', enum: [...this.values] };
  }
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

export class ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  constructor(
    readonly shape: S,
    private readonly o: { unknownKeys: 'reject' | 'strip' },
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): ObjectOf<S> {
    const out: Record<string, unknown> = {};
    if (!required(input, path, issues)) return out as ObjectOf<S>;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      issues.push({ path, message: `must be an object, got ${show(input)}` });
      return out as ObjectOf<S>;
    }
    const src = input as Record<string, unknown>;
    for (const [key, schema] of Object.entries(this.shape)) {
      const has = Object.prototype.hasOwnProperty.call(src, key);
      const v = schema.check(has ? src[key] : MISSING, join(path, key), issues);
      if (v !== undefined) out[key] = v;
    }
    if (this.o.unknownKeys === 'reject') {
      for (const key of Object.keys(src)) {
        if (!Object.prototype.hasOwnProperty.call(this.shape, key)) {
          const known = Object.keys(this.shape);
          issues.push({
            path: join(path, key),
            message: `is not a known key${known.length ? ` (known: ${known.join(', ')})` : ' (takes no arguments)'}`,
          });
        }
      }
    }
    return out as ObjectOf<S>;
  }
  describe(): Description {
    return { type: 'object', properties: Object.fromEntries(Object.entries(this.shape).map(([k, s]) => [k, s.describe()])) };
  }
  /** The same object with more keys (kinds extend a shared option set). */
  extend<E extends Shape>(more: E): ObjectSchema<S & E> {
    return new ObjectSchema({ ...this.shape, ...more }, this.o);
  }
}

class ArraySchema<T> extends Schema<T[]> {
  constructor(
    private readonly item: Schema<T>,
    private readonly o: { minItems?: number; maxItems?: number },
  ) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T[] {
    if (!required(input, path, issues)) return [];
    if (!Array.isArray(input)) {
      issues.push({ path, message: `must be an array, got ${show(input)}` });
      return [];
    }
    if (this.o.minItems !== undefined && input.length < this.o.minItems)
      issues.push({ path, message: `must have at least ${this.o.minItems} items` });
    if (this.o.maxItems !== undefined && input.length > this.o.maxItems) {
      issues.push({ path, message: `must have at most ${this.o.maxItems} items, got ${input.length}` });
      return [];
    }
    return input.map((v, i) => this.item.check(v, join(path, i), issues));
  }
  describe(): Description {
    return { type: 'array', items: this.item.describe(), ...(this.o.maxItems !== undefined ? { maxItems: this.o.maxItems } : {}) };
  }
}

class UnionSchema<T> extends Schema<T> {
  constructor(private readonly options: readonly Schema<T>[]) {
    super();
  }
  check(input: unknown, path: string, issues: Issue[]): T {
    if (!required(input, path, issues)) return undefined as T;
    const tried: string[] = [];
    for (const o of this.options) {
      const local: Issue[] = [];
      const v = o.check(input, path, local);
      if (local.length === 0) return v;
      tried.push(local.map((i) => i.message).join('; '));
    }
    issues.push({ path, message: tried.join(', or ') });
    return undefined as T;
  }
  describe(): Description {
    return { type: 'oneOf', oneOf: this.options.map((o) => o.describe()) };
  }
}

/** Any JSON value, passed on as is (batch step arguments, validated later by their command). */
class AnySchema extends Schema<unknown> {
  check(input: unknown, path: string, issues: Issue[]): unknown {
    return required(input, path, issues) ? input : undefined;
  }
  describe(): Description {
    return { type: 'any' };
  }
}

export const s = {
  string: (o: { minLength?: number; maxLength?: number; pattern?: RegExp; patternText?: string } = {}): Schema<string> =>
    new StringSchema(o),
  int: (o: { min?: number; max?: number } = {}): Schema<number> => new NumberSchema(true, o),
  number: (o: { min?: number; max?: number } = {}): Schema<number> => new NumberSchema(false, o),
  boolean: (): Schema<boolean> => new BooleanSchema(),
  enum: <const T extends string>(values: readonly T[], o: { caseInsensitive?: boolean } = {}): Schema<T> =>
    new EnumSchema(values, o.caseInsensitive ?? false),
  object: <S extends Shape>(shape: S, o: { unknownKeys?: 'reject' | 'strip' } = {}): ObjectSchema<S> =>
    new ObjectSchema(shape, { unknownKeys: o.unknownKeys ?? 'reject' }),
  array: <T>(item: Schema<T>, o: { minItems?: number; maxItems?: number } = {}): Schema<T[]> => new ArraySchema(item, o),
  union: <T extends readonly Schema<unknown>[]>(...options: T): Schema<Infer<T[number]>> =>
    new UnionSchema(options as unknown as readonly Schema<Infer<T[number]>>[]),
  any: (): Schema<unknown> => new AnySchema(),
  /** No arguments at all: `{}`, an empty payload. */
  none: (): ObjectSchema<Record<string, never>> => new ObjectSchema({}, { unknownKeys: 'reject' }),
};

export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path} ${i.message}` : i.message)).join('; ');
}
