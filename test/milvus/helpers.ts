import { randomBytes } from 'node:crypto';
import { DataType, FunctionType, type FieldType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { expect, inject } from 'vitest';
import { testCluster, type TestCluster } from '../support/testCluster';

/** Shared by the Milvus layer tests: two milvus-lite clusters, unique names, row generators, readers. */

export const DB = 'default';

export function clusters(): { source: TestCluster; target: TestCluster } {
  return { source: testCluster({ uri: inject('milvusSourceUri') }), target: testCluster({ uri: inject('milvusTargetUri') }) };
}

export const uniqueName = (prefix: string): string => `${prefix}_${randomBytes(5).toString('hex')}`;

/** Deterministic pseudo-random numbers, so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export async function mustOk(reply: Promise<any>): Promise<any> {
  const r = await reply;
  const status = r?.status ?? r;
  expect(status?.code ?? 0, status?.reason).toBe(0);
  return r;
}

/** Inserts rows in chunks. */
export async function insertRows(client: MilvusClient, collection: string, rows: Record<string, unknown>[], chunk = 500): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) {
    const r = await mustOk(client.insert({ collection_name: collection, data: rows.slice(i, i + chunk) as never }));
    expect(Number(r.insert_cnt)).toBe(Math.min(chunk, rows.length - i));
  }
}

/** Indexes every vector field with what milvus-lite accepts, and loads. */
export async function indexAndLoad(client: MilvusClient, collection: string, vectors: Array<[string, string, string]>): Promise<void> {
  for (const [field, indexType, metric] of vectors) {
    await mustOk(client.createIndex({ collection_name: collection, field_name: field, index_type: indexType, metric_type: metric }));
  }
  await mustOk(client.loadCollection({ collection_name: collection }));
}

/** Every row, PK ordered, all readable fields (function outputs are never returned), in pages of `page` rows. */
export async function readAll(client: MilvusClient, collection: string, pk = 'id', page = 500): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let last: unknown = undefined;
  for (;;) {
    // JSON string literals escape the way Milvus expects (C-style) for every PK here.
    const filter = last === undefined ? '' : `${pk} > ${typeof last === 'string' && !/^-?\d+$/.test(last) ? JSON.stringify(last) : String(last)}`;
    const r = await mustOk(
      client.query({ collection_name: collection, filter, output_fields: ['*'], limit: page, consistency_level: 'Strong' as never }),
    );
    out.push(...r.data);
    if (r.data.length < page) return out;
    last = r.data[r.data.length - 1][pk];
  }
}

export async function count(client: MilvusClient, collection: string): Promise<number> {
  const r = await mustOk(
    client.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never }),
  );
  return Number(r.data[0]['count(*)']);
}

export async function pks(client: MilvusClient, collection: string, pk: string): Promise<string[]> {
  const r = await mustOk(
    client.query({ collection_name: collection, filter: '', output_fields: [pk], limit: 16_384, consistency_level: 'Strong' as never }),
  );
  return r.data.map((row: Record<string, unknown>) => String(row[pk]));
}

/** PKs that exercise escaping: quotes, backslashes, control characters, characters outside the BMP. */
export const NASTY_PKS = [
  'plain',
  'a"quote',
  "single'quote",
  'back\\slash',
  'trailing\\',
  '\\"both',
  'new\nline',
  'carriage\rreturn',
  'tab\there',
  'emoji😀outside-bmp',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '\uff01fullwidth',
  '',
  'z'.repeat(100),
];

