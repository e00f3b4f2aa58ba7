import { PermanentError, TransientError } from '../errors';
import type { JobWithCollections } from '../jobs/model';
import type { MilvusGateway } from '../milvus';
import { sleep } from '../milvus/backoff';
import { assertOk, isStatusOk, statusCode, type MilvusStatus } from '../milvus/status';
import type { Services } from '../services';
import { withClusters } from './jobContext';

/**
 * `options.loadAfterMigration`: at the end of the job every migrated collection is loaded on the
 * target with as many replicas as its source has. A source collection that is not loaded, or a
 * server that cannot tell (milvus-lite answers GetReplicas with UNIMPLEMENTED), counts as 1.
 *
 * Verify has usually loaded the target collection with one replica already. Milvus refuses to
 * change the replica count of a loaded collection, so a collection loaded with another count is
 * released and loaded again; except a collection the job appended to (`existingTarget: append`),
 * which held the target's own rows and may be serving reads: it keeps its replicas and the job
 * gets a warning.
 *
 * A target that cannot place the replicas (fewer query nodes than replicas) fails the job at once
 * with TARGET_REPLICAS_REFUSED: no retry will add nodes.
 */

export interface LoadOptions {
  /** How long the loads may take together before the step gives up (a TransientError the state machine retries). */
  timeoutMs?: number;
  pollMs?: number;
}

interface LoadedCollection {
  collection: string;
  /** Replicas the target collection is loaded with now. */
  replicas: number;
  sourceReplicas: number;
  /**
   * 'loaded' (it was not loaded), 'unchanged' (loaded with this count already), 'reloaded'
   * (released and loaded again with this count), 'kept' (an append target loaded with another count, left as it was).
   */
  action: 'loaded' | 'unchanged' | 'reloaded' | 'kept';
}

export async function loadMigratedCollections(services: Services, job: JobWithCollections, options: LoadOptions = {}): Promise<void> {
  const collections = Object.values(job.collections);
  const warnings: string[] = [];
  const loaded = await withClusters(services, job, async ({ source, target }) => {
    const out: LoadedCollection[] = [];
    for (const c of collections) {
      const replicas = await replicaCount(source, c.sourceDb, c.sourceName);
      const action = await loadWithReplicas(target, c.targetDb, c.targetName, replicas, { ...options, keepLoaded: c.append === true });
      const name = `${c.targetDb}.${c.targetName}`;
      if (action.kept !== undefined) {
        warnings.push(
          `loadAfterMigration: ${name} existed before the job and is loaded with ${action.kept} replica(s); the source has ${replicas}. It was left as it is: release and load it with ${replicas} replica(s) yourself if you want the source's count`,
        );
      }
      out.push({ collection: name, replicas: action.kept ?? replicas, sourceReplicas: replicas, action: action.action });
    }
    // Every load is asked for first, then waited for: the target loads them side by side.
    // Finalize's Lambda has 2 minutes (infra STEP_SIZING); a retried Finalize asks again and waits on.
    const until = Date.now() + (options.timeoutMs ?? 90_000);
    for (const c of collections) await waitLoaded(target, c.targetDb, c.targetName, until, options.pollMs ?? 200);
    return out;
  });
  const fresh = warnings.filter((w) => !job.warnings.includes(w));
  if (fresh.length > 0) await services.jobs.update(job.jobId, { addWarnings: fresh });
  await services.jobs.appendEvent(job.jobId, {
    type: 'CollectionsLoaded',
    message: `${loaded.length} collection(s) loaded on the target: ${loaded.map((l) => `${l.collection} (${l.replicas} replica${l.replicas === 1 ? '' : 's'})`).join(', ') || 'none'}`,
    details: { count: loaded.length, collections: loaded },
  });
}

function loadState(cluster: MilvusGateway, db: string, name: string): Promise<string> {
  return cluster.loadState(db, name);
}

/** The replicas the collection is loaded with; undefined when it is not loaded or the server cannot tell. */
function loadedReplicas(cluster: MilvusGateway, db: string, name: string): Promise<number | undefined> {
  return cluster.replicas(db, name);
}

/** The source's replica count: 1 when the source collection is not loaded or the server cannot tell. */
async function replicaCount(cluster: MilvusGateway, db: string, name: string): Promise<number> {
  if ((await loadState(cluster, db, name)) !== 'LoadStateLoaded') return 1;
  return (await loadedReplicas(cluster, db, name)) ?? 1;
}

// merr ErrResourceGroupNodeNotEnough (304), ErrServiceResourceInsufficient (12, marked retriable:
// 2.6 answers it when a resource group lacks streaming/query nodes for the replicas asked for).
const NODES_NOT_ENOUGH = 304;
const RESOURCE_INSUFFICIENT = 12;

/**
 * Whether a failed load status means the target cannot hold this many replicas. Such a refusal
 * would otherwise be retried (code 12 is retriable), for as long as the state machine retries.
 */
export function refusesReplicas(status: MilvusStatus, replicas: number): boolean {
  const code = statusCode(status);
  const text = `${status.reason ?? ''} ${status.detail ?? ''}`;
  if (code === NODES_NOT_ENOUGH || /node not enough|not enough (query |streaming )?nodes|nodes? (are |is )?not enough|insufficient (query |streaming )?nodes/i.test(text)) return true;
  return replicas > 1 && code === RESOURCE_INSUFFICIENT;
}

/**
 * Asks the target to load the collection with this many replicas (waitLoaded waits). `keepLoaded`:
 * a collection loaded with another count is left as it is (its count is returned as `kept`).
 */
async function loadWithReplicas(
  cluster: MilvusGateway,
  db: string,
  name: string,
  replicas: number,
  options: LoadOptions & { keepLoaded: boolean },
): Promise<{ action: LoadedCollection['action']; kept?: number }> {
  let action: LoadedCollection['action'] = 'loaded';
  if ((await loadState(cluster, db, name)) === 'LoadStateLoaded') {
    const current = await loadedReplicas(cluster, db, name);
    // A server that cannot tell its replicas (milvus-lite) serves one.
    if ((current ?? 1) === replicas) return { action: 'unchanged' };
    if (options.keepLoaded) return { action: 'kept', kept: current ?? 1 };
    // To change its replicas.
    await cluster.releaseCollection(db, name);
    action = 'reloaded';
  }

  const what = `load ${db}.${name} with ${replicas} replica(s)`;
  const status = await cluster.loadCollection(db, name, replicas);
  if (!isStatusOk(status)) {
    if (refusesReplicas(status, replicas)) {
      throw new PermanentError(
        'TARGET_REPLICAS_REFUSED',
        `the target cannot load ${db}.${name} with ${replicas} replica(s), the source's count: ${status.reason || status.detail || status.error_code}. ` +
          'Add query nodes to the target (one per replica), or run the job without options.loadAfterMigration and load the collection yourself',
      );
    }
    assertOk(status, what);
  }
  return { action };
}

/** Waits until the collection is loaded; past `until`, a TransientError (a retried Finalize finds the loads asked for and waits again). */
async function waitLoaded(cluster: MilvusGateway, db: string, name: string, until: number, pollMs: number): Promise<void> {
  while ((await loadState(cluster, db, name)) !== 'LoadStateLoaded') {
    if (Date.now() > until) throw new TransientError('LOAD_PENDING', `load ${db}.${name}: still loading`);
    await sleep(pollMs);
  }
}
