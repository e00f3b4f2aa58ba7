import { randomBytes } from 'node:crypto';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { PermanentError } from '../../lib/errors';
import { SourceBaseline, type JobWithCollections } from '../../lib/jobs/model';
import { explainedBySourceChange } from '../../lib/sync/sourceGuard';
import { CycleAbandoned } from '../../lib/sync/strategy';
import { openCluster, type MilvusGateway } from '../../lib/milvus';
import {
  type BaselineScope,
  type SourceChange,
  NOT_MOVED_PROPERTY,
  describeSourceChanges,
  detectSourceChanges,
  movedDatabases,
  takeSourceBaseline,
} from '../../lib/sync/guards';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';
import { newDatabase } from '../support/fakeMilvus/state';
import { ok } from '../support/milvusClients';

/**
 * The online guards against the in-memory Milvus server (databases, partitions, aliases, import)
 * through the real SDK, and against milvus-lite (default database only, most metadata calls
 * UNIMPLEMENTED).
 */

const cleanups: (() => Promise<unknown>)[] = [];
const finalCleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});
afterAll(async () => {
  while (finalCleanups.length) await finalCleanups.pop()!().catch(() => undefined);
});

/** SDK clients cost about 165 ms of CPU each: they live as long as the file. */
function sdk(uri: string, database?: string): MilvusClient {
  const c = new MilvusClient({ address: uri, database, telemetry: { enabled: false }, logLevel: 'error' } as never);
  finalCleanups.push(() => c.closeConnection());
  return c;
}

function cluster(uri: string): MilvusGateway {
  const c = openCluster({ uri });
  finalCleanups.push(() => c.close());
  return c;
}

const fields = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'title', data_type: DataType.VarChar, max_length: 64 },
  { name: 'tags', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 8, max_length: 16 },
  { name: 'rank', data_type: DataType.Int32, nullable: true },
  { name: 'v', data_type: DataType.FloatVector, dim: 4 },
];

const create = (c: MilvusClient, name: string, withFields: object[] = fields) =>
  ok(c.createCollection({ collection_name: name, fields: withFields, description: `the ${name}` } as never));
/** milvus-lite has no nullable fields. */
const liteFields = fields.filter((f) => !('nullable' in f));

/**
 * The job moves databases default and shop: default.base, shop.items and shop.orders. shop.notes
 * lives in a moved database but is not moved; database other (with other.misc) is not moved.
 */
const SCOPE: BaselineScope = {
  databases: ['default', 'shop'],
  collections: [
    { key: 'default.base', db: 'default', name: 'base' },
    { key: 'shop.items', db: 'shop', name: 'items' },
    { key: 'shop.orders', db: 'shop', name: 'orders' },
  ],
};

interface Fixture {
  server: FakeMilvus;
  root: MilvusClient;
  shop: MilvusClient;
  other: MilvusClient;
  source: MilvusGateway;
  baseline: SourceBaseline;
  /** The changes seen now. */
  changes(): Promise<SourceChange[]>;
}

let shared: { server: FakeMilvus; root: MilvusClient; shop: MilvusClient; other: MilvusClient; source: MilvusGateway } | undefined;
beforeAll(async () => {
  const server = await startFakeMilvus({ version: 'v2.6.3' });
  finalCleanups.push(() => server.stop());
  shared = { server, root: sdk(server.uri), shop: sdk(server.uri, 'shop'), other: sdk(server.uri, 'other'), source: cluster(server.uri) };
});

