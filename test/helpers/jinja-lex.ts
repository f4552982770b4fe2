/** Tokens of a Jinja expression (the subset jinja.ts parses). */
export type Token =
  { kind: 'num'; v: string; float: boolean } | { kind: 'str'; v: string } | { kind: 'name'; v: string } | { kind: 'op'; v: string };

const OPS = ['//', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '~', '(', ')', '[', ']', '.', ',', '|'];

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const numMatch = /^\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
    if (numMatch) {
      out.push({ kind: 'num', v: numMatch[0], float: numMatch[1] !== undefined || numMatch[2] !== undefined });
      i += numMatch[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const e = src[j + 1] ?? '';
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
        } else {
          text += src[j];
          j++;
        }
      }
      if (j >= src.length) throw new Error(`unterminated string in ${JSON.stringify(src)}`);
      out.push({ kind: 'str', v: text });
      i = j + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      out.push({ kind: 'name', v: name[0] });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new Error(`unsupported character ${JSON.stringify(c)} in ${JSON.stringify(src)}`);
    out.push({ kind: 'op', v: op });
    i += op.length;
  }
  return out;
}
