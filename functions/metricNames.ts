/**
 * The service's CloudWatch metrics (embedded metric format, written by functions/observability.ts),
 * shared with the dashboard and alarms of infra/observability.ts. No dimensions: one series per
 * metric for the whole service (job ids ride along as EMF metadata, searchable in Logs Insights).
 */
export const METRICS_NAMESPACE = 'MilvusMigrate';

export const METRIC = {
  /** Count: rows one CopyShard invocation copied (checkpointed). */
  rowsCopied: 'RowsCopied',
  /** Count/Second: those rows per second of that invocation. */
  copyRowsPerSecond: 'CopyRowsPerSecond',
  /** Seconds: SyncChanges' upper bound on the target's staleness when it returned. */
  syncLagSeconds: 'SyncLagSeconds',
  /** Count: jobs RecordFailure marked FAILED. */
  jobsFailed: 'JobsFailed',
  /** Count: jobs Finalize marked SUCCESSFUL. */
  jobsSucceeded: 'JobsSucceeded',
} as const;
