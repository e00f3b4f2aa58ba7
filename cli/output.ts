/** Job view fields the CLI prints; the API's answer has more. */
export interface JobSummary {
  jobId: string;
  type: string;
  status: string;
  phase: string;
  progressPercent: number;
  collections: Array<{ key: string; status: string; rowsTotal: number; rowsCopied: number; percent?: number }>;
  warnings?: string[];
  error?: { code: string; reason: string };
  verification?: {
    sourceCollections: number;
    targetCollections: number;
    passed: boolean;
    collections: Array<{ key: string; sourceRows: number; targetRows: number; match: boolean }>;
  };
}

/** Human-readable end of a job: status, verification table, warnings, error. */
export function formatJobSummary(job: JobSummary): string {
  const lines = [`job ${job.jobId} (${job.type}): ${job.status}`];
  if (job.verification) {
    const v = job.verification;
    lines.push(`verification: ${v.passed ? 'PASSED' : 'FAILED'} — collections ${v.targetCollections}/${v.sourceCollections}`);
    lines.push(`  ${'collection'.padEnd(32)} ${'source rows'.padStart(12)} ${'target rows'.padStart(12)}  match`);
    for (const c of v.collections) {
      lines.push(`  ${c.key.padEnd(32)} ${String(c.sourceRows).padStart(12)} ${String(c.targetRows).padStart(12)}  ${c.match ? 'yes' : 'NO'}`);
    }
  }
  for (const warning of job.warnings ?? []) lines.push(`warning: ${warning}`);
  if (job.error) lines.push(`error ${job.error.code}: ${job.error.reason}`);
  return lines.join('\n');
}

export interface EventLine {
  at: string;
  type: string;
  message: string;
}

export function formatEvent(event: EventLine): string {
  return `${event.at}  ${event.type.padEnd(20)} ${event.message}`;
}
