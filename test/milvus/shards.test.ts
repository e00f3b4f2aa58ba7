import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { countRows, describeCollection, dropCollection, planShards, type PkRange } from '../../lib/milvus';
import { clusters, DB, indexAndLoad, insertRows, mustOk, uniqueName } from './helpers';

const { source, target } = clusters();
const created: string[] = [];

afterAll(async () => {
  for (const name of created) await dropCollection(source, DB, name);
  await Promise.all([source.close(), target.close()]);
});

async function collectionWith(type: 'Int64' | 'VarChar', ids: string[]): Promise<string> {
  const name = uniqueName(`shards_${type}`);
  created.push(name);
  const client = source.client(DB);
  await mustOk(
    client.createCollection({
      collection_name: name,
      fields: [
        type === 'Int64'
          ? { name: 'pk', data_type: DataType.Int64, is_primary_key: true }
          : { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      ],
    }),
  );
  await insertRows(client, name, ids.map((pk, i) => ({ pk, v: [i, 1] })), 10_000);
  await indexAndLoad(client, name, [['v', 'FLAT', 'L2']]);
  return name;
}

/** The PKs each shard holds, by filtering the ordered PK list the way copyShard's filter does on the server. */
async function shardMembers(name: string, type: 'Int64' | 'VarChar', shards: PkRange[]): Promise<string[][]> {
  const client = source.client(DB);
  const lit = (v: string) => (type === 'Int64' ? v : JSON.stringify(v));
  const out: string[][] = [];
  for (const s of shards) {
    const parts = [s.lowerExclusive === null ? '' : `pk > ${lit(s.lowerExclusive)}`, s.upperInclusive === null ? '' : `pk <= ${lit(s.upperInclusive)}`].filter(Boolean);
    const r = await mustOk(client.query({ collection_name: name, filter: parts.join(' && '), output_fields: ['pk'], limit: 16_384, consistency_level: 'Strong' as never }));
    out.push(r.data.map((row: { pk: string }) => String(row.pk)));
  }
  return out;
}

function expectChained(shards: PkRange[]): void {
  expect(shards[0].lowerExclusive).toBeNull();
  expect(shards[shards.length - 1].upperInclusive).toBeNull();
  for (let i = 1; i < shards.length; i++) expect(shards[i].lowerExclusive).toBe(shards[i - 1].upperInclusive);
}

describe('planShards', () => {
  it('splits Int64 PKs (negatives, gaps, beyond 2^53) into balanced ranges that cover every PK once', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => String(BigInt(i - 300) * 9_007_199_254_741n + (i % 2 === 0 ? 0n : 2n ** 60n)));
    const name = await collectionWith('Int64', ids);
    const shards = await planShards(source, DB, await describeCollection(source, DB, name), { rowsPerShard: 300 });
    expect(shards).toHaveLength(4);
    expectChained(shards);
    const members = await shardMembers(name, 'Int64', shards);
    expect(members.map((m) => m.length)).toEqual([250, 250, 250, 250]);
    expect(members.flat().sort()).toEqual([...ids].sort());
    expect(new Set(members.flat()).size).toBe(1000);
  });

  it('splits VarChar PKs with quotes, escapes and characters outside the BMP', async () => {
    const ids = Array.from({ length: 301 }, (_, i) => [`k${i}"q`, `k${i}\\b`, `k${i}\nn`, `😀${i}`, `é${i}\t`][i % 5] + i);
    const name = await collectionWith('VarChar', ids);
    const shards = await planShards(source, DB, await describeCollection(source, DB, name), { rowsPerShard: 100 });
    expect(shards).toHaveLength(4);
    expectChained(shards);
    const members = await shardMembers(name, 'VarChar', shards);
    for (const m of members) expect(m.length).toBeGreaterThanOrEqual(75);
    expect(members.flat().sort()).toEqual([...ids].sort());
    expect(new Set(members.flat()).size).toBe(301);
  });

  it('hops past the 16,384 offset limit and honours maxShards', async () => {
    const ids = Array.from({ length: 40_000 }, (_, i) => String(i * 2 + 1));
    const name = await collectionWith('Int64', ids);
    const spec = await describeCollection(source, DB, name);
    const two = await planShards(source, DB, spec, { rowsPerShard: 20_000 });
    expect(two).toEqual([
      { lowerExclusive: null, upperInclusive: '39999' }, // the 20,000th PK
      { lowerExclusive: '39999', upperInclusive: null },
    ]);
    const capped = await planShards(source, DB, spec, { rowsPerShard: 10, maxShards: 5 });
    expect(capped).toHaveLength(5);
    expect(capped.map((s) => s.upperInclusive)).toEqual(['15999', '31999', '47999', '63999', null]);
    // Far below rowsPerShard, the job's concurrency still splits it, but never below 10,000 rows a shard.
    const streams = await planShards(source, DB, spec, { rowsPerShard: 200_000, concurrency: 4 });
    expect(streams.map((s) => s.upperInclusive)).toEqual(['19999', '39999', '59999', null]);
    expect(await planShards(source, DB, spec, { rowsPerShard: 200_000, concurrency: 8 })).toHaveLength(4);
    expect(await countRows(source, DB, name)).toBe(40_000);
  });

  it('gives one unbounded shard for an empty collection and for a single row', async () => {
    const empty = await collectionWith('VarChar', []);
    expect(await planShards(source, DB, await describeCollection(source, DB, empty), { rowsPerShard: 10 })).toEqual([
      { lowerExclusive: null, upperInclusive: null },
    ]);
    const one = await collectionWith('Int64', ['42']);
    expect(await planShards(source, DB, await describeCollection(source, DB, one), { rowsPerShard: 1 })).toEqual([
      { lowerExclusive: null, upperInclusive: null },
    ]);
  });
});
