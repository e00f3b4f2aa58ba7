import { afterAll, describe, expect, it } from 'vitest';
import { DataType } from '@zilliz/milvus2-sdk-node';
import {
  copyShard,
  countRows,
  createCollection,
  describeCollection,
  dropCollection,
  planShards,
  translateSchema,
  type CollectionSpec,
  type PkRange,
} from '../../lib/milvus';
import {
  clusters,
  count,
  createRichCollection,
  DB,
  indexAndLoad,
  insertRows,
  mustOk,
  NASTY_PKS,
  pks,
  readAll,
  RICH_INDEXES,
  richRows,
  rng,
  uniqueName,
} from './helpers';

const { source, target } = clusters();
const created: Array<[typeof source, string]> = [];
const FAR = () => Date.now() + 10 * 60_000;
const ALL: PkRange = { lowerExclusive: null, upperInclusive: null };

afterAll(async () => {
  for (const [cluster, name] of created) await dropCollection(cluster, DB, name);
  await Promise.all([source.close(), target.close()]);
});

async function sourceRich(ids: string[]): Promise<CollectionSpec> {
  const name = uniqueName('copy_src');
  created.push([source, name]);
  await createRichCollection(source.client(DB), name);
  await insertRows(source.client(DB), name, richRows(ids));
  await indexAndLoad(source.client(DB), name, RICH_INDEXES);
  return describeCollection(source, DB, name);
}

