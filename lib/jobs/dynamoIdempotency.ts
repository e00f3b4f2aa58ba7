import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IdempotencyKeyTakenError, type IdempotencyRecord } from './errors';
import { JOB_TABLE } from './table';

const idempotencyKeys = {
  pk: (key: string): string => `IDEMPOTENCY#${key}`,
  sk: 'IDEMPOTENCY',
} as const;

/**
 * Idempotency keys of `POST /migrations` as items of the job table: one conditional PutItem claims
 * a key (as powertools idempotency does); a key already there, and not expired, comes back as an
 * IdempotencyKeyTakenError carrying the stored record.
 */
export class DynamoIdempotency {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: () => Date,
  ) {}

  async claim(record: IdempotencyRecord): Promise<void> {
    const now = Math.floor(this.clock().getTime() / 1000);
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [JOB_TABLE.partitionKey]: idempotencyKeys.pk(record.key),
            [JOB_TABLE.sortKey]: idempotencyKeys.sk,
            [JOB_TABLE.entityAttribute]: 'IDEMPOTENCY',
            key: record.key,
            jobId: record.jobId,
            requestHash: record.requestHash,
            [JOB_TABLE.ttlAttribute]: record.expiresAt,
          },
          // Not there, or past its TTL but not yet removed by DynamoDB (which can take days).
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
          ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#expiresAt': JOB_TABLE.ttlAttribute },
          ExpressionAttributeValues: { ':now': now },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException && error.Item) throw new IdempotencyKeyTakenError(existingRecord(record.key, error.Item), { cause: error });
      throw error;
    }
  }

  /** Gives the key back when the request that claimed it created nothing (only that request's claim). */
  async release(key: string, jobId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [JOB_TABLE.partitionKey]: idempotencyKeys.pk(key), [JOB_TABLE.sortKey]: idempotencyKeys.sk },
          ConditionExpression: '#jobId = :job',
          ExpressionAttributeNames: { '#jobId': 'jobId' },
          ExpressionAttributeValues: { ':job': jobId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

function existingRecord(key: string, item: Record<string, AttributeValue>): IdempotencyRecord {
  return {
    key,
    jobId: item.jobId?.S ?? 'unknown',
    requestHash: item.requestHash?.S ?? '',
    expiresAt: Number(item[JOB_TABLE.ttlAttribute]?.N ?? 0),
  };
}
