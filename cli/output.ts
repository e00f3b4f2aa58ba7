import type { CollectionView, EventView, JobPage, JobView } from '../lib/api/views';

/** The CLI prints the API's own views (lib/api/views.ts): the JSON it receives over HTTP, or the service's answer in process. */
export type { JobView };

/** Human-readable end of a job: status, verification table, warnings, error. */
export function formatJobSummary(job: JobView): string {
  const lines = [`job ${job.jobId} (${job.type}): ${job.status}`];
  if (job.verification) {
    const v = job.verification;
    lines.push(`verification: ${v.passed ? 'PASSED' : 'FAILED'} — collections ${v.targetCollections}/${v.sourceCollections}`);
    lines.push(`  ${'collection'.padEnd(32)} ${'source rows'.padStart(12)} ${'target rows'.padStart(12)}  match`);
    for (const c of v.collections) {
      lines.push(`  ${c.key.padEnd(32)} ${String(c.sourceRows).padStart(12)} ${String(c.targetRows).padStart(12)}  ${c.match ? 'yes' : 'NO'}`);
    }
  }
  if (job.cutoverSeconds !== undefined) lines.push(`cutover: ${formatSeconds(job.cutoverSeconds)} from the confirmation that writes stopped to SUCCESSFUL`);
  for (const warning of job.warnings ?? []) lines.push(`warning: ${warning}`);
  if (job.error) lines.push(`error ${job.error.code}: ${job.error.reason}`);
  return lines.join('\n');
}

/** `status`: where a job is (phase, collections, sync lag), then its summary. `collections` is the first page of them. */
export function formatJobStatus(job: JobView, collections: CollectionView[] = []): string {
  const lines = [`job ${job.jobId} (${job.type}): ${job.status}, phase ${job.phase}, ${job.progressPercent}%`];
  if (job.source && job.target) lines.push(`from ${job.source.uri} to ${job.target.uri}`);
  const times = [
    job.createdAt && `created ${job.createdAt}`,
    job.startedAt && `started ${job.startedAt}`,
    job.endedAt && `ended ${job.endedAt}`,
  ].filter(Boolean);
  if (times.length > 0) lines.push(times.join(', '));
  lines.push(formatCollectionSummary(job.collectionSummary));
  for (const c of collections) lines.push(formatCollection(c));
  const more = job.collectionSummary.total - collections.length;
  if (more > 0) lines.push(`  ... and ${more} more collection(s) (GET /migrations/${job.jobId}/collections, page by page)`);
  const online = formatSync(job);
  if (online) lines.push(online);
  const summary = formatJobSummary(job).split('\n').slice(1);
  return [...lines, ...summary].join('\n');
}

/** What the collections add up to: `collections: 600 (598 VERIFIED, 2 COPYING), 5,990/6,000 rows`. */
export function formatCollectionSummary(summary: JobView['collectionSummary']): string {
  const counts = Object.entries(summary.byStatus)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  return `collections: ${summary.total}${counts ? ` (${counts})` : ''}, ${summary.rowsCopied.toLocaleString('en-US')}/${summary.rowsTotal.toLocaleString('en-US')} rows`;
}

/** One collection: key, progress bar, percent, rows, status. */
export function formatCollection(c: CollectionView, keyWidth = 32): string {
  const percent = collectionPercent(c);
  const rows = `${c.rowsCopied.toLocaleString('en-US')}/${c.rowsTotal.toLocaleString('en-US')}`;
  return `  ${c.key.padEnd(keyWidth)} ${bar(percent)} ${percent.toFixed(1).padStart(5)}%  ${rows.padStart(19)} rows  ${c.status}`;
}

function collectionPercent(c: CollectionView): number {
  return c.percent ?? (c.rowsTotal === 0 ? 0 : Math.min(100, (100 * c.rowsCopied) / c.rowsTotal));
}

/** Online jobs: the lag and what the sync did, or undefined for an offline job. */
function formatSync(job: JobView): string | undefined {
  if (job.type !== 'online' && job.syncLagSeconds === undefined) return undefined;
  const parts = [`sync lag ${job.syncLagSeconds === null || job.syncLagSeconds === undefined ? 'not measured yet' : formatSeconds(job.syncLagSeconds)}`];
  if (job.sync) {
    const s = job.sync;
    if (s.cycles !== undefined) parts.push(`${s.cycles} cycle(s)`);
    if (s.inserted !== undefined) parts.push(`${s.inserted} inserted, ${s.updated ?? 0} updated, ${s.deleted ?? 0} deleted`);
    if (s.deadlineAt && (job.status === 'SYNCING' || job.status === 'IN_PROGRESS')) parts.push(`stops by ${s.deadlineAt} without stop-sync`);
  }
  if (job.writesStoppedAt) parts.push(`writes confirmed stopped at ${job.writesStoppedAt}`);
  return parts.join(', ');
}

export function bar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** 0.4s, 12s, 3m05s, 2h14m, 3d04h. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 10) return `${(Math.round(seconds * 10) / 10).toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** What the CLI shows of an event (the API's event view, its jobId left out). */
export type EventLine = Pick<EventView, 'at' | 'type' | 'message'> & Partial<Pick<EventView, 'details'>>;

export function formatEvent(event: EventLine): string {
  return `${event.at}  ${event.type.padEnd(20)} ${event.message}`;
}

/** `list`: one line per job, newest first. */
export function formatJobList(page: JobPage): string {
  if (page.items.length === 0) return 'no migrations';
  const lines = [`${'job'.padEnd(34)} ${'type'.padEnd(8)} ${'status'.padEnd(13)} ${'phase'.padEnd(17)} ${'progress'.padStart(8)}  created`];
  for (const j of page.items) {
    lines.push(`${j.jobId.padEnd(34)} ${j.type.padEnd(8)} ${j.status.padEnd(13)} ${j.phase.padEnd(17)} ${`${j.progressPercent}%`.padStart(8)}  ${j.createdAt ?? ''}`);
  }
  if (page.nextToken) lines.push(`more: --next-token ${page.nextToken}`);
  return lines.join('\n');
}
