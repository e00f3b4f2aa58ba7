import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { planCopyBatches } from '../../lib/copyBatches';
import { ConflictError, JobNotFoundError, PermanentError } from '../../lib/errors';
import { createDocumentClient, DynamoJobStore } from '../../lib/jobs/dynamoJobStore';
import { JOB_SCHEMA_VERSION, JobOptions, type CollectionProgress, type JobRecord, type ShardRecord } from '../../lib/jobs/model';
import { createJobTable, JOB_TABLE, tableKeys } from '../../lib/jobs/table';

const tableName = `jobs-store-${process.pid}-${Date.now()}`;
const client = new DynamoDBClient({
  endpoint: inject('dynamoEndpoint'),
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
const documents = createDocumentClient(client);
const store = new DynamoJobStore({ client: documents, tableName });

let counter = 0;
function newJob(overrides: Partial<JobRecord> = {}): JobRecord {
  counter += 1;
  const createdAt = new Date(Date.UTC(2030, 0, 1, 0, 0, counter)).toISOString();
  return {
    schemaVersion: JOB_SCHEMA_VERSION,
    jobId: `store-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    type: 'offline',
    status: 'PENDING',
    phase: 'QUEUED',
    source: { uri: 'http://source:19530', credentialsRef: 'local:x:source' },
    target: { uri: 'http://target:19530', credentialsRef: 'local:x:target' },
    databases: [{ name: 'default' }],
    options: JobOptions.parse({}),
    warnings: [],
    createdAt,
    updatedAt: createdAt,
    version: 0,
    ...overrides,
  };
}

function collection(key: string, overrides: Partial<CollectionProgress> = {}): CollectionProgress {
  const [sourceDb, sourceName] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
  return {
    key,
    sourceDb,
    sourceName,
    targetDb: sourceDb,
    targetName: sourceName,
    status: 'PENDING',
    rowsTotal: 1000,
    rowsCopied: 0,
    shardCount: 0,
    attempt: 1,
    ...overrides,
  };
}

function shard(jobId: string, collectionKey: string, index: number, overrides: Partial<ShardRecord> = {}): ShardRecord {
  return {
    jobId,
    collectionKey,
    index,
    lowerExclusive: index === 0 ? null : String(index * 100),
    upperInclusive: String((index + 1) * 100),
    checkpoint: null,
    rowsCopied: 0,
    done: false,
    attempt: 1,
    updatedAt: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

beforeAll(async () => {
  await createJobTable(client, tableName);
});

describe('createJobTable', () => {
  it('is idempotent and leaves an ACTIVE table with the byCreatedAt index', async () => {
    await createJobTable(client, tableName);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual([
      { AttributeName: JOB_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: JOB_TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual([JOB_TABLE.byCreatedAt.indexName]);
  });
});

describe('DynamoJobStore jobs', () => {
  it('creates a job and reads it back, keyed as the design says', async () => {
    const job = newJob();
    await store.create(job);
    expect(await store.get(job.jobId)).toEqual(job);
    const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${job.jobId}`, sk: 'JOB' } }));
    expect(Item).toMatchObject({ entity: 'JOB', createdAt: job.createdAt, jobId: job.jobId });
  });

  it('refuses to create a job twice', async () => {
    const job = newJob();
    await store.create(job);
    await expect(store.create({ ...job, status: 'IN_PROGRESS' })).rejects.toBeInstanceOf(ConflictError);
    expect((await store.get(job.jobId))?.status).toBe('PENDING');
  });

  it('returns undefined for a job that does not exist', async () => {
    expect(await store.get('no-such-job')).toBeUndefined();
  });

  it('refuses a record that does not match the schema', async () => {
    await expect(store.create({ ...newJob(), version: -1 })).rejects.toThrow(/version/);
  });

  it('updates from an allowed status, bumps version and updatedAt, appends warnings', async () => {
    const clocked = new DynamoJobStore({ client: documents, tableName, clock: () => new Date('2031-05-05T05:05:05.000Z') });
    const job = await store.create(newJob({ warnings: ['first'] }));
    const updated = await clocked.update(job.jobId, { status: 'IN_PROGRESS', phase: 'PREFLIGHT', addWarnings: ['second'] }, ['PENDING']);
    expect(updated).toMatchObject({ status: 'IN_PROGRESS', phase: 'PREFLIGHT', version: 1, updatedAt: '2031-05-05T05:05:05.000Z', warnings: ['first', 'second'] });
    expect(await store.get(job.jobId)).toEqual(updated);
    const again = await clocked.update(job.jobId, { phase: 'PLANNING' });
    expect(again.version).toBe(2);
  });

  it('refuses an update from a status outside allowedFrom, naming the actual status, and changes nothing', async () => {
    const job = await store.create(newJob({ status: 'SUCCESSFUL' }));
    const attempt = store.update(job.jobId, { status: 'CANCELLED' }, ['PENDING', 'IN_PROGRESS']);
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(/is SUCCESSFUL/);
    expect(await store.get(job.jobId)).toEqual(job);
  });

  it('reports an update of a missing job as not found', async () => {
    await expect(store.update('missing-job', { phase: 'DONE' })).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('lists newest first across pages with an opaque token', async () => {
    const listed = new DynamoJobStore({ client: documents, tableName });
    const mine = [newJob({ createdAt: '2099-01-01T00:00:01.000Z' }), newJob({ createdAt: '2099-01-01T00:00:02.000Z' }), newJob({ createdAt: '2099-01-01T00:00:03.000Z' })];
    for (const job of mine) await listed.create(job);
    const first = await listed.list({ limit: 2 });
    expect(first.items.map((j) => j.jobId)).toEqual([mine[2].jobId, mine[1].jobId]);
    expect(first.nextToken).toEqual(expect.any(String));
    expect(() => JSON.parse(first.nextToken!)).toThrow();
    const second = await listed.list({ limit: 2, nextToken: first.nextToken });
    expect(second.items[0].jobId).toBe(mine[0].jobId);
  });

  it('rejects a token it did not issue', async () => {
    const attempt = store.list({ nextToken: 'bm90LWEtdG9rZW4' });
    await expect(attempt).rejects.toBeInstanceOf(PermanentError);
    await expect(attempt).rejects.toMatchObject({ code: 'INVALID_NEXT_TOKEN' });
  });
});

