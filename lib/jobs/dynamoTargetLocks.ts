import { ConditionalCheckFailedException, TransactionCanceledException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../errors';
import { TargetLockedError } from './errors';
import { isTerminal, type JobRecord } from './model';
import { JOB_TABLE } from './table';
import { lockKeys, targetLockScopes, type TargetLockScope } from './targetLocks';

type Item = Record<string, unknown>;
export type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

/** What each item of the create transaction is for, in the order of TransactItems. */
type Role =
  | { kind: 'job' }
  | { kind: 'lock'; scope: TargetLockScope } // Put LOCK#..: nobody holds this lock
  | { kind: 'wholeFree'; scope: TargetLockScope } // ConditionCheck LOCK#<db>.* or LOCK#*: nobody holds the whole database or cluster
  | { kind: 'insideAdd' } // Update LOCKS-IN#<db> or LOCKS-IN#<cluster>: count this job among the holders inside it
  | { kind: 'insideEmpty'; scope: TargetLockScope }; // ConditionCheck LOCKS-IN#..: nobody holds anything inside it

/** Holders found in the way, by the lock they hold; stale ones (ended jobs) are cleared and the write retried. */
interface Obstacle {
  scope: TargetLockScope;
  holders: string[];
  pk: string;
  inside: boolean;
}

const ATTEMPTS = 3;
const HOLDERS = 'holders';

/**
 * Creating a job together with its target locks, and releasing them. `readJob` reads a holder's
 * job, to tell a live holder from one that ended without releasing (its locks are then taken over).
 */
export class DynamoTargetLocks {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly readJob: (jobId: string) => Promise<JobRecord | undefined>,
  ) {}

  /** Puts the job item and takes every lock in one transaction; a live holder is a TargetLockedError. */
  async createWithLocks(jobItem: Item, job: JobRecord): Promise<void> {
    const absent = { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey } };
    await this.writeWithLocks({ Put: { TableName: this.tableName, Item: jobItem, ...absent } }, job, (cause) => new ConflictError(`job ${job.jobId} already exists`, { cause }));
  }

  /**
   * Writes the job item (`jobWrite`, conditional) and takes every lock in one transaction: how a
   * resumed job takes its locks again. `refused` names the error when the job item's condition fails.
   */
  async writeWithLocks(jobWrite: TransactItem, job: JobRecord, refused: (cause: TransactionCanceledException, item?: Record<string, AttributeValue>) => Error): Promise<void> {
    const scopes = targetLockScopes(job);
    for (let attempt = 1; ; attempt++) {
      const { items, roles } = this.createTransaction(jobWrite, job.jobId, scopes);
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') throw refused(error, reasons[0].Item);
        const obstacles = reasons.flatMap((reason, i) => (reason.Code === 'ConditionalCheckFailed' ? obstacle(roles[i], reason.Item, this.pk(items[i])) : []));
        if (obstacles.length === 0) {
          if (reasons.some((r) => r.Code === 'TransactionConflict') && attempt < ATTEMPTS) continue;
          throw new ConflictError(`job ${job.jobId} was not created: ${reasons.map((r) => r.Code ?? 'None').join(', ')}`, { cause: error });
        }
        const live = await this.clearStale(obstacles);
        if (live) throw new TargetLockedError(live.scope, live.holder, { cause: error });
        if (attempt >= ATTEMPTS) throw new ConflictError(`the target locks of job ${job.jobId} kept changing; retry`, { cause: error });
      }
    }
  }

  /** Lets go of every lock the job holds. Idempotent: a lock it no longer holds is left alone. */
  async release(job: JobRecord): Promise<void> {
    const scopes = targetLockScopes(job);
    const wholes = new Set<string>();
    for (const scope of scopes) {
      await this.deleteLockHeldBy(lockKeys.lock(scope), job.jobId);
      if (scope.collection !== undefined) wholes.add(lockKeys.inside(scope));
      if (scope.db !== undefined) wholes.add(lockKeys.inside({ uri: scope.uri }));
    }
    for (const pk of wholes) await this.removeHolder(pk, job.jobId);
  }

  private createTransaction(jobWrite: TransactItem, jobId: string, scopes: TargetLockScope[]): { items: TransactItem[]; roles: Role[] } {
    const items: TransactItem[] = [];
    const roles: Role[] = [];
    const add = (item: TransactItem, role: Role) => (items.push(item), roles.push(role));
    const absent = { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': JOB_TABLE.partitionKey } };
    const lockItem = (pk: string) => ({ [JOB_TABLE.partitionKey]: pk, [JOB_TABLE.sortKey]: lockKeys.sk, [JOB_TABLE.entityAttribute]: 'LOCK', jobId });

    add(jobWrite, { kind: 'job' });
    // The wholes this job's locks lie inside (a collection's database, any database's cluster): each must be
    // free, and the job is counted among its holders, so a later whole lock sees it.
    const wholes = new Map<string, TargetLockScope>();
    for (const scope of scopes) {
      add({ Put: { TableName: this.tableName, Item: lockItem(lockKeys.lock(scope)), ...absent, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }, { kind: 'lock', scope });
      if (scope.collection === undefined) {
        add(
          {
            ConditionCheck: {
              TableName: this.tableName,
              Key: this.key(lockKeys.inside(scope)),
              ConditionExpression: 'attribute_not_exists(#holders)',
              ExpressionAttributeNames: { '#holders': HOLDERS },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          { kind: 'insideEmpty', scope },
        );
      } else {
        const database = { uri: scope.uri, db: scope.db };
        wholes.set(lockKeys.inside(database), database);
      }
      if (scope.db !== undefined) wholes.set(lockKeys.inside({ uri: scope.uri }), { uri: scope.uri });
    }
    for (const [insidePk, whole] of wholes) {
      add(
        { ConditionCheck: { TableName: this.tableName, Key: this.key(lockKeys.lock(whole)), ...absent, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
        { kind: 'wholeFree', scope: whole },
      );
      add(
        {
          Update: {
            TableName: this.tableName,
            Key: this.key(insidePk),
            UpdateExpression: 'ADD #holders :job SET #entity = :entity',
            ExpressionAttributeNames: { '#holders': HOLDERS, '#entity': JOB_TABLE.entityAttribute },
            ExpressionAttributeValues: { ':job': new Set([jobId]), ':entity': 'LOCK' },
          },
        },
        { kind: 'insideAdd' },
      );
    }
    return { items, roles };
  }

  /** Clears locks held by jobs that have ended (or vanished); returns the first live holder, if any. */
  private async clearStale(obstacles: Obstacle[]): Promise<{ scope: TargetLockScope; holder: string } | undefined> {
    for (const { scope, holders, pk, inside } of obstacles) {
      for (const holder of holders) {
        const job = await this.readJob(holder);
        if (job && !isTerminal(job.status)) {
          // Locks inside a whole database or cluster are in its way: name what the holder writes.
          const held = inside ? targetLockScopes(job).find((s) => s.uri === scope.uri && (scope.db === undefined || s.db === scope.db)) : undefined;
          return { scope: held ?? scope, holder };
        }
        // Ended without releasing (or vanished): let go of everything it held, then of this item.
        if (job) await this.release(job);
        if (inside) await this.removeHolder(pk, holder);
        else await this.deleteLockHeldBy(pk, holder);
      }
    }
    return undefined;
  }

  private async deleteLockHeldBy(pk: string, jobId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.key(pk),
          ConditionExpression: '#jobId = :job',
          ExpressionAttributeNames: { '#jobId': 'jobId' },
          ExpressionAttributeValues: { ':job': jobId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private async removeHolder(pk: string, jobId: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(pk),
          UpdateExpression: 'DELETE #holders :job',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#holders': HOLDERS, '#pk': JOB_TABLE.partitionKey },
          ExpressionAttributeValues: { ':job': new Set([jobId]) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private key(pk: string): Item {
    return { [JOB_TABLE.partitionKey]: pk, [JOB_TABLE.sortKey]: lockKeys.sk };
  }

  private pk(item: TransactItem | undefined): string {
    const key = item?.Put?.Item ?? item?.ConditionCheck?.Key ?? item?.Update?.Key ?? {};
    return String(key[JOB_TABLE.partitionKey]);
  }
}

function obstacle(role: Role | undefined, item: Record<string, AttributeValue> | undefined, pk: string): Obstacle[] {
  if (!role || role.kind === 'job' || role.kind === 'insideAdd') return [];
  if (role.kind === 'insideEmpty') {
    const holders = item?.[HOLDERS]?.SS ?? [];
    return holders.length ? [{ scope: role.scope, holders, pk, inside: true }] : [];
  }
  const holder = item?.jobId?.S;
  return holder ? [{ scope: role.scope, holders: [holder], pk, inside: false }] : [];
}
