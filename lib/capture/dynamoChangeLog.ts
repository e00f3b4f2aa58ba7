import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BATCH_WRITE_SIZE, batchWriteAll, type WriteRequest } from '../jobs/batchWrite';
import { JOB_TABLE, tableKeys } from '../jobs/table';
import type { ChangeAck, ChangeEntry, ChangeKind, ChangeLog, EndpointHeartbeat, LoggedChange, WriteOutcome } from './changes';

/**
 * The change log in the job table, beside the job's other items (pk `JOB#<jobId>`):
 * `CHANGE#<id>` per entry, `CHANGE#<id>#ACK#<n>` per acknowledgement (they sort right after their
 * entry), `CAPTURE#<instance>` per endpoint heartbeat. Entry ids start with the time, so "since a
 * time" is one Query on a key range. Items expire (TTL) after LOG_RETENTION_DAYS: the log is read
 * while the job syncs, never after.
 */
const ENTITY = 'CHANGE';
const HEARTBEAT_ENTITY = 'CAPTURE';
const CHANGE_PREFIX = 'CHANGE#';
const ACK_MARK = '#ACK#';
const HEARTBEAT_PREFIX = 'CAPTURE#';
const LOG_RETENTION_DAYS = 30;

/** The 13-digit epoch ms an entry id starts with. */
const idTime = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(13, '0');

/** An entry's id (ChangeEntry.id): its time, then who logged it and that writer's sequence, so ids sort by time and never collide. */
export const entryId = (at: number, instanceId: string, sequence: number): string => `${idTime(at)}-${instanceId}-${sequence.toString(36).padStart(8, '0')}`;

export class DynamoChangeLog implements ChangeLog {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async append(jobId: string, entries: readonly ChangeEntry[], acks: readonly ChangeAck[]): Promise<void> {
    const expiresAt = Math.floor(Date.now() / 1000) + LOG_RETENTION_DAYS * 86_400;
    const pk = tableKeys.jobPk(jobId);
    const items: Record<string, unknown>[] = [
      ...entries.map((e) => ({
        [JOB_TABLE.partitionKey]: pk,
        [JOB_TABLE.sortKey]: `${CHANGE_PREFIX}${e.id}`,
        [JOB_TABLE.entityAttribute]: ENTITY,
        [JOB_TABLE.ttlAttribute]: expiresAt,
        at: e.at,
        db: e.db,
        collection: e.collection,
        kind: e.kind,
        ...(e.partition ? { partition: e.partition } : {}),
        ...(e.keys?.length ? { keys: e.keys } : {}),
        ...(e.filter !== undefined ? { filter: e.filter } : {}),
        ...(e.toTarget ? { toTarget: true } : {}),
        ...(e.found ? { found: true } : {}),
      })),
      ...acks.map((a, n) => ({
        [JOB_TABLE.partitionKey]: pk,
        [JOB_TABLE.sortKey]: `${CHANGE_PREFIX}${a.id}${ACK_MARK}${n}-${Math.random().toString(36).slice(2, 8)}`,
        [JOB_TABLE.entityAttribute]: ENTITY,
        [JOB_TABLE.ttlAttribute]: expiresAt,
        outcome: a.outcome,
        ...(a.keys?.length ? { keys: a.keys } : {}),
      })),
    ];
    const writes = items.map((Item) => ({ PutRequest: { Item } }));
    await Promise.all(chunks(writes, BATCH_WRITE_SIZE).map((chunk) => this.batchWrite(chunk)));
  }

  async read(jobId: string, sinceMs: number): Promise<LoggedChange[]> {
    const byId = new Map<string, LoggedChange>();
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': tableKeys.jobPk(jobId), ':from': `${CHANGE_PREFIX}${idTime(sinceMs)}`, ':to': `${CHANGE_PREFIX}~` },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = String(item[JOB_TABLE.sortKey]).slice(CHANGE_PREFIX.length);
        const ackAt = sk.indexOf(ACK_MARK);
        if (ackAt < 0) {
          const known = byId.get(sk);
          byId.set(sk, {
            id: sk,
            at: Number(item.at),
            db: String(item.db),
            collection: String(item.collection),
            kind: item.kind as ChangeKind,
            ...(item.partition ? { partition: String(item.partition) } : {}),
            ...(item.keys ? { keys: item.keys as string[] } : {}),
            ...(item.filter !== undefined ? { filter: String(item.filter) } : {}),
            ...(item.toTarget ? { toTarget: true } : {}),
            ...(item.found ? { found: true } : {}),
            ackKeys: known?.ackKeys ?? [],
            ...(known?.outcome ? { outcome: known.outcome } : {}),
          });
        } else {
          const id = sk.slice(0, ackAt);
          const entry = byId.get(id);
          // An acknowledgement sorts after its entry; one without it (the entry expired) says nothing.
          if (!entry) continue;
          entry.outcome = worse(entry.outcome, item.outcome as WriteOutcome);
          if (item.keys) entry.ackKeys.push(...(item.keys as string[]));
        }
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return [...byId.values()];
  }

  async heartbeat(jobId: string, beat: EndpointHeartbeat): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [JOB_TABLE.partitionKey]: tableKeys.jobPk(jobId),
          [JOB_TABLE.sortKey]: `${HEARTBEAT_PREFIX}${beat.instanceId}`,
          [JOB_TABLE.entityAttribute]: HEARTBEAT_ENTITY,
          [JOB_TABLE.ttlAttribute]: Math.floor(Date.now() / 1000) + LOG_RETENTION_DAYS * 86_400,
          ...beat,
        },
      }),
    );
  }

  async heartbeats(jobId: string): Promise<EndpointHeartbeat[]> {
    const page = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey, '#sk': JOB_TABLE.sortKey },
        ExpressionAttributeValues: { ':pk': tableKeys.jobPk(jobId), ':prefix': HEARTBEAT_PREFIX },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).map((item) => ({
      instanceId: String(item.instanceId),
      at: Number(item.at),
      fenced: Boolean(item.fenced),
      inFlight: Number(item.inFlight),
      writeTimeoutMs: Number(item.writeTimeoutMs),
    }));
  }

  private async batchWrite(writes: WriteRequest[]): Promise<void> {
    await batchWriteAll(this.client, this.tableName, writes, { what: 'change log writes', baseMs: 25, maxMs: 1_000 });
  }
}

/** Of two acknowledgements of one entry (several only when its keys were split), the less certain outcome. */
function worse(a: WriteOutcome | undefined, b: WriteOutcome): WriteOutcome {
  const rank: Record<WriteOutcome, number> = { applied: 0, refused: 1, unknown: 2 };
  return a === undefined || rank[b] > rank[a] ? b : a;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
