import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CreateMigrationBody, MAX_BODY_BYTES } from '../../lib/api/requests';
import { createDocumentClient, DynamoJobStore } from '../../lib/jobs/dynamoJobStore';
import { DUPLICATE_EXAMPLES, EXAMPLE_CHARS } from '../../lib/milvus/duplicates';
import { duplicatesWarning, DUPLICATE_WARNINGS } from '../../lib/migration/duplicateKeys';
import { JOB_SCHEMA_VERSION, JobOptions, MAX_RECORDED_CHANGED_SHARDS, verificationReport, type CollectionProgress, type JobRecord } from '../../lib/jobs/model';
import { createJobTable, JOB_TABLE, tableKeys } from '../../lib/jobs/table';
import { DYNAMO_ITEM_LIMIT_BYTES, dynamoItemBytes } from '../support/dynamoItemSize';
import type { Services } from '../../lib/services';
import { DifferingKeys } from '../../lib/sync/bypassedWrites';
import { startPass, withShard } from '../../lib/sync/comparisonPass';
import { MAX_SYNC_WARNINGS, recordCycle } from '../../lib/sync/recordCycle';
import { exampleKey } from '../../lib/exampleKeys';

/**
 * DynamoDB refuses an item over 400 KB. Each record is built here at its largest (the longest
 * names Milvus allows, the largest request the API accepts, 10,000 collections, a verification
 * that failed on every one of them), written through the store into DynamoDB Local and read back
 * raw, and its size projected by DynamoDB's rules: it must stay under the limit with margin.
 */
const tableName = `jobs-size-${process.pid}-${Date.now()}`;
const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const documents = createDocumentClient(client);
const store = new DynamoJobStore({ client: documents, tableName });
/** What a record may take of the limit: the rest is margin for fields this test does not foresee. */
const BUDGET = 0.9 * DYNAMO_ITEM_LIMIT_BYTES;
const COLLECTIONS = 10_000;

beforeAll(async () => {
  await createJobTable(client, tableName);
}, 60_000);

const longName = (prefix: string, i: number) => `${prefix}${String(i).padStart(6, '0')}`.padEnd(255, 'x');

function largestCollection(i: number): CollectionProgress {
  const sourceDb = longName('db', 0);
  const sourceName = longName('c', i);
  return {
    key: `${sourceDb}.${sourceName}`,
    sourceDb,
    sourceName,
    targetDb: longName('tdb', 0),
    targetName: longName('t', i),
    status: 'RECOPY',
    rowsTotal: Number.MAX_SAFE_INTEGER,
    rowsCopied: Number.MAX_SAFE_INTEGER,
    shardCount: Number.MAX_SAFE_INTEGER,
    attempt: Number.MAX_SAFE_INTEGER,
    append: true,
    rowsBefore: Number.MAX_SAFE_INTEGER,
    duplicateKeys: Number.MAX_SAFE_INTEGER,
    duplicateExamples: largestDuplicateExamples(),
  };
}

/** Duplicate key examples at their largest: DUPLICATE_EXAMPLES keys of EXAMPLE_CHARS 4-byte characters. */
const largestDuplicateExamples = (): string[] => Array.from({ length: DUPLICATE_EXAMPLES }, (_, i) => `${i}${'😀'.repeat(EXAMPLE_CHARS - 1)}`);

/** The largest body POST /migrations accepts: one database, as many long-named collections with mappings as fit. */
function largestRequest(): CreateMigrationBody {
  const collections: Array<Record<string, unknown>> = [];
  const body = (list: typeof collections) => ({
    type: 'offline',
    source: { uri: 'https://source.example.com:19530', token: 't'.repeat(64) },
    target: { uri: 'https://target.example.com:19530', token: 't'.repeat(64) },
    databases: [{ name: longName('db', 0), targetName: longName('tdb', 0), collections: list }],
    options: { rowsPerShard: 200_000, existingTarget: 'append' },
  });
  for (let i = 0; ; i++) {
    const next = {
      name: longName('c', i),
      targetName: longName('t', i),
      mapping: { description: 'd'.repeat(200), fields: { [longName('f', i)]: { nullable: true, defaultValue: 'v'.repeat(100) } }, dynamicField: true, shardsNum: 16 },
    };
    if (Buffer.byteLength(JSON.stringify(body([...collections, next]))) > MAX_BODY_BYTES) break;
    collections.push(next);
  }
  return CreateMigrationBody.parse(body(collections));
}

