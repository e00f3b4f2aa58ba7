import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { fieldRows } from '../../lib/milvus/gateway/columnRows';
import { parseQueryResults, type RawFieldData } from '../../lib/milvus/gateway/protoWire';
import type { CollectionSpec, FieldSpec } from '../../lib/milvus/spec';
import { columnHasher } from '../../lib/sync/rowDigest';

/**
 * The sync's hashes of rows straight from a query reply's column bytes (rowDigest.ts columnHasher):
 * replies built with the SDK's own milvus.proto, as a server sends them, then split into rows.
 */

const require = createRequire(import.meta.url);
const protoJson = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js');
const root = protobuf.Root.fromJSON(protoJson.default ?? protoJson);
const QueryResults = root.lookupType('milvus.proto.milvus.QueryResults');

type DataType = FieldSpec['dataType'];
const field = (name: string, dataType: DataType, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name, description: '', dataType, isPrimaryKey: false, autoId: false, nullable: false, isPartitionKey: false, isClusteringKey: false, isFunctionOutput: false, typeParams: {}, ...extra,
});
const SPEC: CollectionSpec = {
  name: 'c', description: '', primaryField: 'id', functions: [], enableDynamicField: true, consistencyLevel: 'Strong', properties: {}, indexes: [],
  fields: [
    field('id', 'Int64', { isPrimaryKey: true }),
    field('vec', 'FloatVector', { dim: 4 }),
    field('bin', 'BinaryVector', { dim: 16 }),
    field('f16', 'Float16Vector', { dim: 2 }),
    field('sv', 'SparseFloatVector'),
    field('s', 'VarChar', { nullable: true, maxLength: 64 }),
    field('b', 'Bool'),
    field('i32', 'Int32'),
    field('f', 'Float'),
    field('d', 'Double'),
    field('j', 'JSON'),
    field('ai', 'Array', { elementType: 'Int64', maxCapacity: 8 }),
    field('as', 'Array', { elementType: 'VarChar', maxCapacity: 8, maxLength: 16 }),
    field('bm', 'SparseFloatVector', { isFunctionOutput: true }),
  ],
};

interface TestRow {
  id: number;
  vec: number[];
  bin: number[];
  f16: number[];
  sv: Array<[number, number]>;
  s: string | null;
  b: boolean;
  i32: number;
  f: number;
  d: number;
  /** JSON text as the server holds it. */
  j: string;
  ai: number[];
  as: string[];
  /** Dynamic keys as JSON text; undefined: no $meta column at all. */
  meta?: string;
}

const sparse = (pairs: Array<[number, number]>): Buffer => {
  const b = Buffer.alloc(pairs.length * 8);
  pairs.forEach(([i, v], k) => {
    b.writeUInt32LE(i, k * 8);
    b.writeFloatLE(v, k * 8 + 4);
  });
  return b;
};

function makeRows(n: number): TestRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: 1000 + i,
    vec: [i, i + 0.5, -i, 1 / (i + 1)],
    bin: [i & 0xff, 0xf0],
    f16: [i, 1, 2, 3],
    sv: [[i, 0.5], [100 + i, 1.25]],
    s: i % 3 === 0 ? null : `s-${i}`,
    b: i % 2 === 0,
    i32: i * 31,
    f: i / 4,
    d: i * 1.1,
    j: JSON.stringify({ n: i, tags: ['a', i], nested: { ok: true } }),
    ai: Array.from({ length: i % 4 }, (_, k) => k * 1_000_000_007),
    as: [`x${i}`, 'y'],
    meta: JSON.stringify({ dyn: i, extra: 'e' }),
  }));
}

interface Layout {
  /** Nullable values for the valid rows only (else a placeholder for every row). */
  compactNulls?: boolean;
  /** Leave the field out of the reply. */
  without?: string[];
}

/** A QueryResults reply holding `rows`, parsed as the engine parses one (fields in this order). */
function reply(rows: TestRow[], layout: Layout = {}): RawFieldData[] {
  const validS = rows.map((r) => r.s !== null);
  const sValues = layout.compactNulls ? rows.filter((r) => r.s !== null).map((r) => r.s) : rows.map((r) => r.s ?? '');
  const fields = [
    { type: 5, field_name: 'id', scalars: { long_data: { data: rows.map((r) => r.id) } } },
    { type: 101, field_name: 'vec', vectors: { dim: 4, float_vector: { data: rows.flatMap((r) => r.vec) } } },
    { type: 100, field_name: 'bin', vectors: { dim: 16, binary_vector: Buffer.from(rows.flatMap((r) => r.bin)) } },
    { type: 102, field_name: 'f16', vectors: { dim: 2, float16_vector: Buffer.from(rows.flatMap((r) => r.f16)) } },
    { type: 104, field_name: 'sv', vectors: { dim: 1000, sparse_float_vector: { dim: 1000, contents: rows.map((r) => sparse(r.sv)) } } },
    { type: 21, field_name: 's', scalars: { string_data: { data: sValues } }, valid_data: validS },
    { type: 1, field_name: 'b', scalars: { bool_data: { data: rows.map((r) => r.b) } } },
    { type: 4, field_name: 'i32', scalars: { int_data: { data: rows.map((r) => r.i32) } } },
    { type: 10, field_name: 'f', scalars: { float_data: { data: rows.map((r) => r.f) } } },
    { type: 11, field_name: 'd', scalars: { double_data: { data: rows.map((r) => r.d) } } },
    { type: 23, field_name: 'j', scalars: { json_data: { data: rows.map((r) => Buffer.from(r.j)) } } },
    { type: 22, field_name: 'ai', scalars: { array_data: { element_type: 5, data: rows.map((r) => ({ long_data: { data: r.ai } })) } } },
    { type: 22, field_name: 'as', scalars: { array_data: { element_type: 21, data: rows.map((r) => ({ string_data: { data: r.as } })) } } },
    { type: 23, field_name: '$meta', is_dynamic: true, scalars: { json_data: { data: rows.map((r) => Buffer.from(r.meta ?? '{}')) } } },
  ].filter((f) => !layout.without?.includes(f.field_name));
  const message = QueryResults.fromObject({ status: { code: 0 }, fields_data: fields, collection_name: 'c', output_fields: fields.map((f) => f.field_name) });
  return parseQueryResults(Buffer.from(QueryResults.encode(message).finish())).fields;
}