/** The shared server emptied (default database only), then the scene above. */
async function fixture(): Promise<Fixture> {
  const { server, root, shop, other, source } = shared!;
  server.state.databases.clear();
  server.state.databases.set('default', newDatabase(server.state, 'default', []));
  server.state.imports.length = 0;
  await ok(root.createDatabase({ db_name: 'shop', properties: { 'database.replica.number': 1 } } as never));
  await ok(root.createDatabase({ db_name: 'other' }));
  await create(root, 'base');
  for (const name of ['items', 'orders', 'notes']) await create(shop, name);
  await create(other, 'misc');
  await ok(shop.alterCollectionProperties({ collection_name: 'items', properties: { 'collection.ttl.seconds': 0 } }));
  await ok(shop.createAlias({ collection_name: 'items', alias: 'items_current' }));
  await ok(shop.createPartition({ collection_name: 'items', partition_name: 'p_old' }));
  // An import that ran before the job started is no change.
  await ok(shop.bulkInsert({ collection_name: 'items', files: ['s3://bucket/before.parquet'] } as never));
  const baseline = await takeSourceBaseline(source, SCOPE, new Date('2030-01-01T00:00:00Z'));
  return {
    server,
    root,
    shop,
    other,
    source,
    baseline,
    changes: async () => detectSourceChanges(baseline, await takeSourceBaseline(source, SCOPE, new Date())),
  };
}

