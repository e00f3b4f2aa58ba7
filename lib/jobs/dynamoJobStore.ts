import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  TransactionConflictException,
  type AttributeValue,
  type CancellationReason,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { CopyBatch } from '../copyBatches';
import { ConflictError, JobNotFoundError, PermanentError, TransientError } from '../errors';
import { batchWriteAll, type WriteRequest } from './batchWrite';
import { DynamoIdempotency } from './dynamoIdempotency';
import { DynamoTargetLocks } from './dynamoTargetLocks';
import type { IdempotencyRecord } from './errors';
import { CollectionProgress, JobEvent, JobRecord, ShardRecord, type CollectionsSummary, type JobStatus } from './model';
import { summarizeCollections } from './progress';
import type { CollectionPatch, JobPatch, JobStore, ListJobsQuery, Page, ShardCheckpoint } from './store';
import { ENTITIES, JOB_TABLE, tableKeys } from './table';

type Item = Record<string, unknown>;

export interface DynamoJobStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Source of `updatedAt` and event times; tests pin it. */
  clock?: () => Date;
}

/** A document client that drops undefined attributes (optional fields of the records). */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const JOBS_PAGE = { default: 20, max: 100 };
const EVENTS_PAGE = { default: 100, max: 1000 };
const COLLECTIONS_PAGE = { default: 100, max: 1000 };
/** Tries of a checkpoint transaction that collides with another shard's. */
const CONTENTION_ATTEMPTS = 12;

