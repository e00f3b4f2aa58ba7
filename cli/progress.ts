import type { JobView } from '../lib/api/views';

/** What the progress printer reads of a job view (the API's GET /migrations/{id} answer). */
export type ProgressView = Pick<JobView, 'jobId' | 'status' | 'phase' | 'progressPercent' | 'collections'>;

/**
 * Plain progress lines for a terminal or a log: one line whenever the phase, the status or a
 * collection's copy progress changes. Writes to the given stream (stderr, so --json keeps stdout clean).
 */
export class ProgressPrinter {
  private last = new Map<string, string>();

  constructor(private readonly write: (line: string) => void) {}

  update(view: ProgressView): void {
    this.emit('job', `${view.jobId} ${view.status} phase=${view.phase} ${view.progressPercent}%`);
    for (const c of view.collections) {
      const percent = c.percent ?? (c.rowsTotal === 0 ? 0 : Math.floor((100 * c.rowsCopied) / c.rowsTotal));
      this.emit(`collection:${c.key}`, `  ${c.key.padEnd(32)} ${bar(percent)} ${String(percent).padStart(3)}%  ${c.rowsCopied}/${c.rowsTotal} rows  ${c.status}`);
    }
  }

  private emit(key: string, line: string): void {
    if (this.last.get(key) === line) return;
    this.last.set(key, line);
    this.write(line);
  }
}

function bar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
