import type { JobStore } from '../../lib/jobs/store';
import { buildIndexes } from '../../lib/migration/buildIndexes';
import { copyShard, type CopyShardBudget } from '../../lib/migration/copyShard';
import { createTargetCollection } from '../../lib/migration/createTargetCollection';
import { loadCopyBatch } from '../../lib/migration/loadCopyBatch';
import { planShards } from '../../lib/migration/planShards';
import type { Services } from '../../lib/services';

/**
 * Runs the steps from PlanShards to BuildIndexes in the order the state machine does (its three
 * stages over the copy batches), one at a time, so a test can place faults where the state
 * machine would not. `copyServices` serve the CopyShard steps only (a crashing store, say).
 */
export async function copyAll(services: Services, jobId: string, copyServices: Services = services, budget: Omit<CopyShardBudget, 'deadline'> = {}): Promise<void> {
  // The stages of the state machine: every collection created, every shard copied, every collection indexed.
  const batches = await planAndCreate(services, jobId);
  for (const { shards } of batches) {
    for (const { collectionKey, shardIndex } of shards) {
      for (;;) {
        const { done } = await copyShard(copyServices, { jobId, collectionKey, shardIndex }, { deadline: Date.now() + 60_000, ...budget });
        if (done) break;
      }
    }
  }
  for (const { collections } of batches) for (const collectionKey of collections) await buildIndexes(services, { jobId, collectionKey });
}

/** PlanShards, then CreateTargetCollection for every collection planned: the copy batches, ready for CopyShard. */
export async function planAndCreate(services: Services, jobId: string) {
  const plan = await planShards(services, { jobId });
  const batches = await Promise.all(plan.batches.map((batch) => loadCopyBatch(services, { jobId, batch })));
  for (const { collections } of batches) for (const collectionKey of collections) await createTargetCollection(services, { jobId, collectionKey });
  return batches;
}

export class CrashAfter extends Error {}

/**
 * A job store whose n-th checkpoint write and every one after it fail, as if the step died after
 * writing the batch to the target (a dead step saves nothing more).
 */
export function crashingStore(store: JobStore, failAt: number): JobStore {
  let calls = 0;
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'checkpointShard') {
        return async (update: Parameters<JobStore['checkpointShard']>[0]) => {
          calls += 1;
          if (calls >= failAt) throw new CrashAfter(`killed before checkpoint ${failAt}`);
          return target.checkpointShard(update);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

