import { redactUri } from '../cluster';
import type { JobRecord } from './model';

/**
 * One writer per target collection. A job holds a lock on every target collection it writes
 * (`<uri>#<db>.<collection>`), on the whole target database when it names no collections
 * (`<uri>#<db>.*`), or on the whole target cluster when it names no databases (an online job
 * moving every database: `<uri>#*`). Locks are items of the job table, taken in the transaction
 * that creates the job and released when the job ends (docs/design.md, "One writer per target
 * collection").
 */
export interface TargetLockScope {
  /** The normalised target cluster uri (no credentials, no scheme, lower case, with a port). */
  uri: string;
  /** Undefined: the whole cluster. */
  db?: string;
  /** Undefined: the whole database (or cluster). */
  collection?: string;
}

/** Above this many collections a job locks the whole database: a transaction holds at most 100 items. */
const MAX_COLLECTION_LOCKS = 90;

const WHOLE = '*';

/** `host:port` of a cluster, so `http://h:19530`, `H:19530/` and `user:pw@h:19530` name one cluster. */
export function normaliseClusterUri(uri: string): string {
  const redacted = redactUri(uri.trim()).toLowerCase();
  const scheme = /^([a-z]+):\/\//.exec(redacted)?.[1];
  const hostPort = redacted.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  if (/:\d+$/.test(hostPort)) return hostPort;
  return `${hostPort}:${scheme === 'https' ? 443 : 19530}`;
}

/**
 * The locks a job needs, from what it records: its target uri and its databases. An offline job
 * naming no databases has already been given `default`; a job naming none at all (online, every
 * database) locks the whole cluster.
 */
export function targetLockScopes(job: Pick<JobRecord, 'target' | 'databases'>): TargetLockScope[] {
  const uri = normaliseClusterUri(job.target.uri);
  if (job.databases.length === 0) return [{ uri }];
  return job.databases.flatMap((database) => {
    const db = database.targetName ?? database.name;
    const collections = database.collections ?? [];
    if (collections.length === 0 || collections.length > MAX_COLLECTION_LOCKS) return [{ uri, db }];
    return collections.map((c) => ({ uri, db, collection: c.targetName ?? c.name }));
  });
}

/** How a lock is named in messages: `collection default.books on 10.0.0.5:19530`. */
export function describeScope(scope: TargetLockScope): string {
  if (scope.db === undefined) return `cluster ${scope.uri} (all databases)`;
  return `${scope.collection === undefined ? `database ${scope.db} (all collections)` : `collection ${scope.db}.${scope.collection}`} on ${scope.uri}`;
}

/** Partition keys of lock items (sort key `LOCK`). */
export const lockKeys = {
  /** The exclusive lock of a collection, of a whole database, or of a whole cluster. */
  lock: (scope: TargetLockScope): string => (scope.db === undefined ? `LOCK#${scope.uri}#${WHOLE}` : `LOCK#${scope.uri}#${scope.db}.${scope.collection ?? WHOLE}`),
  /**
   * The set of jobs holding locks inside a database (collection locks) or inside a cluster (any
   * lock but the cluster's): a lock on the whole database or cluster needs it empty.
   */
  inside: (scope: TargetLockScope): string => (scope.db === undefined ? `LOCKS-IN#${scope.uri}` : `LOCKS-IN#${scope.uri}#${scope.db}`),
  sk: 'LOCK',
} as const;
