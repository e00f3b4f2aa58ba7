/**
 * The keys a Delete filter names, when it is only `pk in [k1, k2, ...]` or `pk == k` (the form the
 * SDK's delete-by-ids sends); null for any other filter, which is then logged as the filter itself.
 * Int64 keys are integers, VarChar keys single or double quoted with backslash escapes.
 */
export function keysOfDeleteFilter(filter: string, pkField: string): string[] | null {
  const name = pkField.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const inList = new RegExp(`^\\s*\\(?\\s*${name}\\s+(?:in|IN)\\s*\\[(.*)\\]\\s*\\)?\\s*$`, 's').exec(filter);
  const equals = new RegExp(`^\\s*\\(?\\s*${name}\\s*==\\s*(.+?)\\s*\\)?\\s*$`, 's').exec(filter);
  const body = inList?.[1] ?? equals?.[1];
  if (body === undefined) return null;
  return literals(body);
}

/** Comma separated integer or string literals; null when anything else is there. */
function literals(body: string): string[] | null {
  const keys: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < body.length && /\s/.test(body[i]!)) i++;
  };
  skipSpace();
  if (i === body.length) return keys;
  for (;;) {
    skipSpace();
    const c = body[i];
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= body.length) return null;
        const ch = body[i]!;
        if (ch === '\\') {
          const next = body[i + 1];
          if (next === undefined) return null;
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
          i += 2;
        } else if (ch === c) {
          i++;
          break;
        } else {
          value += ch;
          i++;
        }
      }
      keys.push(value);
    } else {
      const m = /^-?\d+/.exec(body.slice(i));
      if (!m) return null;
      keys.push(BigInt(m[0]).toString());
      i += m[0].length;
    }
    skipSpace();
    if (i === body.length) return keys;
    if (body[i] !== ',') return null;
    i++;
  }
}