/** Every field type milvus-lite supports, with defaults, a BM25 function and a dynamic field. */
export const RICH_FIELDS: FieldType[] = [
  { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 128, description: 'the key' },
  { name: 'b', data_type: DataType.Bool, default_value: true as never },
  { name: 'i8', data_type: DataType.Int8 },
  { name: 'i16', data_type: DataType.Int16 },
  { name: 'i32', data_type: DataType.Int32, default_value: 7 },
  { name: 'i64', data_type: DataType.Int64, default_value: '123456789012' },
  // No Float/Double default: with one, milvus-lite fails every DescribeCollection ("internal error").
  { name: 'f', data_type: DataType.Float },
  { name: 'd', data_type: DataType.Double },
  { name: 'txt', data_type: DataType.VarChar, max_length: 512, enable_analyzer: true, analyzer_params: { type: 'english' } },
  { name: 's', data_type: DataType.VarChar, max_length: 50, default_value: 'dflt' },
  { name: 'j', data_type: DataType.JSON },
  { name: 'ai', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 5 },
  { name: 'as', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 4, max_length: 10 },
  { name: 'al', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 3 },
  { name: 'fv', data_type: DataType.FloatVector, dim: 8 },
  { name: 'hv', data_type: DataType.Float16Vector, dim: 8 },
  { name: 'bfv', data_type: DataType.BFloat16Vector, dim: 8 },
  { name: 'bv', data_type: DataType.BinaryVector, dim: 16 },
  { name: 'sv', data_type: DataType.SparseFloatVector },
  { name: 'bm', data_type: DataType.SparseFloatVector },
];

export const RICH_INDEXES: Array<[string, string, string]> = [
  ['fv', 'FLAT', 'L2'],
  ['hv', 'FLAT', 'IP'],
  ['bfv', 'FLAT', 'COSINE'],
  ['bv', 'BIN_FLAT', 'JACCARD'],
  ['sv', 'SPARSE_INVERTED_INDEX', 'IP'],
  ['bm', 'SPARSE_INVERTED_INDEX', 'BM25'],
];

export async function createRichCollection(client: MilvusClient, name: string): Promise<void> {
  await mustOk(
    client.createCollection({
      collection_name: name,
      description: 'rich collection',
      enable_dynamic_field: true,
      fields: RICH_FIELDS,
      functions: [{ name: 'bm_fn', type: FunctionType.BM25, input_field_names: ['txt'], output_field_names: ['bm'], params: {} }],
    }),
  );
}

export function richRows(ids: string[], seed = 1): Record<string, unknown>[] {
  const r = rng(seed);
  const vec = (n: number) => Array.from({ length: n }, () => Math.round((r() * 2 - 1) * 1000) / 1000);
  return ids.map((id, i) => {
    const row: Record<string, unknown> = {
      id,
      b: i % 3 === 0,
      i8: (i % 255) - 127,
      i16: i * 7 - 1000,
      i32: i % 4 === 0 ? 7 : i * 1001,
      i64: i % 5 === 0 ? '123456789012' : String(9_007_199_254_740_993n + BigInt(i)),
      f: r() * 100,
      d: r() * 1e12,
      txt: `document ${i} about ${['cats', 'dogs', 'milvus', 'vectors'][i % 4]} "quoted" and \\ slashes`,
      s: i % 2 === 0 ? 'dflt' : `s-${i}`,
      j: { n: i, nested: { list: [1, 'two', { three: [i, null, true] }], text: 'é"\\\n' }, big: 12345678901 },
      ai: Array.from({ length: i % 6 }, (_, k) => k * i),
      as: Array.from({ length: i % 5 }, (_, k) => `e${k}"\\`.slice(0, 10)),
      al: [String(2n ** 60n + BigInt(i)), '-5'],
      fv: vec(8),
      hv: vec(8),
      bfv: vec(8),
      bv: [i % 256, (i * 7) % 256],
      sv: { [String(i % 50)]: 0.5 + r(), [String(1000 + i)]: 1.25 },
    };
    // Dynamic keys on some rows only, nested values included.
    if (i % 2 === 1) Object.assign(row, { dyn_str: `dyn ${i}`, dyn_obj: { deep: { k: [i, 'x'] } } });
    if (i % 3 === 1) row.dyn_num = i * 0.25;
    return row;
  });
}