async function newTarget(sourceSpec: CollectionSpec): Promise<CollectionSpec> {
  const targetName = uniqueName('copy_dst');
  created.push([target, targetName]);
  const { spec } = translateSchema(sourceSpec, { targetName, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
  await createCollection(target, DB, spec);
  return spec;
}

/** Runs copyShard to completion, collecting every onBatch call. */
async function copyAll(sourceSpec: CollectionSpec, targetSpec: CollectionSpec, range: PkRange, batchBytes: number, checkpoint: string | null = null) {
  const batches: Array<{ checkpoint: string; rows: number }> = [];
  let rowsCopied = 0;
  for (;;) {
    const r = await copyShard({
      source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range, checkpoint, batchBytes, deadline: FAR(),
      onBatch: async (p) => {
        batches.push(p);
        checkpoint = p.checkpoint;
      },
    });
    rowsCopied += r.rowsCopied;
    if (r.done) return { batches, rowsCopied };
  }
}

async function expectSameRows(sourceSpec: CollectionSpec, targetSpec: CollectionSpec): Promise<void> {
  const [s, t] = await Promise.all([readAll(source.client(DB), sourceSpec.name, sourceSpec.primaryField), readAll(target.client(DB), targetSpec.name, targetSpec.primaryField)]);
  expect(t.length).toBe(s.length);
  expect(t).toEqual(s);
  expect(await countRows(target, DB, targetSpec.name)).toBe(s.length);
}

describe('copyShard', () => {
  it('copies every field type, nasty VarChar PKs, nested JSON, dynamic keys, arrays, sparse vectors and defaults, field by field', async () => {
    const ids = [...NASTY_PKS, ...Array.from({ length: 60 }, (_, i) => `row-${i}`)];
    const sourceSpec = await sourceRich(ids);
    const targetSpec = await newTarget(sourceSpec);
    const { batches, rowsCopied } = await copyAll(sourceSpec, targetSpec, ALL, 8 * 1024);
    expect(rowsCopied).toBe(ids.length);
    expect(batches.length).toBeGreaterThan(2);
    expect(batches.reduce((n, b) => n + b.rows, 0)).toBe(ids.length);
    await expectSameRows(sourceSpec, targetSpec);

    const rows = await readAll(target.client(DB), targetSpec.name);
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    expect([...byId.keys()].sort()).toEqual([...ids].sort());
    // Row index 15 (14 nasty PKs come first): dynamic keys survive, including nested ones.
    expect(byId.get('row-1')!.$meta).toEqual({ dyn_str: 'dyn 15', dyn_obj: { deep: { k: [15, 'x'] } } });
    expect(byId.get('row-0')!.$meta).toEqual({});
    // Int64 beyond 2^53 keeps every digit; default-valued fields carry what the rows held.
    expect(byId.get('plain')!.i64).toBe('123456789012');
    expect(byId.get('a"quote')!.i64).toBe('9007199254740994');
    expect(byId.get('a"quote')!.al).toEqual(['1152921504606846977', '-5']);
    expect(byId.get('a"quote')!.s).toBe('s-1');
    expect(byId.get("single'quote")!.s).toBe('dflt');
  });

  it('writes at most batchRows rows per batch however many the byte budget would hold', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const sourceSpec = await sourceRich(ids);
    const targetSpec = await newTarget(sourceSpec);
    const batches: number[] = [];
    let checkpoint: string | null = null;
    for (;;) {
      const r = await copyShard({
        source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint, batchBytes: 4 * 1024 * 1024, batchRows: 7, deadline: FAR(),
        onBatch: async (p) => {
          batches.push(p.rows);
          checkpoint = p.checkpoint;
        },
      });
      if (r.done) break;
    }
    expect(batches).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    await expectSameRows(sourceSpec, targetSpec);
  });

  it('resumes after a crash at any batch, with or without the checkpoint saved, and with rows written past it', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(3, '0')}${['"', '\\', '\n', '😀', ''][i % 5]}`);
    const sourceSpec = await sourceRich(ids);
    const reference = await newTarget(sourceSpec);
    const { batches } = await copyAll(sourceSpec, reference, ALL, 12 * 1024);
    const n = batches.length;
    expect(n).toBeGreaterThanOrEqual(4);
    const sourceRows = await readAll(source.client(DB), sourceSpec.name);

    for (let k = 1; k <= n; k++) {
      for (const savedBeforeCrash of [true, false]) {
        const targetSpec = await newTarget(sourceSpec);
        let saved: string | null = null;
        let seen = 0;
        const crash = await copyShard({
          source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint: null, batchBytes: 12 * 1024, deadline: FAR(),
          onBatch: async (p) => {
            seen += 1;
            if (seen === k && !savedBeforeCrash) throw new Error('crash between the write and the checkpoint');
            saved = p.checkpoint;
            if (seen === k) throw new Error('crash after the checkpoint');
          },
        }).catch((e: Error) => e);
        expect(crash).toBeInstanceOf(Error);
        // A crashed later invocation may also have written rows past the checkpoint: write the next rows by hand.
        const after = sourceRows.filter((r) => saved === null || Buffer.compare(Buffer.from(r.id as string), Buffer.from(saved)) > 0).slice(0, 7);
        if (after.length) await insertRows(target.client(DB), targetSpec.name, after);
        await copyAll(sourceSpec, targetSpec, ALL, 12 * 1024, saved);
        expect(await count(target.client(DB), targetSpec.name)).toBe(ids.length);
        expect((await pks(target.client(DB), targetSpec.name, 'id')).sort()).toEqual([...ids].sort());
        await dropCollection(target, DB, targetSpec.name);
      }
    }
    await expectSameRows(sourceSpec, reference);
  });

  it('pages through groups of keys that share a line break or tab in the middle, across shards, and resumes inside a group', async () => {
    // milvus-lite compares an escaped \n or \t in a filter as a backslash and a letter: a cursor
    // like "a\nb-007" would skip the rest of its group. Each group here spans several batches.
    const ids = ['line\nbreak', 'tab\there', 'cr\rreturn', 'plain'].flatMap((p) => Array.from({ length: 40 }, (_, i) => `${p}-${String(i).padStart(3, '0')}`));
    const sourceSpec = await sourceRich(ids);
    const shards = await planShards(source, DB, sourceSpec, { rowsPerShard: 30 });
    expect(shards.length).toBeGreaterThan(1);
    // Boundaries are values every filter can hold.
    for (const s of shards) expect(s.upperInclusive ?? '').not.toMatch(/[\n\r]/);

    const targetSpec = await newTarget(sourceSpec);
    let total = 0;
    for (const shard of shards) {
      // Crash after the third checkpoint (inside a group), then resume from it.
      let saved: string | null = null;
      let seen = 0;
      let counted = 0;
      await copyShard({
        source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: shard, checkpoint: null, batchBytes: 6 * 1024, deadline: FAR(),
        onBatch: async (p) => {
          seen += 1;
          saved = p.checkpoint;
          counted += p.rows;
          if (seen === 3) throw new Error('crash');
        },
      }).catch(() => undefined);
      const rest = await copyAll(sourceSpec, targetSpec, shard, 6 * 1024, saved);
      total += counted + rest.rowsCopied;
    }
    // Rows counted once each, none missing, none duplicated.
    expect(total).toBe(ids.length);
    expect(await count(target.client(DB), targetSpec.name)).toBe(ids.length);
    expect((await pks(target.client(DB), targetSpec.name, 'id')).sort()).toEqual([...ids].sort());
  });

  it('stops at the deadline without starting a batch, then continues to done', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `d${i}`);
    const sourceSpec = await sourceRich(ids);
    const targetSpec = await newTarget(sourceSpec);
    const base = { source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, batchBytes: 8 * 1024 };

    const none = await copyShard({ ...base, checkpoint: null, deadline: Date.now() - 1, onBatch: async () => { throw new Error('no batch expected'); } });
    expect(none).toEqual({ done: false, rowsCopied: 0 });

    // The first batch's onBatch waits until the deadline has passed: no second batch may start.
    // The deadline leaves time for the reads before the first batch (20 ms did not, on a busy machine).
    const deadline = Date.now() + 3_000;
    let checkpoint: string | null = null;
    const first = await copyShard({
      ...base, checkpoint: null, deadline,
      onBatch: async (p) => {
        checkpoint = p.checkpoint;
        while (Date.now() <= deadline) await new Promise((r) => setTimeout(r, 5));
      },
    });
    expect(first.done).toBe(false);
    expect(first.rowsCopied).toBeGreaterThan(0);
    expect(first.rowsCopied).toBeLessThan(ids.length);
    expect(await count(target.client(DB), targetSpec.name)).toBe(first.rowsCopied);

    const rest = await copyAll(sourceSpec, targetSpec, ALL, 8 * 1024, checkpoint);
    expect(first.rowsCopied + rest.rowsCopied).toBe(ids.length);
    await expectSameRows(sourceSpec, targetSpec);
  });

  it('copies planned shards of an autoID Int64 collection, keeping its PKs, each shard only its own range', async () => {
    const name = uniqueName('copy_auto');
    created.push([source, name]);
    const client = source.client(DB);
    await mustOk(
      client.createCollection({
        collection_name: name,
        enable_dynamic_field: true,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true },
          { name: 'tag', data_type: DataType.VarChar, max_length: 20, default_value: 'none' },
          { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        ],
      }),
    );
    await insertRows(client, name, Array.from({ length: 500 }, (_, i) => ({ tag: i % 2 ? 'none' : `t${i}`, v: [i, 1, 2, 3], extra: { i } })));
    await indexAndLoad(client, name, [['v', 'FLAT', 'L2']]);
    const sourceSpec = await describeCollection(source, DB, name);
    const targetSpec = await newTarget(sourceSpec);
    expect(targetSpec.fields[0]).toMatchObject({ name: 'id', autoId: false });

    const shards = await planShards(source, DB, sourceSpec, { rowsPerShard: 150 });
    expect(shards).toHaveLength(4);
    let total = 0;
    for (const shard of shards) {
      const before = await count(target.client(DB), targetSpec.name);
      const { rowsCopied } = await copyAll(sourceSpec, targetSpec, shard, 4 * 1024);
      expect(await count(target.client(DB), targetSpec.name)).toBe(before + rowsCopied);
      total += rowsCopied;
    }
    expect(total).toBe(500);
    await expectSameRows(sourceSpec, targetSpec);
  });

  it('copies 768-d vectors in byte-sized batches', async () => {
    const name = uniqueName('copy_768');
    created.push([source, name]);
    const client = source.client(DB);
    await mustOk(
      client.createCollection({
        collection_name: name,
        fields: [
          { name: 'id', data_type: DataType.Int64, is_primary_key: true },
          { name: 'emb', data_type: DataType.FloatVector, dim: 768 },
        ],
      }),
    );
    const r = rng(7);
    await insertRows(client, name, Array.from({ length: 2500 }, (_, i) => ({ id: i * 3, emb: Array.from({ length: 768 }, () => r()) })), 500);
    await indexAndLoad(client, name, [['emb', 'FLAT', 'COSINE']]);
    const sourceSpec = await describeCollection(source, DB, name);
    const targetSpec = await newTarget(sourceSpec);
    const { batches, rowsCopied } = await copyAll(sourceSpec, targetSpec, ALL, 2 * 1024 * 1024);
    expect(rowsCopied).toBe(2500);
    // 768 floats are 3 KB a row: 2 MB batches hold about 680 rows.
    expect(batches.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...batches.map((b) => b.rows))).toBeLessThanOrEqual(700);
    await expectSameRows(sourceSpec, targetSpec);
  });

  it('copies an empty collection: done at once, no batch', async () => {
    const sourceSpec = await sourceRich([]);
    const targetSpec = await newTarget(sourceSpec);
    const result = await copyShard({
      source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint: null, batchBytes: 1024 * 1024, deadline: FAR(),
      onBatch: async () => { throw new Error('no batch expected'); },
    });
    expect(result).toEqual({ done: true, rowsCopied: 0 });
    expect(await countRows(target, DB, targetSpec.name)).toBe(0);
  });
});
