import { MAX_RECORDED_CHANGED_SHARDS, type JobRecord, type JobStatus, type PassCheckpoint, type SyncState } from '../jobs/model';
import type { Services } from '../services';

export type PassPurpose = PassCheckpoint['purpose'];

/**
 * A comparison of every row that spans step invocations. One reads both clusters whole: at a million
 * rows on milvus-lite it took 155 s with writes fenced and 938 s while applications wrote to the
 * target, and a Lambda invocation ends at 15 minutes; a billion rows take days anywhere. So the
 * pass stops taking shards at `deadline` (PassPaused), and each compared shard is checkpointed on
 * the job (`sync.pass`): the step's next invocation goes on from there, the way a copy shard goes on
 * from its last key. Granularity is the shard: a shard is compared within one invocation (the full
 * copy's shards, options.rowsPerShard rows, 200,000 by default).
 */
export interface ResumablePass {
  purpose: PassPurpose;
  /**
   * Epoch ms by which the invocation's shards should be compared: a shard is not started when the
   * slowest one so far in this invocation would not end by then (at least one is started each
   * invocation, so the pass advances).
   */
  deadline: number;
  /** Where an earlier invocation stopped: resumed only when it is a pass of this purpose over the same shards. */
  checkpoint?: PassCheckpoint;
  /** Told after each shard compared, in order of completion, one call at a time. */
  onProgress(checkpoint: PassCheckpoint): Promise<void>;
}

/** The pass stopped at its deadline with shards left; its checkpoint is saved, the step is called again. */
export class PassPaused extends Error {
  constructor(readonly checkpoint: PassCheckpoint) {
    super(`comparison paused after ${checkpoint.rowsCompared} row(s), at shard ${checkpoint.next} (${checkpoint.purpose})`);
    this.name = 'PassPaused';
  }
}

/**
 * The job's pass of this purpose, to resume. A pass of the cutover (drain, verification) belongs
 * to the stop-sync confirmation it followed: a resumed job's next cutover starts its own.
 */
export function passOf(job: Pick<JobRecord, 'sync' | 'writesStoppedAt'>, purpose: PassPurpose): PassCheckpoint | undefined {
  const pass = job.sync?.pass;
  if (pass?.purpose !== purpose) return undefined;
  if (purpose !== 'sync' && (!job.writesStoppedAt || Date.parse(pass.startedAt) < Date.parse(job.writesStoppedAt))) return undefined;
  return pass;
}

/** A fresh checkpoint, nothing compared yet. */
export function startPass(purpose: PassPurpose, startedAt: Date, shards: number): PassCheckpoint {
  return { purpose, startedAt: startedAt.toISOString(), shards, next: 0, ahead: [], invocations: 1, rowsCompared: 0, inserted: 0, updated: 0, deleted: 0, sampleKeys: [], changedShards: [], externalWrites: [] };
}

/** What one shard's comparison found, added to a checkpoint. */
export interface ShardCompared {
  position: number;
  key: string;
  rowsCompared: number;
  inserted: number;
  updated: number;
  deleted: number;
  sampleKeys: readonly string[];
  externalWrite?: string;
}

const SAMPLE_KEYS = 10;
/** External writes are named per shard; ten tell the story (the job item stays small: test/jobs/itemSize.test.ts). */
const EXTERNAL_WRITES = 10;

/** The checkpoint with one more shard compared (a new object: the previous one may be being saved). */
export function withShard(checkpoint: PassCheckpoint, shard: ShardCompared): PassCheckpoint {
  const done = new Set(checkpoint.ahead);
  done.add(shard.position);
  let next = checkpoint.next;
  while (done.has(next)) done.delete(next++);
  const changed = shard.inserted + shard.updated + shard.deleted > 0;
  return {
    ...checkpoint,
    next,
    ahead: [...done].sort((a, b) => a - b),
    rowsCompared: checkpoint.rowsCompared + shard.rowsCompared,
    inserted: checkpoint.inserted + shard.inserted,
    updated: checkpoint.updated + shard.updated,
    deleted: checkpoint.deleted + shard.deleted,
    sampleKeys: [...checkpoint.sampleKeys, ...shard.sampleKeys].slice(0, SAMPLE_KEYS),
    // One past the limit says "too many to list" (lastCycle.changedShards is then left out).
    changedShards: changed && checkpoint.changedShards.length <= MAX_RECORDED_CHANGED_SHARDS ? [...checkpoint.changedShards, shard.key] : checkpoint.changedShards,
    externalWrites: shard.externalWrite && checkpoint.externalWrites.length < EXTERNAL_WRITES ? [...checkpoint.externalWrites, shard.externalWrite] : checkpoint.externalWrites,
  };
}

/** Whether the shard at this position was compared by an earlier invocation of the pass. */
export const comparedBefore = (checkpoint: PassCheckpoint, position: number): boolean => position < checkpoint.next || checkpoint.ahead.includes(position);

/** Saves each checkpoint on the job as it comes (`sync.pass`), one write at a time. Only sync steps write the sync state, one at a time. */
export function savingProgress(services: Services, jobId: string, allowedFrom: readonly JobStatus[]): ResumablePass['onProgress'] {
  return async (checkpoint) => {
    const current = (await services.jobs.get(jobId))?.sync;
    if (!current) return;
    const next: SyncState = { ...current, pass: checkpoint };
    await services.jobs.update(jobId, { sync: next }, allowedFrom);
  };
}

/**
 * Keeps the last checkpoint instead of saving it, for a pass whose caller has more to do before
 * its progress may be recorded (the verification after a switchover repairs what it found first).
 */
export class HeldProgress {
  last?: PassCheckpoint;
  readonly onProgress: ResumablePass['onProgress'] = async (checkpoint) => {
    this.last = checkpoint;
  };
}