/** Row hashes by id. */
function hashes(rows: TestRow[], layout?: Layout): Map<number, bigint> {
  const h = columnHasher(SPEC)(reply(rows, layout), rows.length);
  expect(h).not.toBeNull();
  return new Map(rows.map((r, i) => [r.id, h![i]!]));
}

describe('columnHasher', () => {
  const rows = makeRows(12);

  it('splits every kind of column into its rows', () => {
    for (const f of reply(rows)) {
      const split = fieldRows(f, rows.length);
      expect(split, f.name).not.toBeNull();
      const nulls = [...split!.starts].filter((s) => s < 0).length;
      expect(nulls, f.name).toBe(f.name === 's' ? 4 : 0);
    }
  });

  it('hashes a row the same whatever page it comes in, and rows apart from each other', () => {
    const whole = hashes(rows);
    expect(new Set(whole.values()).size).toBe(rows.length);
    for (const cuts of [[1], [5, 6], [3, 7, 11], [12]]) {
      const split = new Map<number, bigint>();
      let from = 0;
      for (const to of [...cuts, rows.length]) {
        for (const [k, v] of hashes(rows.slice(from, to))) split.set(k, v);
        from = to;
      }
      expect(split).toEqual(whole);
    }
  });

  it('tells a change in any field apart, and only in the row changed', () => {
    const whole = hashes(rows);
    const k = 4;
    const changes: Record<string, (r: TestRow) => void> = {
      id: (r) => (r.id = 99_999),
      vec: (r) => (r.vec[2] = r.vec[2]! + 1e-6),
      bin: (r) => (r.bin[1] = 0xf1),
      f16: (r) => (r.f16[3] = 9),
      sv: (r) => (r.sv[1]![1] = 1.5),
      svIndex: (r) => (r.sv[1]![0] = 101 + k),
      s: (r) => (r.s = 's-4!'),
      sNull: (r) => (r.s = null),
      b: (r) => (r.b = !r.b),
      i32: (r) => (r.i32 += 1),
      f: (r) => (r.f += 0.25),
      d: (r) => (r.d += 1e-9),
      j: (r) => (r.j = JSON.stringify({ n: k, tags: ['a', k], nested: { ok: false } })),
      ai: (r) => (r.ai = [...r.ai, 7]),
      as: (r) => (r.as = ['x4', 'z']),
      meta: (r) => (r.meta = JSON.stringify({ dyn: k, extra: 'f' })),
      metaKey: (r) => (r.meta = JSON.stringify({ dyn: k, extra: 'e', more: 1 })),
    };
    for (const [what, change] of Object.entries(changes)) {
      const changed = structuredClone(rows);
      change(changed[k]!);
      const h = columnHasher(SPEC)(reply(changed), changed.length)!;
      expect(h[k], what).not.toBe(whole.get(rows[k]!.id));
      for (let i = 0; i < rows.length; i++) if (i !== k) expect(h[i], `${what}: row ${i}`).toBe(whole.get(rows[i]!.id));
    }
  });

  it('hashes JSON and dynamic keys by value: key order and spacing do not matter, a missing $meta is an empty one', () => {
    const whole = hashes(rows);
    const respelled = rows.map((r) => ({ ...r, j: JSON.stringify(JSON.parse(r.j), null, 2), meta: JSON.stringify({ extra: 'e', dyn: r.id - 1000 }) }));
    expect(hashes(respelled)).toEqual(whole);
    const empty = rows.map((r) => ({ ...r, meta: '{}' }));
    expect(hashes(empty, { without: ['$meta'] })).toEqual(hashes(empty));
  });

  it('hashes a null the same whether the reply holds a placeholder for it or only the valid values', () => {
    expect(hashes(rows, { compactNulls: true })).toEqual(hashes(rows));
    // A null and an empty string are different values.
    const empty = rows.map((r) => ({ ...r, s: r.s ?? '' }));
    const h = hashes(empty);
    expect(h.get(1000)).not.toBe(hashes(rows).get(1000));
  });

  it('hashes a field the reply lacks as missing, distinct from any value, the same on every page', () => {
    const without = hashes(rows, { without: ['d'] });
    expect(without.get(1001)).not.toBe(hashes(rows).get(1001));
    expect(hashes(rows.slice(0, 5), { without: ['d'] }).get(1001)).toBe(without.get(1001));
  });
});
