/**
 * Job notifications: the few job events an operator is told about outside the API (an email
 * through EventBridge and SNS on AWS). Every notification is also an event in the job's log.
 */
export const NOTIFICATION_DETAIL_TYPES = {
  lagBelowThreshold: 'Migration Sync Lag Below Threshold',
  succeeded: 'Migration Job Succeeded',
  failed: 'Migration Job Failed',
} as const;
export type NotificationKind = keyof typeof NOTIFICATION_DETAIL_TYPES;

/** EventBridge `source` of every notification; the stack's rule matches on it. */
export const NOTIFICATION_SOURCE = 'milvus-migrate';

export interface JobNotification {
  kind: NotificationKind;
  jobId: string;
  /** Small, credential-free facts (status, lag, reason); the email shows them as JSON. */
  detail: Record<string, unknown>;
}

export interface JobNotifier {
  publish(notification: JobNotification): Promise<void>;
}

/** Local mode: the job's event log is where notifications are read (the CLI shows them). */
export class EventLogOnlyNotifier implements JobNotifier {
  readonly published: JobNotification[] = [];
  async publish(notification: JobNotification): Promise<void> {
    this.published.push(notification);
  }
}
