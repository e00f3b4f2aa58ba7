import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';

/**
 * Runs one small script of calls against the fake server and against a real milvus-lite server and
 * compares the answers for what both support, so the fake is known to speak like the real thing.
 * Known milvus-lite differences that are NOT compared (real Milvus behaves like the fake): lite answers
 * shards_num 0, consistency "Strong" and empty collection_name/db_name in DescribeCollection, sets only
 * `code` (not `error_code`) in error statuses, and queries collections that are not loaded.
 */
type Answers = Record<string, unknown>;

const drop = (o: any, ...keys: string[]) => {
  const copy = { ...o };
  for (const k of keys) delete copy[k];
  return copy;
};

async function script(uri: string, name: string): Promise<Answers> {
  const c = new MilvusClient({ address: uri, telemetry: { enabled: false } } as any);
  const out: Answers = {};
  try {
    out.create = await c.createCollection({
      collection_name: name,
      description: 'parity',
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'vec', data_type: DataType.FloatVector, dim: 4 },
        { name: 'title', data_type: DataType.VarChar, max_length: 64 },
        { name: 'score', data_type: DataType.Double },
        { name: 'tags', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 4 },
        { name: 'doc', data_type: DataType.JSON },
        { name: 'dv', data_type: DataType.Int64, default_value: 7 },
      ],
    });
    const d: any = await c.describeCollection({ collection_name: name });
    out.describe = {
      status: d.status,
      schema: drop(d.schema, 'dbName'),
      aliases: d.aliases,
      properties: d.properties,
      num_partitions: d.num_partitions,
    };
    out.createIndex = await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'IVF_FLAT', metric_type: 'L2', params: { nlist: 16 } });
    out.describeIndex = (await c.describeIndex({ collection_name: name, field_name: 'vec' })).index_descriptions.map((i) => drop(i, 'indexID'));
    out.insert = drop(
      await c.insert({
        collection_name: name,
        data: [3, 1, 2, 5, 4].map((i) => ({ id: i, vec: [i, 0, 0, 1], title: `t"${i}\n`, score: i / 2, tags: [i, i + 1], doc: { a: i }, dv: i, extra: `e${i}` })),
      }),
      'timestamp',
    );
    await c.loadCollectionSync({ collection_name: name });
    out.loadState = (await c.getLoadState({ collection_name: name })).state;
    out.query = await c.query({ collection_name: name, filter: 'id > 1 && id <= 4', output_fields: ['*'] });
    out.queryFields = await c.query({ collection_name: name, filter: 'id in [5, 1]', output_fields: ['title', 'extra'] });
    out.queryString = await c.query({ collection_name: name, filter: 'title > "t\\"2\\n" and (id < 4 or id == 5)', output_fields: ['id'] });
    out.queryPage = await c.query({ collection_name: name, filter: '', limit: 2, offset: 1, output_fields: ['id'] });
    out.queryNoLimitCode = (await c.query({ collection_name: name, filter: '', output_fields: ['id'] })).status.code;
    out.count = await c.count({ collection_name: name });
    out.countFiltered = await c.count({ collection_name: name, filter: 'id < 3 || id == 5' } as any);
    out.delete = drop(await c.delete({ collection_name: name, filter: 'id in [2]' } as any), 'timestamp');
    out.afterDelete = await c.query({ collection_name: name, filter: 'id >= 0', output_fields: ['id', 'dv'] });
    await c.flushSync({ collection_names: [name] });
    out.stats = (await c.getCollectionStatistics({ collection_name: name })).data;
    out.dropMissing = await c.dropCollection({ collection_name: `${name}_missing` });
    out.loadStateMissing = await c.getLoadState({ collection_name: `${name}_missing` });
  } finally {
    await c.releaseCollection({ collection_name: name }).catch(() => undefined);
    out.drop = await c.dropCollection({ collection_name: name });
    await c.closeConnection();
  }
  return out;
}

let fake: FakeMilvus;
beforeAll(async () => {
  fake = await startFakeMilvus();
});
afterAll(async () => {
  await fake.stop();
});

describe('fake Milvus parity with milvus-lite', () => {
  it('answers the same script like milvus-lite', async () => {
    const name = `fake_parity_${process.pid}_${Date.now()}`;
    const real = await script(inject('milvusSourceUri'), name);
    const ours = await script(fake.uri, name);
    // the script did run against the real server
    expect((real.count as any).data).toBe(5);
    expect((real.query as any).data.map((r: any) => r.id)).toEqual(['2', '3', '4']);
    for (const key of Object.keys(real)) {
      expect.soft(ours[key], key).toEqual(real[key]);
    }
    expect(Object.keys(ours)).toEqual(Object.keys(real));
  });
});
