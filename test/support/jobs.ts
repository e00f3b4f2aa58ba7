import type { JobView } from '../../lib/api/views';
import type { JobEvent } from '../../lib/jobs/model';
import type { LocalRuntime } from '../../local/runtime';

/** What the job helpers need of a local runtime. */
type Runtime = Pick<LocalRuntime, 'service' | 'jobs' | 'workflow'>;

const ENDED = ['SUCCESSFUL', 'FAILED', 'CANCELLED'];
const POLL_MS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every event of the job, oldest first (all pages). */
export async function jobEvents(runtime: Runtime, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  for (let nextToken: string | undefined, first = true; first || nextToken; first = false) {
    const page = await runtime.service.events(jobId, { limit: '1000', ...(nextToken ? { nextToken } : {}) });
    events.push(...(page.items as JobEvent[]));
    nextToken = page.nextToken;
  }
  return events;
}

/**
 * The job once `done` says so. Fails, naming what it waited for, when the job ended first (unless
 * `done` accepts an ended job) or the time is out (with the job's phase and last events).
 */
export async function waitForJob(runtime: Runtime, jobId: string, done: (job: JobView) => boolean, what: string, timeoutMs = 120_000): Promise<JobView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await runtime.service.get(jobId);
    if (done(job)) return job;
    if (ENDED.includes(job.status)) throw new Error(`job ended ${job.status} while waiting for ${what}: ${JSON.stringify(job.error)}`);
    if (Date.now() > until) {
      const last = (await jobEvents(runtime, jobId)).slice(-5).map((e) => e.message);
      throw new Error(`timed out waiting for ${what}; job is ${job.status}/${job.phase}; last events: ${last.join(' | ')}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * The job once it ended, and its execution too: the status is final before the last step appends
 * its event and publishes its notification (on a busy machine a test saw SUCCESSFUL first).
 */
export async function waitForJobEnd(runtime: Runtime, jobId: string, timeoutMs = 240_000): Promise<JobView> {
  const job = await waitForJob(runtime, jobId, (j) => ENDED.includes(j.status), 'the end', timeoutMs);
  const { executionArn } = (await runtime.jobs.get(jobId))!;
  if (executionArn) await runtime.workflow.wait(executionArn);
  return job;
}
