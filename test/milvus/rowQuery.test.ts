import { afterAll, describe, expect, it } from 'vitest';
import { dropCollection } from '../../lib/milvus';
import { readTransformers } from '../../lib/milvus/gateway/rowCodec';
import { clusters, createRichCollection, DB, indexAndLoad, insertRows, NASTY_PKS, RICH_FIELDS, RICH_INDEXES, richRows, uniqueName } from './helpers';

/** The gateway's queryRows (raw channel, SDK codecs) must give the rows the SDK's query() gives: the sync hashes and upserts them. */

const { source, target } = clusters();
const name = uniqueName('rowq');

afterAll(async () => {
  await dropCollection(source, DB, name);
  await Promise.all([source.close(), target.close()]);
});

describe('queryRows', () => {
  it('returns what the SDK query returns, for every field type, dynamic keys, nasty keys, offsets and empty pages', async () => {
    const client = source.client(DB);
    expect(source.supportsColumns()).toBe(true);
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
      const [raw, sdk] = await Promise.all([
        source.queryRows(DB, { collection: name, pkField: 'id', filter: c.filter, outputFields, limit: c.limit, offset: c.offset, timeoutMs: 30_000 }),
        client.query({ ...q, consistency_level: 'Strong' } as never),
      ]);
      expect(raw).toEqual(sdk.data);
      // And the same keys in the same order (a hash over Object.keys would see a difference).
      expect(raw.map((r) => Object.keys(r))).toEqual(sdk.data.map((r: object) => Object.keys(r)));
    }
    const all = await source.queryRows(DB, { collection: name, pkField: 'id', filter: '', outputFields, limit: 1000, timeoutMs: 30_000 });
    expect(all).toHaveLength(ids.length);
  });

  it('turns a failed status into a domain error naming the read', async () => {
    await expect(source.queryRows(DB, { collection: 'no_such_collection_x', pkField: 'id', filter: '', outputFields: ['id'], limit: 1, timeoutMs: 30_000 })).rejects.toMatchObject({
      name: 'PermanentError',
      code: 'COLLECTION_NOT_FOUND',
      message: expect.stringContaining('read no_such_collection_x'),
    });
  });
});
