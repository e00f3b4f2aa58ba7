import { ApiClient } from '../apiClient';
import { formatEvent, formatJobSummary, type EventLine, type JobSummary } from '../output';
import { requestBodyFromFlags, type RequestFlags } from '../requestOptions';

export interface RemoteFlags {
  api: string;
  json?: boolean;
}

const print = (flags: RemoteFlags, value: unknown, human: () => string) =>
  process.stdout.write(`${flags.json ? JSON.stringify(value, null, 2) : human()}\n`);

export async function createCommand(flags: RemoteFlags & RequestFlags): Promise<number> {
  const job = (await new ApiClient(flags.api).create(requestBodyFromFlags(flags))) as JobSummary;
  print(flags, job, () => `created ${job.jobId} (${job.status})`);
  return 0;
}

export async function listCommand(flags: RemoteFlags): Promise<number> {
  const page = (await new ApiClient(flags.api).list()) as { items: JobSummary[] };
  print(flags, page, () => page.items.map((j) => `${j.jobId}  ${j.type.padEnd(8)} ${j.status.padEnd(12)} ${j.progressPercent}%`).join('\n'));
  return 0;
}

export async function statusCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const job = (await new ApiClient(flags.api).get(jobId)) as JobSummary;
  print(flags, job, () => formatJobSummary(job));
  return 0;
}

export async function eventsCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const page = (await new ApiClient(flags.api).events(jobId)) as { items: EventLine[] };
  print(flags, page, () => page.items.map(formatEvent).join('\n'));
  return 0;
}

export async function cancelCommand(jobId: string, flags: RemoteFlags): Promise<number> {
  const job = (await new ApiClient(flags.api).cancel(jobId)) as JobSummary;
  print(flags, job, () => `${job.jobId} ${job.status}`);
  return 0;
}
