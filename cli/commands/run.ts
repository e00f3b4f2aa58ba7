import { createInterface } from 'node:readline';
import { CreateMigrationBody, parseRequest } from '../../lib/api/requests';
import { isTerminal, type JobStatus } from '../../lib/jobs/model';
import type { LocalDynamo } from '../../local/dynamoLocal';
import { cleanupOnSignal } from '../interrupt';
import { startRuntime, type JobApi, type LocalRuntimeFlags, type RunningRuntime } from '../localRuntimes';
import { formatJobSummary, type JobView } from '../output';
import { ProgressPrinter } from '../progress';
import { requestBodyFromFlags, type RequestFlags } from '../requestOptions';

export interface RunFlags extends RequestFlags, LocalRuntimeFlags {
  json?: boolean;
}

/** Polls the job while its execution runs, printing progress lines to stderr. */
export async function followJob(api: JobApi, jobId: string, printer: ProgressPrinter): Promise<JobView> {
  for (;;) {
    const view = (await api.get(jobId)) as JobView;
    printer.update(view);
    if (isTerminal(view.status as JobStatus)) return view;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Runs one migration on this machine and waits for its end. Exit code 0 only when it ends SUCCESSFUL.
 * `dynamo`: DynamoDB Local started already for the runtime this starts (stopped with it, or here).
 */
export async function runMigration(flags: RunFlags, runtime?: RunningRuntime, dynamo?: Promise<LocalDynamo>): Promise<{ job: JobView; exitCode: number }> {
  // Refuse a bad request before starting anything.
  let body: CreateMigrationBody;
  try {
    body = parseRequest(CreateMigrationBody, requestBodyFromFlags(flags), 'body');
  } catch (error) {
    await dynamo?.then((started) => started.stop(), () => {});
    throw error;
  }
  const ownRuntime = !runtime;
  // Ctrl-C or SIGTERM, even while the runtime starts, stops DynamoDB Local rather than orphaning it.
  const starting = runtime ? Promise.resolve(runtime) : startRuntime(flags, dynamo);
  const release = ownRuntime ? cleanupOnSignal(async () => (await starting).stop()) : () => {};
  let local: RunningRuntime;
  try {
    local = await starting;
  } catch (error) {
    release();
    throw error;
  }
  try {
    const created = (await local.api.create(body)) as JobView;
    const printer = new ProgressPrinter((line) => process.stderr.write(`${line}\n`));
    const stopConfirmation = body.type === 'online' ? confirmWritesStoppedFromStdin(local.api, created.jobId) : () => {};
    let job: JobView;
    try {
      job = await followJob(local.api, created.jobId, printer);
    } finally {
      stopConfirmation();
    }
    return { job, exitCode: job.status === 'SUCCESSFUL' ? 0 : 1 };
  } finally {
    release();
    if (ownRuntime) await local.stop();
  }
}

/**
 * Online jobs run in this process, so the operator's stop-sync comes from stdin: once the job is
 * SYNCING, a line `confirm` (after every writer to the source has stopped) cuts over.
 */
function confirmWritesStoppedFromStdin(api: JobApi, jobId: string): () => void {
  process.stderr.write('online: once the job is SYNCING and the lag is small, stop every writer to the source, then type "confirm" and Enter to cut over (Ctrl-C cancels)\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'confirm') return void process.stderr.write('type "confirm" once every writer to the source has stopped\n');
    api.stopSync(jobId).then(
      () => process.stderr.write('writes confirmed stopped: draining the last changes, then cutover and verification\n'),
      (error: Error) => process.stderr.write(`stop-sync refused: ${error.message}\n`),
    );
  });
  return () => lines.close();
}

export async function runCommand(flags: RunFlags, dynamo?: Promise<LocalDynamo>): Promise<number> {
  const { job, exitCode } = await runMigration(flags, undefined, dynamo);
  if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  else process.stdout.write(`${formatJobSummary(job)}\n`);
  return exitCode;
}
