import { PermanentError } from '../errors';
import type { FieldSpec } from './spec';

/**
 * Primary key filter expressions. PKs are strings everywhere (Int64 as decimal strings).
 * Only range comparisons are used: milvus-lite matches escaped VarChar literals with < > <= >=
 * but not with == or `in`.
 */

/** A VarChar literal, escaped C-style as Milvus's expression parser expects. */
export function stringLiteral(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
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
