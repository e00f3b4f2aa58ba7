import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

/**
 * The job table's shape as data: the CDK stack and the local setup both build the table from it,
 * so the store, the cloud table and DynamoDB Local can never disagree on a key name.
 */
export const JOB_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Every item carries its kind here; the GSI is keyed on it so only job items are listed. */
  entityAttribute: 'entity',
  /** Epoch seconds after which DynamoDB removes the item (idempotency keys). */
  ttlAttribute: 'expiresAt',
  byCreatedAt: {
    indexName: 'byCreatedAt',
    partitionKey: 'entity',
    sortKey: 'createdAt',
  },
} as const;

export const ENTITIES = { job: 'JOB', collection: 'COLLECTION', shard: 'SHARD', event: 'EVENT', copyBatch: 'COPY_BATCH' } as const;

/** Keys of the items of one job (see docs/design.md, "DynamoDB: one table"). */
export const tableKeys = {
  jobPk: (jobId: string): string => `JOB#${jobId}`,
  jobSk: 'JOB',
  /** One item per collection of the job, in key order: a page of them is a Query on this prefix. */
  collectionPrefix: 'COLLECTION#',
  collectionSk: (collectionKey: string): string => `COLLECTION#${collectionKey}`,
  shardPrefix: (collectionKey: string): string => `SHARD#${collectionKey}#`,
  shardSk: (collectionKey: string, index: number): string => `SHARD#${collectionKey}#${String(index).padStart(6, '0')}`,
  /** The copy batches of the job's latest plan, by number (lib/copyBatches.ts). */
  copyBatchSk: (batch: number): string => `COPYBATCH#${String(batch).padStart(6, '0')}`,
  eventPrefix: 'EVENT#',
  eventSk: (at: string, random: string): string => `EVENT#${at}#${random}`,
} as const;

/**
 * Creates the job table (for DynamoDB Local or a dev account) and waits until it is ACTIVE.
 * Idempotent: a table that already exists is fine.
 */
export async function createJobTable(client: DynamoDBClient, tableName: string, options: { maxWaitSeconds?: number } = {}): Promise<void> {
  const { partitionKey, sortKey, byCreatedAt } = JOB_TABLE;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: partitionKey, AttributeType: 'S' },
          { AttributeName: sortKey, AttributeType: 'S' },
          { AttributeName: byCreatedAt.partitionKey, AttributeType: 'S' },
          { AttributeName: byCreatedAt.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: byCreatedAt.indexName,
            KeySchema: [
              { AttributeName: byCreatedAt.partitionKey, KeyType: 'HASH' },
              { AttributeName: byCreatedAt.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: options.maxWaitSeconds ?? 120, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  // A table can exist while its index is still being built; wait for that too.
  const deadline = Date.now() + (options.maxWaitSeconds ?? 120) * 1000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === undefined || index.IndexStatus === 'ACTIVE');
    if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    if (Date.now() > deadline) throw new Error(`table ${tableName} is not ACTIVE after ${options.maxWaitSeconds ?? 120} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
