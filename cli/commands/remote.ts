import { apiClientFrom, type ApiFlags } from '../apiOptions';
import type { CollectionView, JobPage } from '../../lib/api/views';
import { formatEvent, formatJobList, formatJobStatus, type EventLine, type JobView } from '../output';
import { requestBodyFromFlags, type RequestFlags } from '../requestOptions';

export interface RemoteFlags extends ApiFlags {
  json?: boolean;
}

/** Collections `status` shows (the first page, in key order); the job's summary counts them all. */
const STATUS_COLLECTIONS = 50;

const print = (flags: RemoteFlags, value: unknown, human: () => string) =>
  process.stdout.write(`${flags.json ? JSON.stringify(value, null, 2) : human()}\n`);

export async function createCommand(flags: RemoteFlags & RequestFlags & { idempotencyKey?: string }): Promise<number> {
  const body = requestBodyFromFlags(flags);
  const job = (await apiClientFrom(flags).create(body, { idempotencyKey: flags.idempotencyKey })) as JobView;
  print(flags, job, () => `created ${job.jobId} (${job.type}, ${job.status}); follow it with: milvus-migrate watch ${job.jobId}`);
  return 0;
}

export async function listCommand(flags: RemoteFlags & { limit?: number; nextToken?: string }): Promise<number> {
  const page = (await apiClientFrom(flags).list({ limit: flags.limit, nextToken: flags.nextToken })) as JobPage;
  print(flags, page, () => formatJobList(page));
  return 0;
}

export async function statusCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const client = apiClientFrom(flags);
  const job = (await client.get(jobId)) as JobView;
  const collections = (await client.collections(jobId, { limit: STATUS_COLLECTIONS })).items as CollectionView[];
  print(flags, { ...job, collections }, () => formatJobStatus(job, collections));
  return 0;
}

/** The whole event log, oldest first (every page). */
export async function eventsCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const page = (await apiClientFrom(flags).allEvents(jobId)) as { items: EventLine[] };
  print(flags, page, () => (page.items.length === 0 ? 'no events' : page.items.map(formatEvent).join('\n')));
  return 0;
}

export async function cancelCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const job = (await apiClientFrom(flags).cancel(jobId)) as JobView;
  print(flags, job, () => `${job.jobId} ${job.status} (phase ${job.phase})`);
  return 0;
}

/** What --confirm-writes-stopped means; stop-sync refuses to run without it. */
const CONFIRM_WRITES_STOPPED =
  'stop-sync needs --confirm-writes-stopped: with it you confirm that every writer to the source has stopped; the job then drains the last changes, cuts over and verifies';

/** Exit code of a command refused before anything was sent. */
export const USAGE_ERROR = 2;

export async function stopSyncCommand(jobId: string, flags: RemoteFlags & { confirmWritesStopped?: boolean }): Promise<number> {
  if (!flags.confirmWritesStopped) {
    process.stderr.write(`milvus-migrate: ${CONFIRM_WRITES_STOPPED}\n`);
    return USAGE_ERROR;
  }
  const job = (await apiClientFrom(flags).stopSync(jobId)) as JobView;
  print(
    flags,
    job,
    () => `${job.jobId} ${job.status} (phase ${job.phase}): writes confirmed stopped; the job drains the last changes, cuts over and verifies. Follow it with: milvus-migrate watch ${job.jobId}`,
  );
  return 0;
}

/**
 * Continues a FAILED job from its checkpoints. The job's credentials were deleted when it failed:
 * tokens come from the flags or the environment (MILVUS_SOURCE_TOKEN, MILVUS_TARGET_TOKEN), as for create.
 */
export async function resumeCommand(jobId: string, flags: RemoteFlags & { sourceToken?: string; targetToken?: string }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const sourceToken = flags.sourceToken ?? env.MILVUS_SOURCE_TOKEN;
  const targetToken = flags.targetToken ?? env.MILVUS_TARGET_TOKEN;
  const body = { ...(sourceToken ? { source: { token: sourceToken } } : {}), ...(targetToken ? { target: { token: targetToken } } : {}) };
  const job = (await apiClientFrom(flags).resume(jobId, body)) as JobView;
  print(flags, job, () => `${job.jobId} ${job.status}: resumed from its checkpoints; follow it with: milvus-migrate watch ${job.jobId}`);
  return 0;
}
