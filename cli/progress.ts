import type { JobView } from '../lib/api/views';
import { formatCollectionSummary } from './output';

/** What the progress printer reads of a job view (the API's GET /migrations/{id} answer). */
export type ProgressView = Pick<JobView, 'jobId' | 'status' | 'phase' | 'progressPercent' | 'collectionSummary'>;

/**
 * Plain progress lines for a terminal or a log: one line whenever the phase or the status
 * changes, one whenever what the collections add up to changes (counts by status, rows copied).
 * Per collection lines are `status` and `watch`'s: a job may have thousands of collections.
 * Writes to the given stream (stderr, so --json keeps stdout clean).
 */
export class ProgressPrinter {
  private last = new Map<string, string>();

  constructor(private readonly write: (line: string) => void) {}

  update(view: ProgressView): void {
    this.emit('job', `${view.jobId} ${view.status} phase=${view.phase} ${view.progressPercent}%`);
    if (view.collectionSummary.total > 0) this.emit('collections', `  ${formatCollectionSummary(view.collectionSummary)}`);
  }

  private emit(key: string, line: string): void {
    if (this.last.get(key) === line) return;
    this.last.set(key, line);
    this.write(line);
  }
}
