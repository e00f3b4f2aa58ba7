import type { Services } from '../services';
import { NOTIFICATION_DETAIL_TYPES, type NotificationKind } from './notifier';

/**
 * Publishes a notification without ever failing the step that sends it: the job's outcome stands
 * whether or not the email goes out, and a notification that could not be sent is logged on the job.
 */
export async function notify(services: Services, jobId: string, kind: NotificationKind, detail: Record<string, unknown>): Promise<void> {
  try {
    await services.notifier.publish({ kind, jobId, detail });
  } catch (error) {
    await services.jobs
      .appendEvent(jobId, {
        type: 'NotificationFailed',
        message: `${NOTIFICATION_DETAIL_TYPES[kind]} could not be sent: ${error instanceof Error ? error.message : String(error)}`,
      })
      .catch(() => undefined);
  }
}
