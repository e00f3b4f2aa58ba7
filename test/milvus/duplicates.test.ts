import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { describeCollection, dropCollection, type CollectionSpec } from '../../lib/milvus';
import { DUPLICATE_EXAMPLES, duplicatesInRange, findDuplicateKeys } from '../../lib/milvus/duplicates';
import { clusters, DB, indexAndLoad, insertRows, uniqueName } from './helpers';

// Against milvus-lite, which keeps every row of a key inserted twice (count(*) counts them) and
// returns one per key to a query, as Milvus does.

const { source } = clusters();
const created: string[] = [];
const vector = (i: number) => [i % 7, (i * 3) % 11, 1, 0];

afterAll(async () => {
  for (const name of created) await dropCollection(source, DB, name);
  await source.close();
});

async function collection(pkType: 'Int64' | 'VarChar', keys: Array<string | number>, again: Array<string | number>): Promise<CollectionSpec> {
  const name = uniqueName('dups');
  created.push(name);
  const c = source.client(DB);
  await c.createCollection({
    collection_name: name,
    fields: [
      pkType === 'Int64' ? { name: 'id', data_type: DataType.Int64, is_primary_key: true } : { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 128 },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
    ],
  } as never);
  await indexAndLoad(c, name, [['v', 'AUTOINDEX', 'L2']]);
  await insertRows(c, name, keys.map((id, i) => ({ id, v: vector(i) })));
  await insertRows(c, name, again.map((id, i) => ({ id, v: vector(i + 1) })));
  return describeCollection(source, DB, name);
}

describe('duplicate primary keys of a key range', () => {
  const keys = Array.from({ length: 1_000 }, (_, i) => i);
  // 10 keys inserted twice, and key 500 a third time: 11 rows beyond one per key.
  const twice = [3, 100, 197, 294, 391, 488, 500, 585, 682, 779];
  let spec: CollectionSpec;
  beforeAll(async () => {
    spec = await collection('Int64', keys, [...twice, 500]);
  });

  it('counts the rows beyond one per key with one count(*) against the distinct keys copied, and names a few', async () => {
    const side = { cluster: source, db: DB, spec };
    const found = await duplicatesInRange(side, { lowerExclusive: null, upperInclusive: null }, keys.length);
    expect(found.rows).toBe(11);
    expect(found.examples.length).toBe(DUPLICATE_EXAMPLES);
    for (const key of found.examples) expect(twice.map(String)).toContain(key);
    expect(new Set(found.examples).size).toBe(found.examples.length);
  });

  it('bisects a range down to its duplicated keys, a key inserted three times included', async () => {
    const side = { cluster: source, db: DB, spec };
    // (450, 550] holds 100 keys and the duplicates of 488 (once) and 500 (twice).
    const found = await findDuplicateKeys(side, { lowerExclusive: '450', upperInclusive: '550' }, 3);
    expect(found).toEqual({ rows: 3, examples: ['488', '500'] });
  });

  it('does not take rows a copy missed for duplicates: only what the keys and counts confirm', async () => {
    const side = { cluster: source, db: DB, spec };
    // (450, 550] holds 100 keys and 3 duplicate rows; a copy that read only 95 of its keys sees 8 more rows than keys.
    const found = await duplicatesInRange(side, { lowerExclusive: '450', upperInclusive: '550' }, 95);
    expect(found).toEqual({ rows: 3, examples: ['488', '500'] });
  });

  it('reads no key when the range holds as many rows as the copy read keys', async () => {
    const side = { cluster: source, db: DB, spec };
    const reads = vi.spyOn(source, 'queryKeys');
    try {
      expect(await duplicatesInRange(side, { lowerExclusive: '800', upperInclusive: '999' }, 199)).toEqual({ rows: 0, examples: [] });
      expect(reads).not.toHaveBeenCalled();
    } finally {
      reads.mockRestore();
    }
  });

  it('finds VarChar keys holding quotes and backslashes, and stops without failing at a key no filter can hold', async () => {
    const names = [...Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, '0')}`), 'a"quote', 'back\\slash', 'new\nline'];
    const varchar = await collection('VarChar', names, ['a"quote', 'back\\slash', 'k150']);
    const side = { cluster: source, db: DB, spec: varchar };
    const found = await duplicatesInRange(side, { lowerExclusive: null, upperInclusive: null }, names.length);
    expect(found.rows).toBe(3);
    // The last key in key order ('new\nline') cannot bound a filter: the bisection splits elsewhere.
    expect(found.examples.sort()).toEqual(['a"quote', 'back\\slash', 'k150'].sort());
  });
});
