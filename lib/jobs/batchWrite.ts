import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TransientError } from '../errors';

/** DynamoDB's limit of requests in one BatchWriteItem. */
export const BATCH_WRITE_SIZE = 25;
const BATCH_WRITE_ATTEMPTS = 8;

export type WriteRequest = { PutRequest?: { Item: Record<string, unknown> }; DeleteRequest?: { Key: Record<string, unknown> } };

/**
 * BatchWriteItem in groups of 25, resending the requests DynamoDB left unprocessed with a backoff
 * of `baseMs` doubling up to `maxMs`; after 8 attempts a TransientError names what is left.
 * The job store and the change log both write this way (the change log with shorter waits: an
 * application's write waits for it).
 */
export async function batchWriteAll(
  client: DynamoDBDocumentClient,
  tableName: string,
  requests: readonly WriteRequest[],
  { what, baseMs, maxMs }: { what: string; baseMs: number; maxMs: number },
): Promise<void> {
  for (let start = 0; start < requests.length; start += BATCH_WRITE_SIZE) {
    let pending = requests.slice(start, start + BATCH_WRITE_SIZE);
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > BATCH_WRITE_ATTEMPTS) throw new TransientError('BATCH_WRITE_UNPROCESSED', `${pending.length} ${what} stayed unprocessed after ${BATCH_WRITE_ATTEMPTS} attempts`);
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.min(baseMs * 2 ** attempt, maxMs)));
      const { UnprocessedItems } = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: [...pending] } }));
      pending = (UnprocessedItems?.[tableName] ?? []) as WriteRequest[];
    }
  }
}