async function rawItem(jobId: string, sortKey: string): Promise<Record<string, unknown>> {
  const { Item } = await documents.send(new GetCommand({ TableName: tableName, Key: { [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId), [JOB_TABLE.sortKey]: sortKey }, ConsistentRead: true }));
  expect(Item).toBeDefined();
  return Item!;
}

describe('job records at their largest, against the 400 KB item limit', () => {
  it('a collection item with the longest names Milvus allows is a few KB', async () => {
    const request = largestRequest();
    const job = await store.create(jobOf('size-collection', request));
    const collection = largestCollection(1);
    await store.putCollections(job.jobId, [collection]);
    const item = await rawItem(job.jobId, tableKeys.collectionSk(collection.key));
    expect(dynamoItemBytes(item)).toBeLessThan(4 * 1024);
    expect(await store.getCollection(job.jobId, collection.key)).toEqual(collection);
  });

  it('the job item of 10,000 collections, its scope the largest request accepted, after a verification that failed on every collection', async () => {
    const request = largestRequest();
    expect(request.databases![0].collections!.length).toBeGreaterThan(200);
    const job = await store.create(jobOf('size-job', request));
    await store.putCollections(job.jobId, Array.from({ length: COLLECTIONS }, (_, i) => largestCollection(i)));
    const entries = Array.from({ length: COLLECTIONS }, (_, i) => ({ key: largestCollection(i).key, sourceRows: Number.MAX_SAFE_INTEGER, targetRows: 0, match: false }));
    const at = new Date().toISOString();
    await store.update(job.jobId, {
      status: 'FAILED',
      phase: 'VERIFICATION',
      verification: verificationReport({ at, sourceCollections: COLLECTIONS, targetCollections: COLLECTIONS, passed: false }, entries),
      error: { code: 'VERIFICATION_MISMATCH', reason: 'r'.repeat(4096), step: 'Verify' },
      executionArn: `arn:aws:states:us-east-1:123456789012:execution:${'m'.repeat(80)}:${'e'.repeat(80)}`,
      startedAt: at,
      endedAt: at,
      addWarnings: [
        ...Array.from({ length: 20 }, (_, i) => `${i} ${'w'.repeat(1000)}`),
        // Duplicate keys: one warning per collection for the first DUPLICATE_WARNINGS, one more for the rest.
        ...Array.from({ length: DUPLICATE_WARNINGS + 1 }, (_, i) => duplicatesWarning({ key: largestCollection(i).key, rows: Number.MAX_SAFE_INTEGER, examples: largestDuplicateExamples() })),
      ],
    });

    const bytes = dynamoItemBytes(await rawItem(job.jobId, tableKeys.jobSk));
    console.info(`job item at its largest: ${(bytes / 1024).toFixed(1)} KB of ${DYNAMO_ITEM_LIMIT_BYTES / 1024} KB`);
    expect(bytes).toBeLessThan(BUDGET);
    expect(await store.summarizeCollections(job.jobId)).toMatchObject({ total: COLLECTIONS, byStatus: expect.objectContaining({ RECOPY: COLLECTIONS }) });
  }, 300_000);
});

