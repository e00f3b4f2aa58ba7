import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';

let server: FakeMilvus;
let c: MilvusClient;

beforeAll(async () => {
  server = await startFakeMilvus();
  c = new MilvusClient({ address: server.uri, telemetry: { enabled: false } } as any);
});
afterAll(async () => {
  await c.closeConnection();
  await server.stop();
});

async function ready(collection_name: string, vectorField: string, metric_type = 'L2') {
  await c.createIndex({ collection_name, field_name: vectorField, index_type: 'AUTOINDEX', metric_type });
  await c.loadCollection({ collection_name });
}

describe('fake Milvus: data through the real SDK', () => {
  it('round-trips every field type, nulls, defaults and dynamic keys', async () => {
    const created = await c.createCollection({
      collection_name: 'all_types',
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'f', data_type: DataType.FloatVector, dim: 2 },
        { name: 'b', data_type: DataType.BinaryVector, dim: 16 },
        { name: 'h', data_type: DataType.Float16Vector, dim: 2 },
        { name: 'bf', data_type: DataType.BFloat16Vector, dim: 2 },
        { name: 'sp', data_type: DataType.SparseFloatVector },
        { name: 'flag', data_type: DataType.Bool },
        { name: 'i8', data_type: DataType.Int8 },
        { name: 'i16', data_type: DataType.Int16 },
        { name: 'i32', data_type: DataType.Int32, nullable: true },
        { name: 'dbl', data_type: DataType.Double },
        { name: 'flt', data_type: DataType.Float },
        { name: 'name', data_type: DataType.VarChar, max_length: 32, nullable: true, default_value: 'anon' },
        { name: 'arr', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 4 },
        { name: 'js', data_type: DataType.JSON, nullable: true },
      ],
    } as any);
    expect(created.error_code).toBe('Success');
    const rows = [
      { id: 2, f: [0.5, 1], b: [0b10000001, 0xff], h: [1, 2], bf: [0.5, -2], sp: { 3: 0.5, 10: 1 }, flag: true, i8: -3, i16: 300, i32: 7, dbl: 1.25, flt: 0.5, name: 'bob', arr: [1, 2], js: { a: [1, 'x'] }, color: 'red' },
      { id: 1, f: [2, 3], b: [0, 1], h: [0, 0.5], bf: [1, 1], sp: { 0: 2 }, flag: false, i8: 4, i16: -5, i32: null, dbl: -1, flt: 2, name: null, arr: [], js: null },
    ];
    const ins = await c.insert({ collection_name: 'all_types', data: rows });
    expect(ins.insert_cnt).toBe('2');
    expect((ins.IDs as any).int_id.data).toEqual(['2', '1']);
    await c.createIndex({ collection_name: 'all_types', field_name: 'f', index_type: 'AUTOINDEX', metric_type: 'L2' });
    // every vector field needs an index before loading
    await expect(c.loadCollection({ collection_name: 'all_types' })).rejects.toThrow(/IndexNotExist/);
    for (const [field, metric] of [['b', 'HAMMING'], ['h', 'L2'], ['bf', 'L2'], ['sp', 'IP']]) {
      await c.createIndex({ collection_name: 'all_types', field_name: field, index_type: 'AUTOINDEX', metric_type: metric });
    }
    await c.loadCollection({ collection_name: 'all_types' });
    const res = await c.query({ collection_name: 'all_types', filter: 'id >= 0', output_fields: ['*'] });
    expect(res.status.error_code).toBe('Success');
    expect(res.data.map((r) => r.id)).toEqual(['1', '2']);
    const [one, two] = res.data;
    expect(two).toMatchObject({ f: [0.5, 1], flag: true, i8: -3, i16: 300, i32: 7, dbl: 1.25, flt: 0.5, name: 'bob', arr: ['1', '2'], js: { a: [1, 'x'] } });
    expect(two.b).toEqual([0b10000001, 0xff]);
    expect(two.h).toEqual([1, 2]);
    expect(two.bf).toEqual([0.5, -2]);
    expect(two.sp).toEqual({ 3: 0.5, 10: 1 });
    expect(two.$meta).toEqual({ color: 'red' });
    // nullable without default -> null; nullable with default -> the default (as Milvus fills it)
    expect(one).toMatchObject({ i32: null, name: 'anon', js: null, arr: [], sp: { 0: 2 } });
    const dyn = await c.query({ collection_name: 'all_types', filter: 'color == "red"', output_fields: ['color'] });
    // as on milvus-lite: a dynamic key asked by name comes back inside `$meta`
    expect(dyn.data).toEqual([{ id: '2', $meta: { color: 'red' } }]);
    const nullCmp = await c.query({ collection_name: 'all_types', filter: 'i32 < 100', output_fields: ['id'] });
    expect(nullCmp.data).toEqual([{ id: '2' }]);
  });

  it('refuses inserts that real Milvus refuses', async () => {
    await c.createCollection({
      collection_name: 'strict',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'must', data_type: DataType.Int32 },
        { name: 's', data_type: DataType.VarChar, max_length: 3 },
      ],
    });
    const tooLong = await c.insert({ collection_name: 'strict', data: [{ id: 1, v: [1, 2], must: 1, s: 'abcd' }] });
    expect(tooLong.status).toMatchObject({ code: 1100, error_code: 'IllegalArgument' });
    expect(tooLong.status.reason).toContain('max length');
    const missing = await c.insert({ collection_name: 'strict', data: [{ id: 1, v: [1, 2], s: 'a' }] });
    expect(missing.status.code).toBe(1100);
    const unknown = await c.insert({ collection_name: 'nope', data: [{ id: 1 }] }).catch((e) => e);
    expect(unknown.status?.code ?? unknown.code).toBe(100);
  });

  it('keeps rows per partition and queries by partition', async () => {
    await c.createCollection({
      collection_name: 'by_year',
      fields: [
        { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 32 },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'n', data_type: DataType.Int64 },
      ],
    });
    await c.createPartition({ collection_name: 'by_year', partition_name: 'y2023' });
    await c.createPartition({ collection_name: 'by_year', partition_name: 'y2024' });
    await c.insert({ collection_name: 'by_year', partition_name: 'y2023', data: [{ id: 'b', v: [1, 1], n: 1 }, { id: 'a', v: [1, 1], n: 2 }] });
    await c.insert({ collection_name: 'by_year', partition_name: 'y2024', data: [{ id: 'c', v: [1, 1], n: 3 }] });
    await c.insert({ collection_name: 'by_year', data: [{ id: 'd', v: [1, 1], n: 4 }] });
    const bad = await c.insert({ collection_name: 'by_year', partition_name: 'y1999', data: [{ id: 'x', v: [1, 1], n: 0 }] });
    expect(bad.status.code).toBe(200);
    await ready('by_year', 'v');
    const q = (partition_names?: string[]) =>
      c.query({ collection_name: 'by_year', filter: 'n > 0', output_fields: ['id'], partition_names }).then((r) => r.data.map((x) => x.id));
    expect(await q(['y2023'])).toEqual(['a', 'b']);
    expect(await q(['y2024', '_default'])).toEqual(['c', 'd']);
    expect(await q()).toEqual(['a', 'b', 'c', 'd']);
    const counted = await c.query({ collection_name: 'by_year', filter: '', output_fields: ['count(*)'], partition_names: ['y2023'] });
    expect(counted.data).toEqual([{ 'count(*)': '2' }]);
    const stats = await c.getCollectionStatistics({ collection_name: 'by_year' });
    expect(stats.data.row_count).toBe('4');
  });

  it('spreads partition-key rows over hash partitions and refuses manual partition names', async () => {
    await c.createCollection({
      collection_name: 'tenants',
      num_partitions: 4,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'tenant', data_type: DataType.VarChar, max_length: 16, is_partition_key: true },
      ],
    } as any);
    const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];
    const ins = await c.insert({ collection_name: 'tenants', data: tenants.map((tenant) => ({ v: [1, 0], tenant })) });
    const ids: string[] = (ins.IDs as any).int_id.data;
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
    const used = [...server.state.databases.get('default')!.collections.get('tenants')!.partitions.values()].filter((p) => p.rows.size > 0);
    expect(used.length).toBeGreaterThan(1);
    const manual = await c.insert({ collection_name: 'tenants', partition_name: '_default_0', data: [{ v: [1, 0], tenant: 'x' }] });
    expect(manual.status.code).toBe(1100);
    await ready('tenants', 'v');
    const acme = await c.query({ collection_name: 'tenants', filter: 'tenant == "acme"', output_fields: ['tenant'] });
    expect(acme.data.map((r) => r.tenant)).toEqual(['acme']);
  });

  it('evaluates the filter forms the migration uses, with PK order, limit and offset', async () => {
    await c.createCollection({
      collection_name: 'strings',
      fields: [
        { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'n', data_type: DataType.Int64 },
      ],
    });
    const keys = ['a', 'b"q', 'back\\slash', 'new\nline', 'tab\tx', 'z', '\u{1F600}', '\uFFFD'];
    await c.insert({ collection_name: 'strings', data: keys.map((pk, i) => ({ pk, v: [0, 0], n: String(9007199254740990n + BigInt(i)) })) });
    await ready('strings', 'v');
    const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
    const ids = async (filter: string, extra: object = {}) =>
      (await c.query({ collection_name: 'strings', filter, output_fields: ['pk'], ...extra })).data.map((r) => r.pk);
    // UTF-8 byte order: U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80)
    expect(await ids('pk >= ""')).toEqual(['a', 'b"q', 'back\\slash', 'new\nline', 'tab\tx', 'z', '\uFFFD', '\u{1F600}']);
    expect(await ids(`pk > "${esc('back\\slash')}"`)).toEqual(['new\nline', 'tab\tx', 'z', '\uFFFD', '\u{1F600}']);
    expect(await ids(`pk in ["${esc('b"q')}", "${esc('new\nline')}"]`)).toEqual(['b"q', 'new\nline']);
    expect(await ids(`(pk == "a" || pk == "z") and n >= 9007199254740990`)).toEqual(['a', 'z']);
    expect(await ids('n > 9007199254740994 && n <= 9007199254740996')).toEqual(['z', '\u{1F600}']);
    expect(await ids('pk < "b"')).toEqual(['a']);
    expect(await ids('', { limit: 3, offset: 2 })).toEqual(['back\\slash', 'new\nline', 'tab\tx']);
    const bad = await c.query({ collection_name: 'strings', filter: 'pk >>> 3' });
    expect(bad.status.code).toBe(1100);
    const count = await c.count({ collection_name: 'strings', filter: 'pk != "a"' } as any);
    expect(count.data).toBe(7);
  });

  it('upserts, deletes by expression and refuses queries on released collections', async () => {
    await c.createCollection({
      collection_name: 'mut',
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
        { name: 'w', data_type: DataType.Int32 },
      ],
    });
    await c.insert({ collection_name: 'mut', data: [1, 2, 3, 4].map((id) => ({ id, v: [id, 0], w: id })) });
    const up = await c.upsert({ collection_name: 'mut', data: [{ id: 2, v: [9, 9], w: 20, extra: true }] });
    expect(up.upsert_cnt).toBe('1');
    const del = await c.delete({ collection_name: 'mut', filter: 'id in [1, 3] || w > 100' } as any);
    expect(del.delete_cnt).toBe('2');
    await c.flush({ collection_names: ['mut'] });
    await ready('mut', 'v');
    const res = await c.query({ collection_name: 'mut', filter: 'id > 0', output_fields: ['*'] });
    expect(res.data).toEqual([
      { id: '2', v: [9, 9], w: 20, $meta: { extra: true } },
      { id: '4', v: [4, 0], w: 4, $meta: {} },
    ]);
    await c.releaseCollection({ collection_name: 'mut' });
    const unloaded = await c.query({ collection_name: 'mut', filter: 'id > 0' });
    expect(unloaded.status.code).toBe(101);
  });
});
