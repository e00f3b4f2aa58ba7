/**
 * CloudFormation intrinsic functions over physical identities: Ref, Fn::GetAtt, Fn::Join,
 * Fn::Select, Fn::Split, Fn::Sub. Anything else (Fn::If, Fn::ImportValue, Fn::FindInMap,
 * Fn::GetAZs, Fn::Base64, Fn::Cidr...) throws, naming the function: a template that needs it must
 * fail here, not run with a wrong value.
 */

export interface IntrinsicScope {
  /** Ref of a pseudo parameter (AWS::Region...) or a resource. */
  ref(name: string): string;
  getAtt(logicalId: string, attribute: string): unknown;
}

export function resolveIntrinsics(scope: IntrinsicScope, value: unknown, path = '$'): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item, index) => resolveIntrinsics(scope, item, `${path}[${index}]`));
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [[key, argument]] = entries as [[string, unknown]];
    if (key === 'Ref') return scope.ref(expectString(argument, `${path}.Ref`));
    if (key.startsWith('Fn::')) return resolveFunction(scope, key, argument, path);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(scope, item, `${path}.${key}`)]));
}

function resolveFunction(scope: IntrinsicScope, name: string, argument: unknown, path: string): unknown {
  const at = `${path}.${name}`;
  switch (name) {
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = typeof argument === 'string' ? splitOnce(argument, '.') : (argument as [string, unknown]);
      return scope.getAtt(logicalId, expectString(resolveIntrinsics(scope, attribute, at), at));
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown];
      const list = resolveIntrinsics(scope, parts, at);
      if (!Array.isArray(list)) throw new Error(`${at}: the list to join did not resolve to a list`);
      return list.map((part, index) => expectString(part, `${at}[${index}]`)).join(separator);
    }
    case 'Fn::Select': {
      const [index, list] = resolveIntrinsics(scope, argument, at) as [unknown, unknown];
      if (!Array.isArray(list)) throw new Error(`${at}: the list to select from did not resolve to a list`);
      const position = Number(index);
      if (!Number.isInteger(position) || position < 0 || position >= list.length) throw new Error(`${at}: index ${String(index)} is outside a list of ${list.length}`);
      return list[position];
    }
    case 'Fn::Split': {
      const [separator, source] = argument as [string, unknown];
      return expectString(resolveIntrinsics(scope, source, at), at).split(separator);
    }
    case 'Fn::Sub': {
      const [template, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
      const bound = resolveIntrinsics(scope, variables, at) as Record<string, unknown>;
      return template.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, reference: string) => {
        if (literal) return `\${${reference}}`;
        if (reference in bound) return expectString(bound[reference], `${at} \${${reference}}`);
        if (!reference.includes('.') || reference.startsWith('AWS::')) return scope.ref(reference);
        const [logicalId, attribute] = splitOnce(reference, '.');
        return expectString(scope.getAtt(logicalId, attribute), `${at} \${${reference}}`);
      });
    }
    default:
      throw new Error(`${at}: ${name} is not resolved locally`);
  }
}

function splitOnce(text: string, separator: string): [string, string] {
  const index = text.indexOf(separator);
  if (index < 0) throw new Error(`"${text}" has no "${separator}"`);
  return [text.slice(0, index), text.slice(index + 1)];
}

function expectString(value: unknown, at: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw new Error(`${at}: expected a string, got ${JSON.stringify(value)}`);
}