/** Job records, shards and events in one DynamoDB table (docs/design.md). */
export class DynamoJobStore implements JobStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly clock: () => Date;
  private readonly locks: DynamoTargetLocks;
  private readonly idempotency: DynamoIdempotency;

  constructor(options: DynamoJobStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock ?? (() => new Date());
    this.locks = new DynamoTargetLocks(this.client, this.tableName, (jobId) => this.get(jobId));
    this.idempotency = new DynamoIdempotency(this.client, this.tableName, this.clock);
  }

  async create(job: JobRecord, options: { lockTargets?: boolean } = {}): Promise<JobRecord> {
    const record = JobRecord.parse(job);
    const item = { ...plain(record), ...jobKey(record.jobId), [JOB_TABLE.entityAttribute]: ENTITIES.job };
    if (options.lockTargets) {
      await this.locks.createWithLocks(item, record);
      return record;
    }
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConflictError(`job ${record.jobId} already exists`, { cause: error });
      throw asConflict(error);
    }
    return record;
  }

  async releaseTargetLocks(jobId: string): Promise<void> {
    const job = await this.get(jobId);
    if (job) await this.locks.release(job);
  }

  async claimIdempotencyKey(record: IdempotencyRecord): Promise<void> {
    await this.idempotency.claim(record);
  }

  async releaseIdempotencyKey(key: string, jobId: string): Promise<void> {
    await this.idempotency.release(key, jobId);
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true }));
    return Item ? readRecord(JobRecord, Item, `job ${jobId}`) : undefined;
  }

  async list(query: ListJobsQuery = {}): Promise<Page<JobRecord>> {
    const { byCreatedAt } = JOB_TABLE;
    const page = await this.queryPage(
      {
        IndexName: byCreatedAt.indexName,
        KeyConditionExpression: '#entity = :job',
        ExpressionAttributeNames: { '#entity': byCreatedAt.partitionKey },
        ExpressionAttributeValues: { ':job': ENTITIES.job },
        ScanIndexForward: false,
      },
      query,
      JOBS_PAGE,
      (key) =>
        key[byCreatedAt.partitionKey] === ENTITIES.job &&
        String(key[JOB_TABLE.partitionKey]).startsWith(tableKeys.jobPk('')) &&
        key[JOB_TABLE.sortKey] === tableKeys.jobSk &&
        hasExactly(key, [JOB_TABLE.partitionKey, JOB_TABLE.sortKey, byCreatedAt.partitionKey, byCreatedAt.sortKey]),
    );
    return { items: page.items.map((item) => readRecord(JobRecord, item, `job ${String(item.jobId)}`)), nextToken: page.nextToken };
  }

  async update(jobId: string, patch: JobPatch, allowedFrom?: readonly JobStatus[]): Promise<JobRecord> {
    const checked = validPatch(JobPatchSchema, patch, 'job patch');
    if (allowedFrom && allowedFrom.length === 0) throw new ConflictError(`no status is allowed for updating job ${jobId}`);
    const expr = new Expressions();
    const sets = this.patchSets(expr, checked);
    const conditions = [`attribute_exists(${expr.name(JOB_TABLE.partitionKey)})`];
    if (allowedFrom) conditions.push(`${expr.name('status')} IN (${allowedFrom.map((s) => expr.value(s)).join(', ')})`);
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ...expr.attributes(),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return readRecord(JobRecord, Attributes ?? {}, `job ${jobId}`);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        const status = stringAttribute(error.Item, 'status');
        if (!error.Item) throw new JobNotFoundError(jobId);
        throw new ConflictError(`job ${jobId} is ${status ?? 'in an unknown status'}; this change needs one of ${allowedFrom?.join(', ')}`, {
          cause: error,
        });
      }
      throw asConflict(error);
    }
  }

  async reopen(jobId: string, patch: JobPatch, allowedFrom: readonly JobStatus[]): Promise<JobRecord> {
    const checked = validPatch(JobPatchSchema, patch, 'job patch');
    if (allowedFrom.length === 0) throw new ConflictError(`no status is allowed for reopening job ${jobId}`);
    const job = await this.get(jobId);
    if (!job) throw new JobNotFoundError(jobId);
    const expr = new Expressions();
    const sets = this.patchSets(expr, checked);
    const statuses = allowedFrom.map((status) => expr.value(status)).join(', ');
    const update = {
      Update: {
        TableName: this.tableName,
        Key: jobKey(jobId),
        // The error and end of the execution that failed move to its entry of `executions` (the caller's patch).
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${expr.name('error')}, ${expr.name('endedAt')}`,
        ConditionExpression: `attribute_exists(${expr.name(JOB_TABLE.partitionKey)}) AND ${expr.name('status')} IN (${statuses})`,
        ...expr.attributes(),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
    await this.locks.writeWithLocks(update, job, (cause, item) => {
      if (!item) return new JobNotFoundError(jobId);
      return new ConflictError(`job ${jobId} is ${stringAttribute(item, 'status') ?? 'in an unknown status'}; this change needs one of ${allowedFrom.join(', ')}`, { cause });
    });
    const reopened = await this.get(jobId);
    if (!reopened) throw new JobNotFoundError(jobId);
    return reopened;
  }

  /** SET clauses of a job patch (warnings appended), with the revision moved. */
  private patchSets(expr: Expressions, checked: z.output<typeof JobPatchSchema>): string[] {
    const sets: string[] = [];
    for (const [field, value] of Object.entries(checked)) {
      if (field === 'addWarnings' || value === undefined) continue;
      sets.push(`${expr.name(field)} = ${expr.value(field === 'source' || field === 'target' || field === 'executions' ? plain(value) : value)}`);
    }
    if (checked.addWarnings?.length) {
      const warnings = expr.name('warnings');
      sets.push(`${warnings} = list_append(${warnings}, ${expr.value(checked.addWarnings)})`);
    }
    sets.push(...this.touch(expr));
    return sets;
  }

  async putCollections(jobId: string, collections: CollectionProgress[]): Promise<void> {
    const entries = collections.map((c) => validPatch(CollectionProgress, c, `collection ${c.key}`));
    if (new Set(entries.map((c) => c.key)).size !== entries.length) throw new PermanentError('INVALID_RECORD', `collections of job ${jobId} repeat a key`);
    if (!(await this.jobExists(jobId))) throw new JobNotFoundError(jobId);
    await this.batchWrite(entries.map((entry) => ({ PutRequest: { Item: collectionItem(jobId, entry) } })));
  }

  async updateCollection(
    jobId: string,
    key: string,
    patch: CollectionPatch,
  ): Promise<void> {
    const checked = validPatch(CollectionPatchSchema, patch, `collection ${key} patch`);
    const expr = new Expressions();
    const sets = Object.entries(checked)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => `${expr.name(field)} = ${expr.value(value)}`);
    if (sets.length === 0) return;
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: collectionKeyOf(jobId, key),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: `attribute_exists(${expr.name(JOB_TABLE.partitionKey)})`,
          ...expr.attributes(),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        if (!(await this.jobExists(jobId))) throw new JobNotFoundError(jobId);
        throw new PermanentError('COLLECTION_NOT_FOUND', `job ${jobId} has no collection ${key}`);
      }
      throw asConflict(error);
    }
  }

  async getCollection(jobId: string, key: string): Promise<CollectionProgress | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: collectionKeyOf(jobId, key), ConsistentRead: true }));
    return Item ? readRecord(CollectionProgress, Item, `collection ${key} of job ${jobId}`) : undefined;
  }

  async listCollections(jobId: string, query: ListJobsQuery = {}): Promise<Page<CollectionProgress>> {
    const pk = tableKeys.jobPk(jobId);
    const page = await this.queryPage(
      { ...this.collectionsQuery(jobId), ScanIndexForward: true, ConsistentRead: true },
      query,
      COLLECTIONS_PAGE,
      (key) =>
        key[JOB_TABLE.partitionKey] === pk &&
        String(key[JOB_TABLE.sortKey]).startsWith(tableKeys.collectionPrefix) &&
        hasExactly(key, [JOB_TABLE.partitionKey, JOB_TABLE.sortKey]),
    );
    return { items: page.items.map((item) => readRecord(CollectionProgress, item, `collection of job ${jobId}`)), nextToken: page.nextToken };
  }

  async allCollections(jobId: string): Promise<CollectionProgress[]> {
    const items = await this.queryAll(this.collectionsQuery(jobId));
    return items.map((item) => readRecord(CollectionProgress, item, `collection of job ${jobId}`));
  }

  async summarizeCollections(jobId: string): Promise<CollectionsSummary> {
    const query = this.collectionsQuery(jobId);
    const items = await this.queryAll({
      ...query,
      ExpressionAttributeNames: { ...query.ExpressionAttributeNames, '#status': 'status', '#rowsTotal': 'rowsTotal', '#rowsCopied': 'rowsCopied' },
      ProjectionExpression: '#status, #rowsTotal, #rowsCopied',
    });
    return summarizeCollections(items.map((item) => readRecord(CollectionTally, item, `collection of job ${jobId}`)));
  }

  private collectionsQuery(jobId: string) {
    return {
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey } as Record<string, string>,
      ExpressionAttributeValues: { ':pk': tableKeys.jobPk(jobId), ':prefix': tableKeys.collectionPrefix },
    };
  }

  private async jobExists(jobId: string): Promise<boolean> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true, ProjectionExpression: '#pk', ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey } }),
    );
    return Item !== undefined;
  }

  async replaceShards(jobId: string, collectionKey: string, shards: ShardRecord[]): Promise<void> {
    const records = shards.map((shard) => validPatch(ShardRecord, shard, `shard ${shard.index}`));
    const foreign = records.find((s) => s.jobId !== jobId || s.collectionKey !== collectionKey);
    if (foreign) throw new PermanentError('INVALID_SHARD', `shard ${foreign.index} belongs to ${foreign.jobId}/${foreign.collectionKey}, not ${jobId}/${collectionKey}`);
    if (new Set(records.map((s) => s.index)).size !== records.length) {
      throw new PermanentError('INVALID_SHARD', `shards of ${collectionKey} repeat an index`);
    }
    const old = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': tableKeys.jobPk(jobId), ':prefix': tableKeys.shardPrefix(collectionKey) },
      ProjectionExpression: '#pk, #sk',
    });
    await this.batchWrite(old.map((item) => ({ DeleteRequest: { Key: { [JOB_TABLE.partitionKey]: item[JOB_TABLE.partitionKey], [JOB_TABLE.sortKey]: item[JOB_TABLE.sortKey] } } })));
    await this.batchWrite(records.map((shard) => ({ PutRequest: { Item: shardItem(shard) } })));
  }

  async putCopyBatches(jobId: string, batches: CopyBatch[]): Promise<void> {
    const records = batches.map((batch) => validPatch(CopyBatch, batch, `copy batch ${batch.number}`));
    await this.batchWrite(records.map((batch) => ({ PutRequest: { Item: copyBatchItem(jobId, batch) } })));
  }

  async getCopyBatch(jobId: string, batch: number): Promise<CopyBatch | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: copyBatchKey(jobId, batch), ConsistentRead: true }));
    return Item ? readRecord(CopyBatch, Item, `copy batch ${batch} of job ${jobId}`) : undefined;
  }

  async getShard(jobId: string, collectionKey: string, index: number): Promise<ShardRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: shardKey(jobId, collectionKey, index), ConsistentRead: true }),
    );
    return Item ? readRecord(ShardRecord, Item, `shard ${collectionKey}#${index} of job ${jobId}`) : undefined;
  }

  async listShards(jobId: string, collectionKey: string): Promise<ShardRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey },
      ExpressionAttributeValues: { ':pk': tableKeys.jobPk(jobId), ':prefix': tableKeys.shardPrefix(collectionKey) },
    });
    return items.map((item) => readRecord(ShardRecord, item, `shard of ${collectionKey} of job ${jobId}`));
  }

  async claimShard(jobId: string, collectionKey: string, index: number, attempt: number): Promise<string> {
    const owner = randomUUID();
    await this.setOnShardOfAttempt({ jobId, collectionKey, index, attempt }, 'owner', owner, 'it was not claimed');
    return owner;
  }

  async setShardDigest(jobId: string, collectionKey: string, index: number, attempt: number, digest: { epoch: string; value: string }): Promise<void> {
    await this.setOnShardOfAttempt({ jobId, collectionKey, index, attempt }, 'targetDigest', digest, 'its digest was not kept');
  }

  /** Sets one attribute of a shard item, if the shard is still of that attempt (a ConflictError saying `lost` otherwise). */
  private async setOnShardOfAttempt(
    { jobId, collectionKey, index, attempt }: { jobId: string; collectionKey: string; index: number; attempt: number },
    attribute: string,
    value: unknown,
    lost: string,
  ): Promise<void> {
    const e = new Expressions();
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: shardKey(jobId, collectionKey, index),
          UpdateExpression: `SET ${e.name(attribute)} = ${e.value(value)}`,
          ConditionExpression: `attribute_exists(${e.name(JOB_TABLE.partitionKey)}) AND ${e.name('attempt')} = ${e.value(attempt)}`,
          ...e.attributes(),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new ConflictError(`shard ${collectionKey}#${index} (attempt ${attempt}) of job ${jobId} is gone or re-planned; ${lost}`, { cause: error });
      throw error;
    }
  }

  async checkpointShard(update: ShardCheckpoint): Promise<void> {
    const u = validPatch(ShardCheckpointSchema, update, 'shard checkpoint');
    const now = this.now();
    const shardName = `shard ${u.collectionKey}#${u.index} of job ${u.jobId}`;

    const shard = new Expressions();
    const checkpoint = shard.name('checkpoint');
    const expectedCondition =
      u.expectedCheckpoint === null
        ? `(attribute_not_exists(${checkpoint}) OR attribute_type(${checkpoint}, ${shard.value('NULL')}))`
        : `${checkpoint} = ${shard.value(u.expectedCheckpoint)}`;
    const rows = shard.name('rowsCopied');
    const shardUpdate = {
      TableName: this.tableName,
      Key: shardKey(u.jobId, u.collectionKey, u.index),
      UpdateExpression:
        `SET ${checkpoint} = ${shard.value(u.checkpoint)}, ${rows} = ${rows} + ${shard.value(u.rowsDelta)}, ${shard.name('done')} = ${shard.value(u.done)}, ${shard.name('updatedAt')} = ${shard.value(now)}` +
        (u.duplicates ? `, ${shard.name('duplicateRows')} = ${shard.value(u.duplicates.rows)}, ${shard.name('duplicateExamples')} = ${shard.value(u.duplicates.examples)}` : ''),
      ConditionExpression:
        `attribute_exists(${shard.name(JOB_TABLE.partitionKey)}) AND ${shard.name('attempt')} = ${shard.value(u.attempt)} AND ${expectedCondition}` +
        (u.owner === undefined ? '' : ` AND ${shard.name('owner')} = ${shard.value(u.owner)}`),
      ...shard.attributes(),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };

    const collection = new Expressions();
    const copied = collection.name('rowsCopied');
    const collectionUpdate = {
      TableName: this.tableName,
      Key: collectionKeyOf(u.jobId, u.collectionKey),
      UpdateExpression: `SET ${copied} = ${copied} + ${collection.value(u.rowsDelta)}`,
      ConditionExpression: `attribute_exists(${collection.name(JOB_TABLE.partitionKey)})`,
      ...collection.attributes(),
    };

    try {
      await this.sendTransactionWithContention(new TransactWriteCommand({ TransactItems: [{ Update: shardUpdate }, { Update: collectionUpdate }] }));
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw asConflict(error);
      const [shardReason, collectionReason] = error.CancellationReasons ?? [];
      if (shardReason?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError(shardConflictMessage(shardName, u, shardReason), { cause: error });
      }
      if (collectionReason?.Code === 'ConditionalCheckFailed') {
        if (!(await this.jobExists(u.jobId))) throw new JobNotFoundError(u.jobId);
        throw new ConflictError(`job ${u.jobId} has no collection ${u.collectionKey}; the checkpoint of ${shardName} did not move`, { cause: error });
      }
      if ((error.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict')) {
        throw new ConflictError(`${shardName} was written by another transaction at the same time; the checkpoint did not move`, { cause: error });
      }
      throw new TransientError('CHECKPOINT_CANCELLED', `the checkpoint of ${shardName} was not written (${describeReasons(error.CancellationReasons)})`, { cause: error });
    }
  }

  /**
   * Shards of one collection checkpoint concurrently, and each transaction also writes the
   * collection's item, so they collide (TransactionConflict) in the normal course of a copy. That is contention, not a
   * lost race: retry it here with a short jittered backoff rather than fail the step.
   */
  private async sendTransactionWithContention(command: TransactWriteCommand): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(command);
        return;
      } catch (error) {
        const contended =
          error instanceof TransactionCanceledException &&
          (error.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict') &&
          !(error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
        if (!contended || attempt >= CONTENTION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1_000, 20 * 2 ** attempt)));
      }
    }
  }

  async appendEvent(jobId: string, event: Omit<JobEvent, 'jobId' | 'at'> & { at?: string }): Promise<JobEvent> {
    const record = validPatch(JobEvent, { ...event, jobId, at: event.at ?? this.now() }, 'event');
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...plain(record),
          [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId),
          [JOB_TABLE.sortKey]: tableKeys.eventSk(record.at, eventSuffix()),
          [JOB_TABLE.entityAttribute]: ENTITIES.event,
        },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey },
      }),
    );
    return record;
  }

  async listEvents(jobId: string, query: ListJobsQuery = {}): Promise<Page<JobEvent>> {
    const pk = tableKeys.jobPk(jobId);
    const page = await this.queryPage(
      {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': pk, ':prefix': tableKeys.eventPrefix },
        ScanIndexForward: true,
        ConsistentRead: true,
      },
      query,
      EVENTS_PAGE,
      (key) =>
        key[JOB_TABLE.partitionKey] === pk &&
        String(key[JOB_TABLE.sortKey]).startsWith(tableKeys.eventPrefix) &&
        hasExactly(key, [JOB_TABLE.partitionKey, JOB_TABLE.sortKey]),
    );
    return { items: page.items.map((item) => readRecord(JobEvent, item, `event of job ${jobId}`)), nextToken: page.nextToken };
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /** `updatedAt` and the revision counter `version` (no condition checks it: see JobRecord): every write of the job item moves both. */
  private touch(expr: Expressions, now = this.now()): string[] {
    const version = expr.name('version');
    return [`${expr.name('updatedAt')} = ${expr.value(now)}`, `${version} = ${version} + ${expr.value(1)}`];
  }

  private async queryPage(
    input: Omit<QueryCommandInput, 'TableName'>,
    query: ListJobsQuery,
    limits: { default: number; max: number },
    tokenMatches: (key: Record<string, unknown>) => boolean,
  ): Promise<{ items: Item[]; nextToken?: string }> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? limits.default), 1), limits.max);
    const startKey = query.nextToken === undefined ? undefined : decodeToken(query.nextToken, tokenMatches);
    const { Items = [], LastEvaluatedKey } = await this.client.send(
      new QueryCommand({ ...input, TableName: this.tableName, Limit: limit, ExclusiveStartKey: startKey }),
    );
    return { items: Items, nextToken: LastEvaluatedKey ? encodeToken(LastEvaluatedKey) : undefined };
  }

  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ ...input, TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    await batchWriteAll(this.client, this.tableName, requests, { what: 'writes', baseMs: 50, maxMs: 2_000 });
  }
}

