import { PermanentError } from '../errors';
import type { FieldSpec } from './spec';

/**
 * Primary key filter expressions. PKs are strings everywhere (Int64 as decimal strings).
 *
 * Measured on milvus-lite: an escaped `\t`, `\n` or `\r` in a VarChar literal is accepted but
 * compared as if it were a backslash and a letter, so `pk > "a\tb"` skips rows; a raw tab works;
 * a raw line break is refused (Milvus's grammar forbids it too). So tabs travel raw, and a key
 * containing any other control character is never written into a filter: range bounds use its
 * longest expressible prefix instead (see expressibleBound), which every server compares right.
 */

/** Control characters other than tab: no literal form that every server compares correctly. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INEXPRESSIBLE = /[\x00-\x08\x0a-\x1f\x7f]/;

/** A VarChar literal: backslash and quote escaped, tabs raw. */
export function stringLiteral(value: string): string {
  if (INEXPRESSIBLE.test(value)) {
    throw new PermanentError('INEXPRESSIBLE_KEY', `a filter cannot hold ${JSON.stringify(value)}: use expressibleBound`);
  }
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The greatest value that can be written in a filter and is <= `value` in PK order: the value
 * itself, or for a VarChar key with a control character its prefix before that character.
 */
export function expressibleBound(field: FieldSpec, value: string): string {
  if (field.dataType !== 'VarChar') return value;
  const at = value.search(INEXPRESSIBLE);
  return at < 0 ? value : value.slice(0, at);
}

/** Compares primary keys in the server's order: numerically for Int64, by UTF-8 bytes for VarChar. */
export function comparePks(field: FieldSpec, a: string, b: string): number {
  if (field.dataType === 'Int64') {
    const d = BigInt(a) - BigInt(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function pkLiteral(field: FieldSpec, value: string): string {
  if (field.dataType === 'Int64') {
    if (!/^-?\d+$/.test(value)) throw new PermanentError('INVALID_PRIMARY_KEY', `${value} is not an Int64 primary key`);
    return value;
  }
  if (field.dataType === 'VarChar') return stringLiteral(value);
  throw new PermanentError('UNSUPPORTED_SCHEMA', `primary key type ${field.dataType} is not supported`);
}

/** `pk > lower && pk <= upper`; '' when both are unbounded (query then needs a limit). */
export function pkRangeFilter(field: FieldSpec, lowerExclusive: string | null, upperInclusive: string | null): string {
  const parts: string[] = [];
  if (lowerExclusive !== null) parts.push(`${field.name} > ${pkLiteral(field, lowerExclusive)}`);
  if (upperInclusive !== null) parts.push(`${field.name} <= ${pkLiteral(field, upperInclusive)}`);
  return parts.join(' && ');
}

/**
 * Like pkRangeFilter but never empty (delete needs an expression). The unbounded range is written
 * as a condition every PK meets; `pk >= -9223372036854775808` does not (milvus-lite drops the minimum).
 */
export function pkRangeDeleteFilter(field: FieldSpec, lowerExclusive: string | null, upperInclusive: string | null): string {
  const filter = pkRangeFilter(field, lowerExclusive, upperInclusive);
  if (filter) return filter;
  return field.dataType === 'Int64' ? `${field.name} <= 9223372036854775807` : `${field.name} >= ""`;
}
