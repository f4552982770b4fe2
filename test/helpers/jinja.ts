/**
 * A small evaluator for the Jinja subset our Home Assistant value templates
 * use, with Home Assistant's semantics where they matter:
 *  - output is Python's str() of the value (None, True, 3, 2.5, 0.5), stripped,
 *    as MqttValueTemplate.async_render_with_possible_json_value returns it;
 *  - `value` is the payload, `value_json` the parsed JSON (undefined if not JSON);
 *  - a missing key is Undefined: rendering it, testing its truth or iterating it
 *    makes HA log a "Template variable warning" on every message — recorded in
 *    `warnings`, which tests require to be empty (so is comparing it: HA
 *    stays silent there, but a template comparing a missing key is a bug);
 *    an attribute of Undefined, an unknown filter or test, or int/float
 *    failing without a default (HA's forgiving filters) raise, as HA does;
 *  - `a.b` on a dict is Python's getattr first: a key named like a dict method
 *    (`items`, `values` …) would be the method, so it is an error here.
 * Supported: {{ expr }}, {% if %}/{% elif %}/{% else %}/{% endif %}, {# #},
 * whitespace control (-), literals, `.x`, `[x]`, `a if c else b`, and/or/not,
 * comparisons, `in`/`not in`, `is [not] test`, + - * / // % ~, and the filters
 * int, float, round, default/d, lower, upper, string, abs, length/count.
 * Anything else is a parse error: keep kinds' templates within this.
 * jinja-values.ts: the values; this file: the parser; jinja-eval.ts: evaluation and render().
 */
import { tokenize, type Token } from './jinja-lex.js';
import { PyFloat, type JVal } from './jinja-values.js';

type Node =
  | { t: 'lit'; v: JVal }
  | { t: 'name'; name: string }
  | { t: 'attr'; of: Node; name: string }
  | { t: 'item'; of: Node; key: Node }
  | { t: 'filter'; of: Node; name: string; args: Node[] }
  | { t: 'test'; of: Node; name: string; negate: boolean }
  | { t: 'cond'; test: Node; then: Node; else: Node | undefined }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'not'; of: Node }
  | { t: 'neg'; of: Node };

type Part = { t: 'text'; text: string } | { t: 'out'; expr: Node } | { t: 'if'; branches: Array<{ test: Node | undefined; body: Part[] }> };