describe('an online job item at its largest', () => {
  it('after days of sync over 10,000 collections: a pass at its limits, the longest keys Milvus allows, the sync warnings at their cap', async () => {
    const request = { ...largestRequest(), type: 'online' as const };
    const job = await store.create(jobOf('size-online', request));
    await store.putCollections(job.jobId, Array.from({ length: COLLECTIONS }, (_, i) => largestCollection(i)));
    const at = new Date().toISOString();
    const longestKey = (i: number) => `${i}`.padEnd(65_535, 'k'); // a VarChar primary key at its longest
    const shard = (i: number) => `${largestCollection(i).key}#999999`;
    const place = (i: number) => `${largestCollection(i).targetDb}.${largestCollection(i).targetName} (shard 999999)`;
    // A comparison over every shard of every collection, each one different and written by others: what the checkpoint keeps is bounded.
    let pass = startPass('sync', new Date(), COLLECTIONS);
    for (let i = 0; i < COLLECTIONS; i++) {
      const max = Math.floor(Number.MAX_SAFE_INTEGER / COLLECTIONS); // the totals at their largest
      pass = withShard(pass, { position: i, key: shard(i), rowsCompared: max, inserted: max, updated: max, deleted: max, sampleKeys: [`${largestCollection(i).key}:${exampleKey(longestKey(i))}`], externalWrite: place(i) });
    }
    const differing = new DifferingKeys();
    for (let i = 0; i < 3; i++) differing.onDifference(largestCollection(i).key, longestKey(i));
    const jobWithCollections = { ...job, collections: Object.fromEntries([0, 1, 2].map((i) => [largestCollection(i).key, largestCollection(i)])) };
    const bypassed = (n: number) => Array.from({ length: 10 }, (_, b) => `${differing.unexplained(jobWithCollections, [])} (periodic comparison ${n}.${b})`);
    pass = { ...pass, bypassed: bypassed(0), repaired: Number.MAX_SAFE_INTEGER, unattributed: Number.MAX_SAFE_INTEGER };
    await store.update(job.jobId, {
      status: 'SYNCING',
      phase: 'INCREMENTAL_SYNC',
      startedAt: at,
      sync: { strategy: 'capture', startedAt: at, deadlineAt: at, cycles: 0, inserted: 0, updated: 0, deleted: 0, lagAlertSentAt: at, digestEpoch: 'e'.repeat(12), changeLogCheckpoint: Date.now(), lastComparisonAt: at },
    });

    // Cycles that each find every shard written by others and ten new sets of bypassed writes: far more warnings than the cap.
    const services = { jobs: store, now: () => new Date() } as unknown as Services;
    let record = (await store.get(job.jobId))!;
    for (let n = 0; n < 10; n++) {
      const changedShards = Array.from({ length: MAX_RECORDED_CHANGED_SHARDS }, (_, i) => shard(i));
      const externalWrites = Array.from({ length: COLLECTIONS }, (_, i) => place((i + n) % COLLECTIONS));
      const cycle = { startedAt: new Date(), endedAt: new Date(), rowsCompared: 1, inserted: 1, updated: 1, deleted: 1, externalWrites, sampleKeys: [], changedShards, pass, bypassedWrites: bypassed(n + 1) };
      record = await recordCycle(services, record, cycle, { at: Date.now() });
    }
    expect(record.warnings.length).toBe(MAX_SYNC_WARNINGS);
    expect(record.sync!.pass!.changedShards.length).toBeLessThanOrEqual(MAX_RECORDED_CHANGED_SHARDS + 1);
    expect(record.sync!.lastCycle!.changedShards).toHaveLength(MAX_RECORDED_CHANGED_SHARDS);

    const bytes = dynamoItemBytes(await rawItem(job.jobId, tableKeys.jobSk));
    console.info(`online job item at its largest: ${(bytes / 1024).toFixed(1)} KB of ${DYNAMO_ITEM_LIMIT_BYTES / 1024} KB`);
    expect(bytes).toBeLessThan(BUDGET);
    // An event names at most 50 of the shards written by others, and counts them all.
    const { items: events } = await store.listEvents(job.jobId, { limit: 100 });
    const external = events.filter((e) => e.type === 'TargetWrittenExternally');
    expect(external).toHaveLength(10);
    expect(external[0]!.details).toMatchObject({ shards: COLLECTIONS });
    expect((external[0]!.details!.where as string[]).length).toBe(50);
  }, 300_000);
});

function jobOf(prefix: string, request: CreateMigrationBody): JobRecord {
  const now = new Date().toISOString();
  return {
    schemaVersion: JOB_SCHEMA_VERSION,
    jobId: `${prefix}-${Math.random().toString(36).slice(2, 10)}`,
    type: request.type,
    status: 'PENDING',
    phase: 'QUEUED',
    source: { uri: request.source.uri, credentialsRef: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${'s'.repeat(200)}` },
    target: { uri: request.target.uri, credentialsRef: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${'s'.repeat(200)}` },
    databases: request.databases ?? [],
    options: JobOptions.parse(request.options ?? {}),
    warnings: [],
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
}
