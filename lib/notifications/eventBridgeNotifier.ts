import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { TransientError } from '../errors';
import { NOTIFICATION_DETAIL_TYPES, NOTIFICATION_SOURCE, type JobNotification, type JobNotifier } from './notifier';

/** Puts notifications on an EventBridge bus; the stack routes them to the alert topic's emails. */
export class EventBridgeNotifier implements JobNotifier {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly eventBusName: string,
  ) {}

  async publish({ kind, jobId, detail }: JobNotification): Promise<void> {
    const reply = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.eventBusName,
            Source: NOTIFICATION_SOURCE,
            DetailType: NOTIFICATION_DETAIL_TYPES[kind],
            Resources: [],
            Detail: JSON.stringify({ jobId, ...detail }),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures: a throttled entry is retried by the step's Retry.
    if (reply.FailedEntryCount) {
      const entry = reply.Entries?.find((e) => e.ErrorCode);
      throw new TransientError('NOTIFICATION_FAILED', `EventBridge refused ${NOTIFICATION_DETAIL_TYPES[kind]}: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim());
    }
  }
}
