import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../lib/errors';
import { pkRangeDeleteFilter, pkRangeFilter, statusToError, stringLiteral, toMigrationError, versionAtLeast, type FieldSpec } from '../../lib/milvus';

const pk = (dataType: 'Int64' | 'VarChar'): FieldSpec => ({
  name: 'id',
  description: '',
  dataType,
  isPrimaryKey: true,
  autoId: false,
  nullable: false,
  isPartitionKey: false,
  isClusteringKey: false,
  isFunctionOutput: false,
  typeParams: {},
});

describe('filters', () => {
  it('escapes VarChar literals C-style', () => {
    expect(stringLiteral('a"b\\c\nd\re\tf😀')).toBe('"a\\"b\\\\c\\nd\\re\\tf😀"');
  });

  it('builds PK ranges, open ends omitted', () => {
    expect(pkRangeFilter(pk('Int64'), '-5', '10')).toBe('id > -5 && id <= 10');
    expect(pkRangeFilter(pk('Int64'), null, '10')).toBe('id <= 10');
    expect(pkRangeFilter(pk('VarChar'), 'a"', null)).toBe('id > "a\\""');
    expect(pkRangeFilter(pk('VarChar'), null, null)).toBe('');
  });

  it('never gives delete an empty expression', () => {
    expect(pkRangeDeleteFilter(pk('Int64'), null, null)).toBe('id <= 9223372036854775807');
    expect(pkRangeDeleteFilter(pk('VarChar'), null, null)).toBe('id >= ""');
    expect(pkRangeDeleteFilter(pk('Int64'), '3', null)).toBe('id > 3');
  });

  it('refuses an Int64 PK that is not an integer (no expression injection)', () => {
    expect(() => pkRangeFilter(pk('Int64'), '1 || true', null)).toThrow(PermanentError);
  });
});

describe('status mapping', () => {
  it('collection not found is permanent with its own code', () => {
    const e = statusToError({ error_code: 'Success', code: 100, reason: 'collection not found' }, 'describe x');
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.code).toBe('COLLECTION_NOT_FOUND');
  });

  it('rate limits and unavailability are transient, by code, legacy error_code or retriable flag', () => {
    expect(statusToError({ error_code: 'RateLimit', code: 0, reason: 'slow down' }, 'w')).toBeInstanceOf(TransientError);
    expect(statusToError({ error_code: 'Success', code: 8, reason: 'rate limit exceeded' }, 'w').code).toBe('MILVUS_RATE_LIMITED');
    expect(statusToError({ error_code: 'UnexpectedError', code: 2, reason: 'service unavailable' }, 'w')).toBeInstanceOf(TransientError);
    expect(statusToError({ error_code: 'UnexpectedError', code: 65535, reason: 'x', retriable: true }, 'w')).toBeInstanceOf(TransientError);
  });

  it('schema refusals are permanent', () => {
    const e = statusToError({ error_code: 'Success', code: 1100, reason: "MilvusLite doesn't support nullable" }, 'create');
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.message).toContain('nullable');
  });

  it('maps thrown gRPC errors by status code', () => {
    const grpc = (code: number) => Object.assign(new Error('x'), { code, details: 'boom' });
    expect(toMigrationError(grpc(14), 'q')).toBeInstanceOf(TransientError); // UNAVAILABLE
    expect(toMigrationError(grpc(4), 'q')).toBeInstanceOf(TransientError); // DEADLINE_EXCEEDED
    expect(toMigrationError(grpc(8), 'q').code).toBe('MILVUS_RESOURCE_EXHAUSTED');
    expect(toMigrationError(grpc(16), 'q')).toBeInstanceOf(PermanentError); // UNAUTHENTICATED
    const domain = new TransientError('X', 'y');
    expect(toMigrationError(domain, 'q')).toBe(domain);
  });

  it('compares server versions', () => {
    expect(versionAtLeast('v2.6.0', 2, 6)).toBe(true);
    expect(versionAtLeast('2.5.14', 2, 6)).toBe(false);
    expect(versionAtLeast('v3.0.1-rc', 2, 6)).toBe(true);
    expect(versionAtLeast('unknown', 2, 6)).toBe(false);
  });
});
