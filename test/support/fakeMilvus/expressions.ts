import { errors } from './status';

/**
 * A small evaluator for the Milvus boolean expressions this project sends:
 * comparisons (== != > >= < <=) between a field and a literal, `in` / `not in` lists,
 * `&&`/`and`, `||`/`or`, `!`/`not`, parentheses; integer, float, bool and string literals
 * (single or double quoted, C-style escapes incl. \uXXXX). A name that is not a schema field
 * refers to a key of the dynamic field `$meta` (also written `$meta["key"]`).
 */
export type Value = string | number | bigint | boolean | null;
export type Resolve = (name: string) => { value: Value; type: string };
export type Predicate = (resolve: Resolve) => boolean;

type Tok = { kind: 'id' | 'num' | 'str' | 'op' | 'kw'; text: string; value?: Value };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'AND', 'OR', 'NOT', 'IN', 'True', 'False']);

function unescape(body: string): string {
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])/g, (_, e: string) => {
    if (e[0] === 'u' && e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (e[0] === 'x' && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' } as Record<string, string>)[e] ?? e;
  });
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw errors.invalid(`cannot parse expression: ${src}, unterminated string`);
      toks.push({ kind: 'str', text: src.slice(i, j + 1), value: unescape(src.slice(i + 1, j)) });
      i = j + 1;
      continue;
    }
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num && (c !== '-' || !toks.length || ['op', 'kw'].includes(toks[toks.length - 1].kind))) {
      const isInt = !num[1] && !num[2];
      toks.push({ kind: 'num', text: num[0], value: isInt ? BigInt(num[0]) : Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const op = /^(&&|\|\||==|!=|>=|<=|>|<|!|\(|\)|\[|\]|,)/.exec(src.slice(i));
    if (op) {
      toks.push({ kind: 'op', text: op[0] });
      i += op[0].length;
      continue;
    }
    const id = /^\$?[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      toks.push({ kind: KEYWORDS.has(id[0]) ? 'kw' : 'id', text: id[0] });
      i += id[0].length;
      continue;
    }
    throw errors.invalid(`cannot parse expression: ${src}, unexpected character '${c}'`);
  }
  return toks;
}

/** Compares like segcore: Int64 exactly (BigInt), strings by UTF-8 bytes. */
export function compareValues(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return NaN;
}

type Operand = { lit: Value } | { name: string };

export function parseExpression(src: string): Predicate {
  if (!src.trim()) return () => true;
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos];
  const is = (...texts: string[]) => pos < toks.length && texts.includes(toks[pos].text);
  const fail = (msg: string): never => {
    throw errors.invalid(`cannot parse expression: ${src}, error: ${msg}`);
  };
  const expect = (text: string) => {
    if (!is(text)) fail(`expected '${text}' at token ${pos}`);
    pos++;
  };

  function operand(): Operand {
    const t = peek();
    if (!t) return fail('unexpected end');
    pos++;
    if (t.kind === 'num' || t.kind === 'str') return { lit: t.value! };
    if (t.kind === 'kw' && /^(true|false)$/i.test(t.text)) return { lit: /^true$/i.test(t.text) };
    if (t.kind === 'id') {
      if (is('[')) {
        pos++;
        const key = peek();
        if (!key || key.kind !== 'str') fail('expected a string key');
        pos++;
        expect(']');
        return { name: t.text === '$meta' ? String(key.value) : `${t.text}[${String(key.value)}]` };
      }
      return { name: t.text };
    }
    return fail(`unexpected token '${t.text}'`);
  }

  function literalList(): Value[] {
    expect('[');
    const out: Value[] = [];
    while (!is(']')) {
      const o = operand();
      if (!('lit' in o)) fail('only literals are allowed in a list');
      out.push((o as { lit: Value }).lit);
      if (is(',')) pos++;
      else break;
    }
    expect(']');
    return out;
  }

  const get = (o: Operand, r: Resolve): Value => ('lit' in o ? o.lit : r(o.name).value);
  const coerce = (v: Value, o: Operand, r: Resolve): Value => {
    // Int64 fields are stored as strings: compare them as BigInt.
    if ('name' in o && typeof v === 'string' && r(o.name).type === 'Int64') return BigInt(v);
    return v;
  };

  function comparison(): Predicate {
    const left = operand();
    if (is('in') || is('IN') || (is('not', 'NOT') && ['in', 'IN'].includes(toks[pos + 1]?.text))) {
      const negate = is('not', 'NOT');
      pos += negate ? 2 : 1;
      const list = literalList();
      return (r) => {
        const v = coerce(get(left, r), left, r);
        if (v === null || v === undefined) return false;
        const found = list.some((x) => compareValues(v, x) === 0);
        return negate ? !found : found;
      };
    }
    const op = peek();
    if (!op || !['==', '!=', '>', '>=', '<', '<='].includes(op.text)) return fail(`expected a comparison operator`);
    pos++;
    const right = operand();
    return (r) => {
      const a = coerce(get(left, r), left, r);
      const b = coerce(get(right, r), right, r);
      if (a === null || b === null || a === undefined || b === undefined) return false;
      const c = compareValues(a, b);
      if (Number.isNaN(c)) return false;
      switch (op.text) {
        case '==':
          return c === 0;
        case '!=':
          return c !== 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
        case '<':
          return c < 0;
        default:
          return c <= 0;
      }
    };
  }

  function unary(): Predicate {
    if (is('!', 'not', 'NOT')) {
      pos++;
      const inner = unary();
      return (r) => !inner(r);
    }
    if (is('(')) {
      pos++;
      const inner = or();
      expect(')');
      return inner;
    }
    return comparison();
  }

  function and(): Predicate {
    let left = unary();
    while (is('&&', 'and', 'AND')) {
      pos++;
      const l = left;
      const right = unary();
      left = (r) => l(r) && right(r);
    }
    return left;
  }

  function or(): Predicate {
    let left = and();
    while (is('||', 'or', 'OR')) {
      pos++;
      const l = left;
      const right = and();
      left = (r) => l(r) || right(r);
    }
    return left;
  }

  const pred = or();
  if (pos !== toks.length) fail(`unexpected token '${toks[pos].text}'`);
  return pred;
}