// ---- records and keys ----

const JobPatchSchema = JobRecord.pick({
  status: true,
  phase: true,
  error: true,
  verification: true,
  executionArn: true,
  startedAt: true,
  endedAt: true,
  sourceBaseline: true,
  sync: true,
  writesStoppedAt: true,
  source: true,
  target: true,
  executions: true,
})
  .partial()
  .extend({ addWarnings: z.array(z.string()).optional() })
  .strict();

/** What a summary reads of a collection item. */
const CollectionTally = CollectionProgress.pick({ status: true, rowsTotal: true, rowsCopied: true });

const CollectionPatchSchema = CollectionProgress.pick({ status: true, rowsTotal: true, rowsCopied: true, shardCount: true, attempt: true, duplicateKeys: true, duplicateExamples: true })
  .partial()
  .strict();

const ShardCheckpointSchema = z.object({
  jobId: z.string().min(1),
  collectionKey: z.string().min(1),
  index: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  owner: z.string().optional(),
  expectedCheckpoint: z.string().nullable(),
  checkpoint: z.string().nullable(),
  rowsDelta: z.number().int().nonnegative(),
  done: z.boolean(),
  duplicates: z.object({ rows: z.number().int().nonnegative(), examples: z.array(z.string()).max(5) }).optional(),
});