describe('DynamoJobStore collections', () => {
  it('sets and patches per collection progress under keys that contain dots', async () => {
    const job = await store.create(newJob());
    await store.putCollections(job.jobId, [collection('default.books'), collection('db2.movies.v2')]);
    await store.updateCollection(job.jobId, 'db2.movies.v2', { status: 'COPYING', shardCount: 3 });
    expect((await store.allCollections(job.jobId)).map((c) => c.key)).toEqual(['db2.movies.v2', 'default.books']);
    expect(await store.getCollection(job.jobId, 'db2.movies.v2')).toMatchObject({ status: 'COPYING', shardCount: 3, rowsTotal: 1000 });
    expect(await store.getCollection(job.jobId, 'default.book')).toBeUndefined();
    // Progress lives in the collections' own items: the job item was not rewritten.
    const read = await store.get(job.jobId);
    expect(read!.version).toBe(0);
    expect(read).not.toHaveProperty('collections');
  });

  it('refuses to patch a collection the job does not have, and collections of a job that does not exist', async () => {
    const job = await store.create(newJob());
    await expect(store.updateCollection(job.jobId, 'default.nope', { status: 'COPIED' })).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
    await expect(store.updateCollection('no-such-job', 'default.nope', { status: 'COPIED' })).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(store.putCollections('no-such-job', [collection('default.a')])).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('pages 2,500 collections in key order and adds them up without reading them whole', async () => {
    const job = await store.create(newJob());
    const keys = Array.from({ length: 2_500 }, (_, i) => `tenants.t${String(i).padStart(5, '0')}`);
    await store.putCollections(
      job.jobId,
      keys.map((key, i) => collection(key, { status: i % 10 === 0 ? 'COPYING' : 'VERIFIED', rowsTotal: 10, rowsCopied: i % 10 === 0 ? 4 : 10 })),
    );
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await store.listCollections(job.jobId, { limit: 1000, nextToken });
      seen.push(...page.items.map((c) => c.key));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken);
    expect(seen).toEqual(keys);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect((await store.listCollections(job.jobId)).items).toHaveLength(100);
    expect(await store.summarizeCollections(job.jobId)).toEqual({
      total: 2_500,
      byStatus: { PENDING: 0, CREATED: 0, COPYING: 250, COPIED: 0, INDEXED: 0, VERIFIED: 2_250, RECOPY: 0, FAILED: 0 },
      rowsTotal: 25_000,
      rowsCopied: 250 * 4 + 2_250 * 10,
    });
    // A token of another listing is refused, not read as a key.
    const events = store.listCollections(job.jobId, { nextToken: Buffer.from(JSON.stringify({ pk: `JOB#${job.jobId}`, sk: 'EVENT#x' })).toString('base64url') });
    await expect(events).rejects.toMatchObject({ code: 'INVALID_NEXT_TOKEN' });
  });
});

describe('DynamoJobStore shards', () => {
  it('replaces every shard of one collection and leaves the others', async () => {
    const job = await store.create(newJob());
    await store.replaceShards(job.jobId, 'default.a', [0, 1, 2].map((i) => shard(job.jobId, 'default.a', i)));
    await store.replaceShards(job.jobId, 'default.ab', [0].map((i) => shard(job.jobId, 'default.ab', i)));
    const replanned = Array.from({ length: 30 }, (_, i) => shard(job.jobId, 'default.a', i, { attempt: 2 }));
    await store.replaceShards(job.jobId, 'default.a', replanned.slice(0, 2));
    await store.replaceShards(job.jobId, 'default.a', replanned);

    const shards = await store.listShards(job.jobId, 'default.a');
    expect(shards.map((s) => s.index)).toEqual(replanned.map((s) => s.index));
    expect(shards.every((s) => s.attempt === 2)).toBe(true);
    expect(await store.listShards(job.jobId, 'default.ab')).toHaveLength(1);
    expect(await store.getShard(job.jobId, 'default.a', 29)).toEqual(replanned[29]);
    expect(await store.getShard(job.jobId, 'default.a', 30)).toBeUndefined();
  });

  it('moves a checkpoint and the collection rowsCopied together, exactly', async () => {
    const job = await store.create(newJob());
    const key = 'default.books.v1';
    await store.putCollections(job.jobId, [collection(key)]);
    await store.replaceShards(job.jobId, key, [shard(job.jobId, key, 0), shard(job.jobId, key, 1)]);

    await store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: null, checkpoint: '40', rowsDelta: 40, done: false });
    await store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: '40', checkpoint: '100', rowsDelta: 60, done: true });
    await store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 1, attempt: 1, expectedCheckpoint: null, checkpoint: '150', rowsDelta: 50, done: false });

    expect(await store.getShard(job.jobId, key, 0)).toMatchObject({ checkpoint: '100', rowsCopied: 100, done: true });
    expect(await store.getShard(job.jobId, key, 1)).toMatchObject({ checkpoint: '150', rowsCopied: 50, done: false });
    expect((await store.getCollection(job.jobId, key))!.rowsCopied).toBe(150);
    // A checkpoint writes the shard and its collection's item, never the job item.
    expect((await store.get(job.jobId))!.version).toBe(0);
  });

  it('keeps a shard digest on the shard item only, and refuses one for another attempt of the shard', async () => {
    const job = await store.create(newJob());
    const key = 'default.digests';
    await store.putCollections(job.jobId, [collection(key)]);
    await store.replaceShards(job.jobId, key, [shard(job.jobId, key, 0), shard(job.jobId, key, 1)]);

    await store.setShardDigest(job.jobId, key, 1, 1, { epoch: 'e1', value: 'abc' });
    await store.setShardDigest(job.jobId, key, 1, 1, { epoch: 'e2', value: 'def' });
    expect((await store.listShards(job.jobId, key)).map((s) => s.targetDigest)).toEqual([undefined, { epoch: 'e2', value: 'def' }]);
    // The job item is not written: a sync of any number of shards leaves it the same size.
    expect((await store.get(job.jobId))!.version).toBe(0);
    await expect(store.setShardDigest(job.jobId, key, 0, 2, { epoch: 'e2', value: 'x' })).rejects.toBeInstanceOf(ConflictError);
    await expect(store.setShardDigest(job.jobId, key, 5, 1, { epoch: 'e2', value: 'x' })).rejects.toThrow(/gone or re-planned/);
    expect((await store.getShard(job.jobId, key, 0))!.targetDigest).toBeUndefined();
  });

  it('refuses a stale expected checkpoint and changes nothing', async () => {
    const job = await store.create(newJob());
    const key = 'default.books';
    await store.putCollections(job.jobId, [collection(key)]);
    await store.replaceShards(job.jobId, key, [shard(job.jobId, key, 0)]);
    await store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: null, checkpoint: '40', rowsDelta: 40, done: false });
    const before = { collection: await store.getCollection(job.jobId, key), shard: await store.getShard(job.jobId, key, 0) };

    const retried = store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: null, checkpoint: '40', rowsDelta: 40, done: false });
    await expect(retried).rejects.toBeInstanceOf(ConflictError);
    await expect(retried).rejects.toThrow(/checkpoint 40, not the expected none/);
    const stale = store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: '20', checkpoint: '60', rowsDelta: 20, done: false });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);

    expect(await store.getCollection(job.jobId, key)).toEqual(before.collection);
    expect(await store.getShard(job.jobId, key, 0)).toEqual(before.shard);
  });

  it('refuses a checkpoint for another attempt of the shard', async () => {
    const job = await store.create(newJob());
    const key = 'default.books';
    await store.putCollections(job.jobId, [collection(key, { attempt: 2 })]);
    await store.replaceShards(job.jobId, key, [shard(job.jobId, key, 0, { attempt: 2 })]);
    const attempt = store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, expectedCheckpoint: null, checkpoint: '10', rowsDelta: 10, done: false });
    await expect(attempt).rejects.toThrow(/belongs to attempt 2, not 1/);
    expect((await store.getCollection(job.jobId, key))!.rowsCopied).toBe(0);
  });

  it('hands the shard to the last invocation that claimed it: an older one can no longer move its checkpoint', async () => {
    const job = await store.create(newJob());
    const key = 'default.books';
    await store.putCollections(job.jobId, [collection(key)]);
    await store.replaceShards(job.jobId, key, [shard(job.jobId, key, 0)]);
    const older = await store.claimShard(job.jobId, key, 0, 1);
    const newer = await store.claimShard(job.jobId, key, 0, 1);
    expect(newer).not.toBe(older);
    expect((await store.getShard(job.jobId, key, 0))!.owner).toBe(newer);

    const stale = store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, owner: older, expectedCheckpoint: null, checkpoint: '10', rowsDelta: 10, done: false });
    await expect(stale).rejects.toBeInstanceOf(ConflictError);
    await expect(stale).rejects.toThrow(/claimed by another copy invocation/);
    expect((await store.getCollection(job.jobId, key))!.rowsCopied).toBe(0);
    await store.checkpointShard({ jobId: job.jobId, collectionKey: key, index: 0, attempt: 1, owner: newer, expectedCheckpoint: null, checkpoint: '10', rowsDelta: 10, done: false });
    expect((await store.getShard(job.jobId, key, 0))!.checkpoint).toBe('10');
    // A claim for an attempt the shard is not in (the collection was re-planned) fails.
    await expect(store.claimShard(job.jobId, key, 0, 2)).rejects.toThrow(/gone or re-planned; it was not claimed/);
  });
});