describe('source guards against the in-memory Milvus server', () => {
  it('gives a pass that fails because a moved collection vanished the reason SOURCE_CHANGED, and leaves other failures alone', async () => {
    const f = await fixture();
    const job = {
      sourceBaseline: f.baseline,
      databases: [{ name: 'default' }, { name: 'shop' }],
      collections: Object.fromEntries(SCOPE.collections.map((c) => [c.key, { key: c.key, sourceDb: c.db, sourceName: c.name }])),
    } as unknown as JobWithCollections;
    const failing = (code: string) => () => Promise.reject(new PermanentError(code, 'the pass hit it'));
    // Nothing changed: the pass's own error stands; a pass that works gives its result.
    await expect(explainedBySourceChange(f.source, job, () => new Date(), failing('COLLECTION_NOT_FOUND'))).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
    await expect(explainedBySourceChange(f.source, job, () => new Date(), async () => 7)).resolves.toBe(7);
    // An abandoned pass is not a failure to explain.
    await expect(explainedBySourceChange(f.source, job, () => new Date(), () => Promise.reject(new CycleAbandoned()))).rejects.toBeInstanceOf(CycleAbandoned);
    // shop.orders dropped while the pass read it: the reason names the drop.
    await ok(f.shop.dropCollection({ collection_name: 'orders' }));
    await expect(explainedBySourceChange(f.source, job, () => new Date(), failing('COLLECTION_NOT_FOUND'))).rejects.toMatchObject({
      code: 'SOURCE_CHANGED',
      message: expect.stringContaining('shop.orders was dropped'),
    });
  });

  it('records databases, collections, fields, aliases, partitions and imports, and sees no change when there is none', async () => {
    const f = await fixture();
    const { baseline } = f;
    expect(SourceBaseline.parse(baseline)).toEqual(baseline);
    expect(baseline.takenAt).toBe('2030-01-01T00:00:00.000Z');
    expect(Object.keys(baseline.databases)).toEqual(['default', 'other', 'shop']);
    expect(baseline.databases.shop).toEqual({ properties: { 'database.replica.number': '1' }, collections: ['items', 'notes', 'orders'] });
    expect(baseline.databases.other).toEqual({ properties: { [NOT_MOVED_PROPERTY]: 'true' }, collections: [] });
    expect(movedDatabases(baseline)).toEqual(['default', 'shop']);
    expect(Object.keys(baseline.collections)).toEqual(['default.base', 'shop.items', 'shop.orders']);
    const items = baseline.collections['shop.items'];
    expect(items).toMatchObject({
      db: 'shop',
      name: 'items',
      description: 'the items',
      properties: { 'collection.ttl.seconds': '0' },
      aliases: ['items_current'],
      partitions: ['_default', 'p_old'],
    });
    expect(JSON.parse(items.fields.title)).toEqual({ type: 'VarChar', max_length: '64' });
    expect(JSON.parse(items.fields.id)).toEqual({ type: 'Int64', primary_key: true });
    expect(JSON.parse(items.fields.rank)).toEqual({ type: 'Int32', nullable: true });
    expect(JSON.parse(items.fields.tags)).toEqual({ type: 'Array', element_type: 'VarChar', max_capacity: '8', max_length: '16' });
    expect(items.schemaDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(baseline.importJobs).toHaveLength(1);
    expect(baseline.importJobs![0]).toMatch(/^shop\.items#\d+$/);
    expect(await f.changes()).toEqual([]);
  });

  it('ignores databases the job does not move when a later snapshot names every database of the baseline', async () => {
    // lib/sync/sourceGuard.ts scopes later snapshots with Object.keys(baseline.databases).
    const f = await fixture();
    const wide: BaselineScope = { ...SCOPE, databases: Object.keys(f.baseline.databases) };
    await create(f.other, 'misc_2');
    await ok(f.root.alterDatabase({ db_name: 'other', properties: { 'database.max.collections': 5 } } as never));
    expect(detectSourceChanges(f.baseline, await takeSourceBaseline(f.source, wide, new Date()))).toEqual([]);
    await create(f.shop, 'fresh');
    expect(detectSourceChanges(f.baseline, await takeSourceBaseline(f.source, wide, new Date()))).toEqual([
      { kind: 'NewCollection', message: 'shop.fresh: a new collection in a migrated database (CreateCollection)', database: 'shop' },
    ]);
  });

  it('keeps the calls per check to one per database and collection and kind', async () => {
    const f = await fixture();
    f.server.resetCalls();
    await takeSourceBaseline(f.source, SCOPE, new Date());
    expect(f.server.calls).toEqual({
      ListDatabases: 1,
      DescribeDatabase: 2, // moved databases only
      ShowCollections: 2,
      ListImportTasks: 2,
      DescribeCollection: 3, // moved collections only
      ListAliases: 3,
      ShowPartitions: 3,
    });
  });

  it('names a property set, changed or removed by AlterCollection, and a new description', async () => {
    const f = await fixture();
    await ok(f.shop.alterCollectionProperties({ collection_name: 'items', properties: { 'collection.ttl.seconds': 3600, 'mmap.enabled': true } }));
    await ok(f.root.dropCollectionProperties({ collection_name: 'base', properties: ['nothing.here'] } as never));
    await ok(f.shop.alterCollectionProperties({ collection_name: 'orders', properties: { 'collection.description': 'orders, v2' } }));
    expect(await f.changes()).toEqual([
      { kind: 'AlterCollection', message: 'shop.items: property collection.ttl.seconds changed from 0 to 3600 (AlterCollection)' },
      { kind: 'AlterCollection', message: 'shop.items: property mmap.enabled set to true (AlterCollection)' },
      { kind: 'AlterCollection', message: 'shop.orders: description changed from "the orders" to "orders, v2" (AlterCollection)' },
    ]);
    await ok(f.shop.dropCollectionProperties({ collection_name: 'items', properties: ['collection.ttl.seconds', 'mmap.enabled'] } as never));
    expect((await f.changes()).filter((c) => c.message.startsWith('shop.items'))).toEqual([
      { kind: 'AlterCollection', message: 'shop.items: property collection.ttl.seconds removed (was 0) (AlterCollection)' },
    ]);
  });

  it('names the field and the param AlterCollectionField changed', async () => {
    const f = await fixture();
    await ok(f.shop.alterCollectionFieldProperties({ collection_name: 'items', field_name: 'title', properties: { max_length: 128 } }));
    await ok(f.shop.alterCollectionFieldProperties({ collection_name: 'orders', field_name: 'tags', properties: { 'mmap.enabled': true, max_capacity: 16 } }));
    expect(await f.changes()).toEqual([
      { kind: 'AlterCollectionField', message: 'shop.items: field title: max_length changed from 64 to 128 (AlterCollectionField)' },
      { kind: 'AlterCollectionField', message: 'shop.orders: field tags: max_capacity changed from 8 to 16, mmap.enabled set to true (AlterCollectionField)' },
    ]);
  });

  it('names aliases created, dropped and moved between collections', async () => {
    const f = await fixture();
    await ok(f.root.createAlias({ collection_name: 'base', alias: 'base_tmp' }));
    await ok(f.root.dropAlias({ alias: 'base_tmp' }));
    await ok(f.shop.createAlias({ collection_name: 'notes', alias: 'notes_live' })); // a collection the job does not move
    expect(await f.changes()).toEqual([]);
    await ok(f.shop.createAlias({ collection_name: 'orders', alias: 'orders_live' }));
    await ok(f.shop.alterAlias({ collection_name: 'orders', alias: 'items_current' }));
    const changes = await f.changes();
    expect(changes).toEqual([
      { kind: 'Alias', message: 'shop.items: alias items_current now names shop.orders (AlterAlias)' },
      { kind: 'Alias', message: 'shop.orders: alias orders_live was created or moved to it (CreateAlias/AlterAlias)' },
    ]);
    await ok(f.shop.dropAlias({ alias: 'items_current' }));
    expect((await f.changes()).map((c) => c.message)).toEqual([
      'shop.items: alias items_current was dropped or now names another collection (DropAlias/AlterAlias)',
      'shop.orders: alias orders_live was created or moved to it (CreateAlias/AlterAlias)',
    ]);
  });

  it('reports a rename as one change naming both names', async () => {
    const f = await fixture();
    await ok(f.shop.renameCollection({ collection_name: 'items', new_collection_name: 'items_v2' }));
    expect(await f.changes()).toEqual([
      { kind: 'RenameCollection', message: 'shop.items was renamed or dropped; shop.items_v2 appeared (RenameCollection)' },
    ]);
  });

  it('names database properties changed by AlterDatabase, in moved databases only', async () => {
    const f = await fixture();
    await ok(f.root.alterDatabase({ db_name: 'other', properties: { 'database.max.collections': 5 } } as never));
    expect(await f.changes()).toEqual([]);
    await ok(f.root.alterDatabase({ db_name: 'shop', properties: { 'database.replica.number': 2, 'database.force.deny.writing': true } } as never));
    // Denying writes is how an operator may stop the writers before stop-sync: not a change the sync must fail on.
    expect(await f.changes()).toEqual([{ kind: 'AlterDatabase', message: 'database shop: property database.replica.number changed from 1 to 2 (AlterDatabase)' }]);
  });

  it('reports new collections in moved databases and dropped moved collections, nothing elsewhere', async () => {
    const f = await fixture();
    await create(f.other, 'misc_2'); // a database the job does not move
    await ok(f.shop.dropCollection({ collection_name: 'notes' })); // a collection the job does not move
    expect(await f.changes()).toEqual([]);
    await create(f.shop, 'fresh');
    expect(await f.changes()).toEqual([{ kind: 'NewCollection', message: 'shop.fresh: a new collection in a migrated database (CreateCollection)', database: 'shop' }]);
    await ok(f.root.dropCollection({ collection_name: 'base' }));
    expect(await f.changes()).toEqual([
      { kind: 'NewCollection', message: 'shop.fresh: a new collection in a migrated database (CreateCollection)', database: 'shop' },
      { kind: 'DroppedCollection', message: 'default.base was dropped (DropCollection)' },
    ]);
  });

  it('reports a new database (the online job moves every database) and a dropped moved one', async () => {
    const f = await fixture();
    await ok(f.root.createDatabase({ db_name: 'analytics' }));
    expect(await f.changes()).toEqual([{ kind: 'NewDatabase', message: 'database analytics was created (CreateDatabase)', database: 'analytics' }]);

    // A moved database dropped (its collections first, as Milvus requires).
    const scope: BaselineScope = { databases: ['default', 'analytics'], collections: [{ key: 'analytics.events', db: 'analytics', name: 'events' }] };
    const analytics = sdk(f.server.uri, 'analytics');
    await create(analytics, 'events');
    const before = await takeSourceBaseline(f.source, scope, new Date());
    await ok(analytics.dropCollection({ collection_name: 'events' }));
    await ok(f.root.dropDatabase({ db_name: 'analytics' }));
    await ok(f.other.dropCollection({ collection_name: 'misc' }));
    await ok(f.root.dropDatabase({ db_name: 'other' })); // not moved: not reported
    expect(detectSourceChanges(before, await takeSourceBaseline(f.source, scope, new Date()))).toEqual([
      { kind: 'DroppedDatabase', message: 'database analytics was dropped (DropDatabase)' },
      { kind: 'DroppedCollection', message: 'analytics.events was dropped (DropCollection)' },
    ]);
  });

  it('names partitions created and dropped', async () => {
    const f = await fixture();
    await ok(f.shop.createPartition({ collection_name: 'items', partition_name: 'p2030' }));
    await ok(f.shop.dropPartition({ collection_name: 'items', partition_name: 'p_old' }));
    await ok(f.shop.createPartition({ collection_name: 'notes', partition_name: 'p2030' })); // not moved
    expect(await f.changes()).toEqual([
      { kind: 'Partition', message: 'shop.items: partition p2030 was created (CreatePartition)' },
      { kind: 'Partition', message: 'shop.items: partition p_old was dropped (DropPartition)' },
    ]);
  });

  it('reports a bulk import started on a moved collection, not on others', async () => {
    const f = await fixture();
    await ok(f.shop.bulkInsert({ collection_name: 'notes', files: ['s3://bucket/notes.parquet'] } as never));
    await ok(f.other.bulkInsert({ collection_name: 'misc', files: ['s3://bucket/misc.parquet'] } as never));
    expect(await f.changes()).toEqual([]);
    const started = await ok(f.shop.bulkInsert({ collection_name: 'orders', files: ['s3://bucket/orders.parquet'] } as never));
    const jobId = String((started as any).tasks[0]);
    expect(await f.changes()).toEqual([{ kind: 'Import', message: `shop.orders: bulk import job ${jobId} started (Import)` }]);
    expect((await f.shop.getImportState({ task: jobId } as never)).state).toBe('ImportPending');
  });

  it('describes changes in one sentence, up to five', async () => {
    const changes: SourceChange[] = Array.from({ length: 7 }, (_, i) => ({ kind: 'Partition', message: `db.c: partition p${i} was created (CreatePartition)` }));
    const sentence = describeSourceChanges(changes);
    expect(sentence).toContain('(7 changes)');
    expect(sentence).toContain('partition p4 was created');
    expect(sentence).not.toContain('partition p5');
    expect(sentence).toContain('and 2 more');
    expect(describeSourceChanges(changes.slice(0, 1))).toBe(
      'The source changed in a way the sync cannot follow: db.c: partition p0 was created (CreatePartition).',
    );
    expect(describeSourceChanges([])).toBe('The source did not change.');
  });
});

describe('detectSourceChanges on recorded baselines', () => {
  const base: SourceBaseline = {
    takenAt: '2030-01-01T00:00:00.000Z',
    databases: { default: { properties: {}, collections: ['a'] } },
    collections: {
      'default.a': {
        db: 'default',
        name: 'a',
        schemaDigest: 'd1',
        fields: { id: '{"type":"Int64","primary_key":true}', v: '{"type":"FloatVector","dim":"4"}' },
        description: '',
        properties: {},
        aliases: [],
        partitions: ['_default'],
      },
    },
    importJobs: null,
  };
  const clone = (): SourceBaseline => structuredClone(base);

  it('reports a schema change the field summaries do not show (functions, dynamic field)', () => {
    const now = clone();
    now.collections['default.a'].schemaDigest = 'd2';
    expect(detectSourceChanges(base, now)).toEqual([
      { kind: 'AlterCollection', message: 'default.a: its schema changed (functions, dynamic field, field order or collection-level settings) (AlterCollection)' },
    ]);
  });

  it('names fields added and removed', () => {
    const now = clone();
    now.collections['default.a'].schemaDigest = 'd2';
    now.collections['default.a'].fields.extra = '{"type":"VarChar","max_length":"8","nullable":true}';
    delete (now.collections['default.a'].fields as Record<string, string>).v;
    expect(detectSourceChanges(base, now).map((c) => [c.kind, c.message])).toEqual([
      ['AlterCollectionField', 'default.a: field v was removed (AlterCollectionField)'],
      ['AlterCollectionField', 'default.a: field extra was added (AddCollectionField)'],
    ]);
  });

  it('compares imports only when both snapshots could list them', () => {
    const listed = { ...clone(), importJobs: ['default.a#1'] };
    const more = { ...clone(), importJobs: ['default.a#1', 'default.a#2', '*#9'] };
    expect(detectSourceChanges(listed, more).map((c) => c.message)).toEqual([
      'default.a: bulk import job 2 started (Import)',
      'bulk import job 9 started on the source; its collection is not reported (Import)',
    ]);
    expect(detectSourceChanges(base, more)).toEqual([]);
    expect(detectSourceChanges(listed, { ...clone(), importJobs: [] })).toEqual([]); // jobs expire from the list
  });
});

describe('source guards against milvus-lite', () => {
  const prefix = `guard_${randomBytes(3).toString('hex')}`;

  /**
   * Other test files create and drop collections in the same default database meanwhile (the files
   * run in parallel): keep only ours, in the baseline and in each later snapshot alike.
   */
  function ours(snapshot: SourceBaseline): SourceBaseline {
    const keep = (name: string) => name.startsWith(prefix);
    const def = snapshot.databases.default;
    return def ? { ...snapshot, databases: { ...snapshot.databases, default: { ...def, collections: def.collections.filter(keep) } } } : snapshot;
  }

  it('takes a baseline with the default database only, sees no change, then a new and a dropped collection', async () => {
    const uri = inject('milvusSourceUri');
    const c = sdk(uri);
    const [a, b] = [`${prefix}_a`, `${prefix}_b`];
    cleanups.push(() => c.dropCollection({ collection_name: a }), () => c.dropCollection({ collection_name: b }));
    await create(c, a, liteFields);
    await create(c, b, liteFields);
    const source = cluster(uri);
    const scope: BaselineScope = {
      databases: ['default'],
      collections: [a, b].map((name) => ({ key: `default.${name}`, db: 'default', name })),
    };
    const baseline = await takeSourceBaseline(source, scope, new Date());
    expect(SourceBaseline.parse(baseline)).toEqual(baseline);
    expect(Object.keys(baseline.databases)).toEqual(['default']);
    expect(baseline.databases.default.properties).toEqual({});
    expect(baseline.databases.default.collections).toEqual(expect.arrayContaining([a, b]));
    expect(baseline.importJobs).toBeNull(); // ListImportTasks is UNIMPLEMENTED
    expect(baseline.collections[`default.${a}`]).toMatchObject({
      db: 'default',
      name: a,
      description: `the ${a}`,
      properties: {},
      aliases: [],
      partitions: ['_default'],
    });
    expect(JSON.parse(baseline.collections[`default.${a}`].fields.title)).toEqual({ type: 'VarChar', max_length: '64' });

    const mine = ours(baseline);
    const again = ours(await takeSourceBaseline(source, scope, new Date()));
    expect(detectSourceChanges(mine, again)).toEqual([]);

    // milvus-lite answers AlterCollection and AlterCollectionField with UNIMPLEMENTED: nothing changes there.
    await c.alterCollectionProperties({ collection_name: a, properties: { 'collection.ttl.seconds': 60 } });
    expect(detectSourceChanges(mine, ours(await takeSourceBaseline(source, scope, new Date())))).toEqual([]);

    await create(c, `${prefix}_c`, liteFields);
    cleanups.push(() => c.dropCollection({ collection_name: `${prefix}_c` }));
    expect(detectSourceChanges(mine, ours(await takeSourceBaseline(source, scope, new Date())))).toEqual([
      { kind: 'NewCollection', message: `default.${prefix}_c: a new collection in a migrated database (CreateCollection)`, database: 'default' },
    ]);
    await ok(c.dropCollection({ collection_name: `${prefix}_c` }));
    await ok(c.dropCollection({ collection_name: b }));
    expect(detectSourceChanges(mine, ours(await takeSourceBaseline(source, scope, new Date())))).toEqual([
      { kind: 'DroppedCollection', message: `default.${b} was dropped (DropCollection)` },
    ]);
  });
});