class Parser {
  #i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
  ) {}

  peek(): Token | undefined {
    return this.toks[this.#i];
  }
  next(): Token {
    const t = this.toks[this.#i++];
    if (!t) throw new Error(`unexpected end of expression in ${JSON.stringify(this.src)}`);
    return t;
  }
  is(v: string): boolean {
    const t = this.peek();
    return t !== undefined && (t.kind === 'op' || t.kind === 'name') && t.v === v;
  }
  accept(v: string): boolean {
    if (!this.is(v)) return false;
    this.#i++;
    return true;
  }
  expect(v: string): void {
    if (!this.accept(v)) throw new Error(`expected '${v}' in ${JSON.stringify(this.src)}, got ${JSON.stringify(this.peek()?.v ?? 'end')}`);
  }
  done(): void {
    if (this.peek()) throw new Error(`unsupported syntax at ${JSON.stringify(this.peek()?.v)} in ${JSON.stringify(this.src)}`);
  }

  expr(): Node {
    const value = this.or();
    if (this.accept('if')) {
      const test = this.or();
      const otherwise = this.accept('else') ? this.expr() : undefined;
      return { t: 'cond', test, then: value, else: otherwise };
    }
    return value;
  }
  or(): Node {
    let l = this.and();
    while (this.accept('or')) l = { t: 'bin', op: 'or', l, r: this.and() };
    return l;
  }
  and(): Node {
    let l = this.not();
    while (this.accept('and')) l = { t: 'bin', op: 'and', l, r: this.not() };
    return l;
  }
  not(): Node {
    return this.accept('not') ? { t: 'not', of: this.not() } : this.compare();
  }
  compare(): Node {
    let l = this.concat();
    for (;;) {
      const t = this.peek();
      if (t?.kind === 'op' && ['==', '!=', '<', '>', '<=', '>='].includes(t.v)) {
        this.next();
        l = { t: 'bin', op: t.v, l, r: this.concat() };
      } else if (this.accept('in')) {
        l = { t: 'bin', op: 'in', l, r: this.concat() };
      } else if (this.is('not') && this.toks[this.#i + 1]?.v === 'in') {
        this.#i += 2;
        l = { t: 'not', of: { t: 'bin', op: 'in', l, r: this.concat() } };
      } else if (this.accept('is')) {
        const negate = this.accept('not');
        const name = this.next();
        if (name.kind !== 'name') throw new Error(`expected a test name after 'is' in ${JSON.stringify(this.src)}`);
        l = { t: 'test', of: l, name: name.v, negate };
      } else {
        return l;
      }
    }
  }
  concat(): Node {
    let l = this.add();
    while (this.accept('~')) l = { t: 'bin', op: '~', l, r: this.add() };
    return l;
  }
  add(): Node {
    let l = this.mul();
    for (;;) {
      if (this.accept('+')) l = { t: 'bin', op: '+', l, r: this.mul() };
      else if (this.accept('-')) l = { t: 'bin', op: '-', l, r: this.mul() };
      else return l;
    }
  }
  mul(): Node {
    let l = this.unary();
    for (;;) {
      const t = this.peek();
      if (t?.kind === 'op' && ['*', '/', '//', '%'].includes(t.v)) {
        this.next();
        l = { t: 'bin', op: t.v, l, r: this.unary() };
      } else {
        return l;
      }
    }
  }
  unary(): Node {
    return this.accept('-') ? { t: 'neg', of: this.unary() } : this.postfix();
  }
  postfix(): Node {
    let n = this.primary();
    for (;;) {
      if (this.accept('.')) {
        const name = this.next();
        if (name.kind !== 'name') throw new Error(`expected an attribute name in ${JSON.stringify(this.src)}`);
        n = { t: 'attr', of: n, name: name.v };
      } else if (this.accept('[')) {
        const key = this.expr();
        this.expect(']');
        n = { t: 'item', of: n, key };
      } else if (this.accept('|')) {
        const name = this.next();
        if (name.kind !== 'name') throw new Error(`expected a filter name in ${JSON.stringify(this.src)}`);
        const args: Node[] = [];
        if (this.accept('(')) {
          if (!this.accept(')')) {
            do args.push(this.expr());
            while (this.accept(','));
            this.expect(')');
          }
        }
        n = { t: 'filter', of: n, name: name.v, args };
      } else {
        return n;
      }
    }
  }
  primary(): Node {
    const t = this.next();
    if (t.kind === 'num') return { t: 'lit', v: t.float ? new PyFloat(Number(t.v)) : Number(t.v) };
    if (t.kind === 'str') return { t: 'lit', v: t.v };
    if (t.kind === 'op' && t.v === '(') {
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (t.kind === 'name') {
      if (t.v === 'True' || t.v === 'true') return { t: 'lit', v: true };
      if (t.v === 'False' || t.v === 'false') return { t: 'lit', v: false };
      if (t.v === 'None' || t.v === 'none') return { t: 'lit', v: null };
      return { t: 'name', name: t.v };
    }
    throw new Error(`unexpected ${JSON.stringify(t.v)} in ${JSON.stringify(this.src)}`);
  }
}

export function parseExpression(src: string): Node {
  const p = new Parser(tokenize(src), src);
  const e = p.expr();
  p.done();
  return e;
}

/** Splits a template into text, {{ }} and {% %} parts (with - trimming), and nests the ifs. */
export function parseTemplate(src: string): Part[] {
  const re = /(\{\{-?|\{%-?|\{#)([\s\S]*?)(-?\}\}|-?%\}|#\})/g;
  const flat: Array<{ t: 'text'; text: string } | { t: 'out' | 'stmt'; code: string; trimL: boolean; trimR: boolean }> = [];
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    flat.push({ t: 'text', text: src.slice(last, m.index) });
    const open = m[1] ?? '';
    const close = m[3] ?? '';
    if (open === '{#') {
      last = re.lastIndex;
      continue;
    }
    flat.push({
      t: open.startsWith('{{') ? 'out' : 'stmt',
      code: (m[2] ?? '').trim(),
      trimL: open.endsWith('-'),
      trimR: close.startsWith('-'),
    });
    last = re.lastIndex;
  }
  flat.push({ t: 'text', text: src.slice(last) });
  if (
    /\{\{|\{%|\}\}|%\}/.test(
      flat
        .filter((f) => f.t === 'text')
        .map((f) => (f as { text: string }).text)
        .join(''),
    )
  ) {
    throw new Error(`unbalanced delimiters in ${JSON.stringify(src)}`);
  }
  flat.forEach((f, i) => {
    if (f.t === 'text') return;
    const prev = flat[i - 1];
    const next = flat[i + 1];
    if (f.trimL && prev?.t === 'text') prev.text = prev.text.trimEnd();
    if (f.trimR && next?.t === 'text') next.text = next.text.trimStart();
  });
  let i = 0;
  const block = (closers: string[]): { parts: Part[]; closer: string } => {
    const parts: Part[] = [];
    while (i < flat.length) {
      const f = flat[i++];
      if (!f) break;
      if (f.t === 'text') {
        if (f.text) parts.push({ t: 'text', text: f.text });
      } else if (f.t === 'out') {
        parts.push({ t: 'out', expr: parseExpression(f.code) });
      } else {
        const [word = '', ...rest] = f.code.split(/\s+/);
        const arg = rest.join(' ');
        if (closers.includes(word)) {
          i--;
          return { parts, closer: word };
        }
        if (word !== 'if') throw new Error(`unsupported statement {% ${f.code} %} in ${JSON.stringify(src)}`);
        const branches: Array<{ test: Node | undefined; body: Part[] }> = [];
        let test: Node | undefined = parseExpression(arg);
        for (;;) {
          const b = block(['elif', 'else', 'endif']);
          branches.push({ test, body: b.parts });
          const stmt = flat[i++] as { code: string };
          if (b.closer === 'endif') break;
          if (b.closer === 'elif') test = parseExpression(stmt.code.replace(/^elif\s+/, ''));
          else if (b.closer === 'else') test = undefined;
          else throw new Error(`{% if %} without {% endif %} in ${JSON.stringify(src)}`);
        }
        parts.push({ t: 'if', branches });
      }
    }
    if (closers.length) throw new Error(`{% if %} without {% endif %} in ${JSON.stringify(src)}`);
    return { parts, closer: '' };
  };
  return block([]).parts;
}

export type { Node, Part };
