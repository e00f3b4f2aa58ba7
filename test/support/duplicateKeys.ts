import { DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { expect } from 'vitest';
import { client } from './rows';

/**
 * A source whose application inserted some keys twice, as Milvus allows: `count(*)` counts every
 * row, a query returns one row per key, the later insert (measured on milvus-lite as on Milvus:
 * 1,000 keys, 10 inserted twice, count(*) 1,010, queries 1,000 rows, each duplicated key showing
 * its second version, before and after a flush).
 */

const DIM = 8;

const vector = (id: number, version: number): number[] => Array.from({ length: DIM }, (_, i) => ((id * 31 + i * 7 + version * 13) % 97) / 97);
const row = (id: number, version: number) => ({ id, version, title: `item ${id} v${version}`, embedding: vector(id, version) });

/** Every `step`-th key from 3 on, `count` of them: spread over the key space (and over several shards). */
export const spreadKeys = (count: number, step: number, from = 3): number[] => Array.from({ length: count }, (_, i) => from + i * step);

/**
 * Creates `collection` with keys 0..rows-1 (version 1), then inserts the keys `duplicated` again
 * (version 2, other vectors): count(*) is rows + duplicated.length, a query sees version 2 of those.
 */
export async function createCollectionWithDuplicateKeys(uri: string, collection: string, rows: number, duplicated: readonly number[]): Promise<void> {
  const c = client(uri);
  try {
    await c.createCollection({
      collection_name: collection,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'version', data_type: DataType.Int64 },
        { name: 'title', data_type: DataType.VarChar, max_length: 64 },
        { name: 'embedding', data_type: DataType.FloatVector, dim: DIM },
      ],
    } as never);
    await c.createIndex({ collection_name: collection, field_name: 'embedding', index_type: 'AUTOINDEX', metric_type: 'L2' } as never);
    await c.loadCollection({ collection_name: collection });
    for (let from = 0; from < rows; from += 500) {
      await c.insert({ collection_name: collection, data: Array.from({ length: Math.min(500, rows - from) }, (_, i) => row(from + i, 1)) });
    }
    await c.flush({ collection_names: [collection] });
    await insertAgain(uri, collection, duplicated, 2, c);
    // What the job will meet: every row counted, one returned per key.
    expect(await countAll(uri, collection)).toBe(rows + duplicated.length);
    expect((await distinctRows(uri, collection)).length).toBe(rows);
  } finally {
    await c.closeConnection();
  }
}

/** Inserts the keys again (the application's mistake) as `version`. */
export async function insertAgain(uri: string, collection: string, keys: readonly number[], version: number, open?: MilvusClient): Promise<void> {
  const c = open ?? client(uri);
  try {
    await c.insert({ collection_name: collection, data: keys.map((id) => row(id, version)) });
  } finally {
    if (!open) await c.closeConnection();
  }
}

export async function countAll(uri: string, collection: string): Promise<number> {
  const c = client(uri);
  try {
    const reply = await c.query({ collection_name: collection, filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' } as never);
    return Number(reply.data[0]?.['count(*)']);
  } finally {
    await c.closeConnection();
  }
}

/** Every row a query returns (one per key), in key order, every field. */
export async function distinctRows(uri: string, collection: string): Promise<Array<Record<string, unknown>>> {
  const c = client(uri);
  try {
    const rows: Array<Record<string, unknown>> = [];
    for (let after = -1; ; ) {
      const page = (await c.query({ collection_name: collection, filter: `id > ${after}`, output_fields: ['*'], limit: 500, consistency_level: 'Strong' } as never)).data as Array<Record<string, unknown>>;
      if (page.length === 0) break;
      page.sort((a, b) => Number(a.id) - Number(b.id));
      rows.push(...page);
      after = Number(page[page.length - 1]!.id);
    }
    return rows;
  } finally {
    await c.closeConnection();
  }
}