describe('DynamoJobStore copy batches', () => {
  it('stores the batches of a plan and reads one back by number; a re-plan replaces those of the same numbers', async () => {
    const job = await store.create(newJob());
    const plan = planCopyBatches([{ collectionKey: 'default.a', shards: [0, 1, 2, 3, 4] }, { collectionKey: 'default.b', shards: [0] }], { shards: 2, collections: 2, batches: 100 });
    await store.putCopyBatches(job.jobId, plan);

    expect(await store.getCopyBatch(job.jobId, 1)).toEqual(plan[1]);
    expect(await store.getCopyBatch(job.jobId, plan.length)).toBeUndefined();
    const replanned = planCopyBatches([{ collectionKey: 'default.b', shards: [0] }]);
    await store.putCopyBatches(job.jobId, replanned);
    expect(await store.getCopyBatch(job.jobId, 0)).toEqual(replanned[0]);
    // Batches are items of their own: the collection listing does not see them.
    expect((await store.allCollections(job.jobId)).map((c) => c.key)).toEqual([]);
  });
});

describe('DynamoJobStore events', () => {
  it('lists events oldest first, in write order within one millisecond, across pages', async () => {
    const job = await store.create(newJob());
    const sameMillisecond = new DynamoJobStore({ client: documents, tableName, clock: () => new Date('2030-02-02T00:00:00.000Z') });
    await store.appendEvent(job.jobId, { type: 'Later', message: 'later', at: '2030-02-02T00:00:01.000Z' });
    for (const type of ['First', 'Second', 'Third']) await sameMillisecond.appendEvent(job.jobId, { type, message: type.toLowerCase(), details: { n: 1 } });

    const first = await store.listEvents(job.jobId, { limit: 3 });
    expect(first.items.map((e) => e.type)).toEqual(['First', 'Second', 'Third']);
    expect(first.items[0]).toEqual({ jobId: job.jobId, at: '2030-02-02T00:00:00.000Z', type: 'First', message: 'first', details: { n: 1 } });
    const second = await store.listEvents(job.jobId, { limit: 3, nextToken: first.nextToken });
    expect(second.items.map((e) => e.type)).toEqual(['Later']);
    expect(second.nextToken).toBeUndefined();

    const { Items = [] } = await documents.send(
      new ScanCommand({ TableName: tableName, FilterExpression: 'pk = :pk AND begins_with(sk, :e)', ExpressionAttributeValues: { ':pk': tableKeys.jobPk(job.jobId), ':e': 'EVENT#2030-02-02T00:00:00.000Z#' } }),
    );
    expect(Items).toHaveLength(3);
  });

  it('rejects an events token issued for another job', async () => {
    const [a, b] = [await store.create(newJob()), await store.create(newJob())];
    for (const n of [1, 2]) await store.appendEvent(a.jobId, { type: 'E', message: String(n) });
    const page = await store.listEvents(a.jobId, { limit: 1 });
    await expect(store.listEvents(b.jobId, { nextToken: page.nextToken })).rejects.toMatchObject({ code: 'INVALID_NEXT_TOKEN' });
  });
});
