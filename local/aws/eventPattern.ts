/**
 * EventBridge content filtering: whether an event matches a rule's EventPattern.
 *
 * Written here: no maintained npm implementation exists (AWS's Event Ruler is Java; EventBridge's
 * TestEventPattern API needs AWS). Covered: exact strings, numbers, booleans and null; arrays in
 * the event (any element matches); nested objects; prefix, suffix, equals-ignore-case (and prefix /
 * suffix with equals-ignore-case), wildcard, anything-but (values, prefix, suffix,
 * equals-ignore-case, wildcard), exists, numeric ranges, $or. Left out (throws when a pattern uses
 * them): cidr matching. Numbers compare as JavaScript doubles, as EventBridge's documented range
 * (-5e9..5e9 at 15 digits) allows.
 */

export type EventPattern = { [field: string]: unknown };

export class UnsupportedPatternError extends Error {}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export function matchesPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([field, rule]) => {
    if (field === '$or') {
      if (!Array.isArray(rule)) throw new UnsupportedPatternError('$or must be a list of patterns');
      return rule.some((alternative) => matchesPattern(alternative as EventPattern, event));
    }
    const present = Object.prototype.hasOwnProperty.call(event, field);
    const value = event[field] as Json | undefined;
    if (Array.isArray(rule)) return matchesField(rule, present ? value : undefined, present);
    if (typeof rule === 'object' && rule !== null) {
      // A nested pattern: the event field must be an object (or a list of objects, any matching).
      const candidates = Array.isArray(value) ? value : [value];
      return candidates.some((candidate) => typeof candidate === 'object' && candidate !== null && !Array.isArray(candidate) && matchesPattern(rule as EventPattern, candidate));
    }
    throw new UnsupportedPatternError(`the pattern of field "${field}" must be a list or an object, got ${JSON.stringify(rule)}`);
  });
}

/** A leaf: the field's value (or any element, for a list) matches any of the matchers. */
function matchesField(matchers: unknown[], value: Json | undefined, present: boolean): boolean {
  const values: Json[] = present ? (Array.isArray(value) ? value : [value as Json]) : [];
  return matchers.some((matcher) => {
    if (typeof matcher === 'object' && matcher !== null) {
      const entries = Object.entries(matcher);
      if (entries.length !== 1) throw new UnsupportedPatternError(`a content filter has exactly one key: ${JSON.stringify(matcher)}`);
      const [[kind, argument]] = entries as [[string, unknown]];
      if (kind === 'exists') return argument === present;
      if (!present) return false;
      return values.some((item) => matchesFilter(kind, argument, item));
    }
    return values.some((item) => equalValues(matcher, item));
  });
}

function equalValues(expected: unknown, actual: Json): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') return expected === actual;
  return expected === actual;
}

function matchesFilter(kind: string, argument: unknown, value: Json): boolean {
  switch (kind) {
    case 'prefix':
    case 'suffix': {
      if (typeof value !== 'string') return false;
      const [text, ignoreCase] = caseArgument(argument, kind);
      const subject = ignoreCase ? value.toLowerCase() : value;
      const wanted = ignoreCase ? text.toLowerCase() : text;
      return kind === 'prefix' ? subject.startsWith(wanted) : subject.endsWith(wanted);
    }
    case 'equals-ignore-case':
      return typeof value === 'string' && typeof argument === 'string' && value.toLowerCase() === argument.toLowerCase();
    case 'wildcard':
      return typeof value === 'string' && typeof argument === 'string' && wildcard(argument).test(value);
    case 'numeric':
      return typeof value === 'number' && numericRange(argument, value);
    case 'anything-but':
      return !anythingButExcludes(argument, value);
    case 'cidr':
      throw new UnsupportedPatternError('cidr content filters are not matched locally');
    default:
      throw new UnsupportedPatternError(`unknown content filter "${kind}"`);
  }
}

function caseArgument(argument: unknown, kind: string): [string, boolean] {
  if (typeof argument === 'string') return [argument, false];
  if (typeof argument === 'object' && argument !== null && typeof (argument as Record<string, unknown>)['equals-ignore-case'] === 'string') {
    return [(argument as Record<string, string>)['equals-ignore-case']!, true];
  }
  throw new UnsupportedPatternError(`${kind} takes a string or {"equals-ignore-case": string}`);
}

/** True when anything-but's argument names the value (so the event does not match). */
function anythingButExcludes(argument: unknown, value: Json): boolean {
  if (Array.isArray(argument)) return argument.some((excluded) => equalValues(excluded, value));
  if (typeof argument === 'object' && argument !== null) {
    const [[kind, inner]] = Object.entries(argument) as [[string, unknown]];
    const list = Array.isArray(inner) ? inner : [inner];
    return list.some((item) => matchesFilter(kind, item, value));
  }
  return equalValues(argument, value);
}

function numericRange(argument: unknown, value: number): boolean {
  if (!Array.isArray(argument) || argument.length % 2 !== 0) throw new UnsupportedPatternError(`numeric takes operator/number pairs: ${JSON.stringify(argument)}`);
  for (let i = 0; i < argument.length; i += 2) {
    const [operator, bound] = [argument[i], Number(argument[i + 1])];
    const holds =
      operator === '=' ? value === bound
      : operator === '<' ? value < bound
      : operator === '<=' ? value <= bound
      : operator === '>' ? value > bound
      : operator === '>=' ? value >= bound
      : undefined;
    if (holds === undefined) throw new UnsupportedPatternError(`unknown numeric operator ${String(operator)}`);
    if (!holds) return false;
  }
  return true;
}

function wildcard(pattern: string): RegExp {
  const body = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${body}$`, 's');
}