function jobKey(jobId: string): Item {
  return { [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId), [JOB_TABLE.sortKey]: tableKeys.jobSk };
}

function collectionKeyOf(jobId: string, key: string): Item {
  return { [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId), [JOB_TABLE.sortKey]: tableKeys.collectionSk(key) };
}

function collectionItem(jobId: string, collection: CollectionProgress): Item {
  return { ...plain(collection), ...collectionKeyOf(jobId, collection.key), [JOB_TABLE.entityAttribute]: ENTITIES.collection };
}

function shardKey(jobId: string, collectionKey: string, index: number): Item {
  return { [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId), [JOB_TABLE.sortKey]: tableKeys.shardSk(collectionKey, index) };
}

function shardItem(shard: ShardRecord): Item {
  return { ...plain(shard), ...shardKey(shard.jobId, shard.collectionKey, shard.index), [JOB_TABLE.entityAttribute]: ENTITIES.shard };
}

function copyBatchKey(jobId: string, batch: number): Item {
  return { [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId), [JOB_TABLE.sortKey]: tableKeys.copyBatchSk(batch) };
}

function copyBatchItem(jobId: string, batch: CopyBatch): Item {
  return { ...plain(batch), ...copyBatchKey(jobId, batch.number), [JOB_TABLE.entityAttribute]: ENTITIES.copyBatch };
}

