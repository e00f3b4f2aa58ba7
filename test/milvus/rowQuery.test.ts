import { afterAll, describe, expect, it } from 'vitest';
import { dropCollection } from '../../lib/milvus';
import { readTransformers } from '../../lib/milvus/batch';
import { queryRows, rowQuerySupported } from '../../lib/milvus/rowQuery';
import { clusters, createRichCollection, DB, indexAndLoad, insertRows, NASTY_PKS, RICH_FIELDS, RICH_INDEXES, richRows, uniqueName } from './helpers';

/** queryRows must give the rows the SDK's query() gives: the sync hashes and upserts them. */

const { source, target } = clusters();
const name = uniqueName('rowq');

afterAll(async () => {
  await dropCollection(source, DB, name);
  await Promise.all([source.close(), target.close()]);
});

describe('queryRows', () => {
  it('returns what the SDK query returns, for every field type, dynamic keys, nasty keys, offsets and empty pages', async () => {
    const client = source.client(DB);
    expect(rowQuerySupported(client)).toBe(true);
    const ids = [...NASTY_PKS, ...Array.from({ length: 40 }, (_, i) => `row-${i}`)];
    await createRichCollection(client, name);
    await insertRows(client, name, richRows(ids));
    await indexAndLoad(client, name, RICH_INDEXES);
    const outputFields = [...RICH_FIELDS.map((f) => f.name as string), '$meta'];

    const cases = [
      { filter: '', limit: 1000 },
      { filter: 'id > "row-1"', limit: 7 },
      { filter: 'id > "row-1"', limit: 7, offset: 5 },
      { filter: 'id > "zzz"', limit: 10 },
    ];
    for (const c of cases) {
      const q = { collection_name: name, output_fields: outputFields, transformers: readTransformers, ...c };
      const [raw, sdk] = await Promise.all([queryRows(client, q, 30_000), client.query({ ...q, consistency_level: 'Strong' } as never)]);
      expect(raw.status.error_code).toBe('Success');
      expect(raw.data).toEqual(sdk.data);
      // And the same keys in the same order (a hash over Object.keys would see a difference).
      expect(raw.data.map((r) => Object.keys(r))).toEqual(sdk.data.map((r: object) => Object.keys(r)));
    }
    const all = await queryRows(client, { collection_name: name, filter: '', output_fields: outputFields, limit: 1000, transformers: readTransformers }, 30_000);
    expect(all.data).toHaveLength(ids.length);
  });

  it('passes a failed status through, as the SDK does', async () => {
    const reply = await queryRows(source.client(DB), { collection_name: 'no_such_collection_x', filter: '', output_fields: ['id'], limit: 1 }, 30_000);
    expect(reply.status.error_code === 'Success' && reply.status.code === 0).toBe(false);
    expect(reply.data).toEqual([]);
  });
});
