import { CreateMigrationBody, parseRequest } from '../../lib/api/requests';
import { isTerminal, type JobStatus } from '../../lib/jobs/model';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime';
import { formatJobSummary, type JobSummary } from '../output';
import { ProgressPrinter } from '../progress';
import { requestBodyFromFlags, type RequestFlags } from '../requestOptions';

export interface RunFlags extends RequestFlags {
  json?: boolean;
}

/** Polls the job while its execution runs, printing progress lines to stderr. */
export async function followJob(runtime: LocalRuntime, jobId: string, printer: ProgressPrinter): Promise<JobSummary> {
  for (;;) {
    const view = (await runtime.service.get(jobId)) as unknown as JobSummary;
    printer.update(view);
    if (isTerminal(view.status as JobStatus)) return view;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Runs one migration on this machine and waits for its end. Exit code 0 only when it ends SUCCESSFUL. */
export async function runMigration(flags: RunFlags, runtime?: LocalRuntime): Promise<{ job: JobSummary; exitCode: number }> {
  // Refuse a bad request before starting anything.
  const body = parseRequest(CreateMigrationBody, requestBodyFromFlags(flags), 'body');
  const ownRuntime = !runtime;
  const local = runtime ?? (await startLocalRuntime());
  try {
    const created = (await local.service.create(body)) as unknown as JobSummary;
    const printer = new ProgressPrinter((line) => process.stderr.write(`${line}\n`));
    const job = await followJob(local, created.jobId, printer);
    return { job, exitCode: job.status === 'SUCCESSFUL' ? 0 : 1 };
  } finally {
    if (ownRuntime) await local.stop();
  }
}

export async function runCommand(flags: RunFlags): Promise<number> {
  const { job, exitCode } = await runMigration(flags);
  if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  else process.stdout.write(`${formatJobSummary(job)}\n`);
  return exitCode;
}
