import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../lib/errors';
import { comparePks, expressibleBound, pkRangeDeleteFilter, pkRangeFilter, statusToError, stringLiteral, toMigrationError, versionAtLeast, type FieldSpec } from '../../lib/milvus';

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
  it('escapes quotes and backslashes in VarChar literals and keeps tabs raw', () => {
    expect(stringLiteral('a"b\\c\tf😀')).toBe('"a\\"b\\\\c\tf😀"');
  });

  it('refuses to write a key with a line break into a filter, and bounds it by its prefix instead', () => {
    const varchar = { name: 'k', dataType: 'VarChar' } as FieldSpec;
    expect(() => stringLiteral('new\nline')).toThrow(/expressibleBound/);
    expect(expressibleBound(varchar, 'new\nline')).toBe('new');
    expect(expressibleBound(varchar, 'cr\rx\ny')).toBe('cr');
    expect(expressibleBound(varchar, 'tab\tstays')).toBe('tab\tstays');
    expect(expressibleBound({ name: 'id', dataType: 'Int64' } as FieldSpec, '-42')).toBe('-42');
  });

  it('orders VarChar keys by UTF-8 bytes and Int64 keys by value, as the server does', () => {
    const varchar = { name: 'k', dataType: 'VarChar' } as FieldSpec;
    // U+FF21 (fullwidth A) sorts before U+1F600 in UTF-8 bytes but after it in UTF-16 code units.
    expect(comparePks(varchar, '\uff21', '😀')).toBeLessThan(0);
    expect('\uff21' < '😀').toBe(false);
    expect(comparePks({ name: 'id', dataType: 'Int64' } as FieldSpec, '9007199254740993', '9007199254740992')).toBe(1);
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
    // An internal error of the server is retried by the step, whether it says so by code or only by reason.
    expect(statusToError({ error_code: 'UnexpectedError', code: 5, reason: 'service internal error: segment not found' }, 'w').code).toBe('MILVUS_INTERNAL');
    expect(statusToError({ error_code: 'UnexpectedError', code: 0, reason: 'internal error' }, 'clear x')).toBeInstanceOf(TransientError);
    // ...but an invalid parameter (legacy error_code 5 IllegalArgument, merr 1100) is permanent.
    expect(statusToError({ error_code: 'IllegalArgument', code: 1100, reason: 'invalid parameter[field type not supported]' }, 'create x').code).toBe('MILVUS_REFUSED');
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