/** A JSON copy: no undefined values, no class instances, nothing shared with the caller. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Parses an item read back from the table; the key attributes are dropped by the schema. */
function readRecord<S extends z.ZodType>(schema: S, item: Item, what: string): z.output<S> {
  const result = schema.safeParse(item);
  if (!result.success) throw new PermanentError('CORRUPT_RECORD', `${what} in the table does not match its schema: ${z.prettifyError(result.error)}`);
  return result.data;
}

function validPatch<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new PermanentError('INVALID_RECORD', `${what} is not valid: ${z.prettifyError(result.error)}`);
  return result.data;
}

// ---- expressions ----

/** Collects ExpressionAttributeNames/Values under generated placeholders, so any key (dots included) is safe. */
class Expressions {
  private readonly names = new Map<string, string>();
  private readonly values: Record<string, unknown> = {};
  private count = 0;

  name(attribute: string): string {
    let placeholder = this.names.get(attribute);
    if (!placeholder) {
      placeholder = `#n${this.names.size}`;
      this.names.set(attribute, placeholder);
    }
    return placeholder;
  }

  value(value: unknown): string {
    const placeholder = `:v${this.count++}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  attributes(): { ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> } {
    return {
      ExpressionAttributeNames: Object.fromEntries([...this.names].map(([attribute, placeholder]) => [placeholder, attribute])),
      ...(this.count > 0 ? { ExpressionAttributeValues: this.values } : {}),
    };
  }
}

// ---- errors ----

/** A write that raced a transaction is a conflict like any other lost condition. */
function asConflict(error: unknown): unknown {
  if (error instanceof TransactionConflictException) return new ConflictError('the item is being changed by a transaction; retry', { cause: error });
  return error;
}

function stringAttribute(item: Record<string, AttributeValue> | undefined, name: string): string | undefined {
  const value = item?.[name];
  return value && 'S' in value ? value.S : undefined;
}

function shardConflictMessage(shardName: string, u: ShardCheckpoint, reason: CancellationReason): string {
  if (!reason.Item) return `${shardName} does not exist, or its checkpoint is not ${u.expectedCheckpoint ?? 'empty'} for attempt ${u.attempt}`;
  const attempt = reason.Item.attempt && 'N' in reason.Item.attempt ? Number(reason.Item.attempt.N) : undefined;
  if (attempt !== u.attempt) return `${shardName} belongs to attempt ${attempt}, not ${u.attempt}; the checkpoint did not move`;
  if (u.owner !== undefined && stringAttribute(reason.Item, 'owner') !== u.owner) return `${shardName} was claimed by another copy invocation; this one's checkpoint did not move`;
  const found = stringAttribute(reason.Item, 'checkpoint') ?? null;
  return `${shardName} is at checkpoint ${found ?? 'none'}, not the expected ${u.expectedCheckpoint ?? 'none'}; the checkpoint did not move`;
}

function describeReasons(reasons: CancellationReason[] | undefined): string {
  return (reasons ?? []).map((r) => r.Code ?? 'None').join(', ') || 'no reason given';
}

// ---- paging tokens and event keys ----

function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string, matches: (key: Record<string, unknown>) => boolean): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const valid =
    typeof key === 'object' && key !== null && !Array.isArray(key) && Object.values(key).every((v) => typeof v === 'string') && matches(key as Record<string, unknown>);
  if (!valid) throw new PermanentError('INVALID_NEXT_TOKEN', 'nextToken is not a token returned by this listing');
  return key as Record<string, unknown>;
}

/** A paging key DynamoDB accepts as ExclusiveStartKey: these attributes, non-empty, and no others. */
function hasExactly(key: Record<string, unknown>, names: string[]): boolean {
  const present = Object.keys(key);
  return present.length === names.length && names.every((name) => typeof key[name] === 'string' && (key[name] as string).length > 0);
}

let eventSequence = 0;
/** Orders events of the same millisecond as this process wrote them, then makes the key unique. */
function eventSuffix(): string {
  eventSequence = (eventSequence + 1) % 36 ** 6;
  return `${eventSequence.toString(36).padStart(6, '0')}${randomBytes(4).toString('hex')}`;
}
