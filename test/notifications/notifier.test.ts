import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../lib/errors';
import type { JobEvent } from '../../lib/jobs/model';
import { EventBridgeNotifier } from '../../lib/notifications/eventBridgeNotifier';
import { notify } from '../../lib/notifications/notify';
import type { Services } from '../../lib/services';

// EventBridge has no local counterpart here: aws-sdk-client-mock stands in for it.
const eventBridge = mockClient(EventBridgeClient);
beforeEach(() => eventBridge.reset());

describe('EventBridgeNotifier', () => {
  it('puts one event with the service source, the notification detail type and a JSON detail carrying the job id', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    await new EventBridgeNotifier(new EventBridgeClient({ region: 'us-east-1' }), 'default').publish({ kind: 'lagBelowThreshold', jobId: 'mig-1', detail: { syncLagSeconds: 4.2 } });
    const [call] = eventBridge.commandCalls(PutEventsCommand);
    expect(call!.args[0].input.Entries).toEqual([
      { EventBusName: 'default', Source: 'milvus-migrate', DetailType: 'Migration Sync Lag Below Threshold', Resources: [], Detail: JSON.stringify({ jobId: 'mig-1', syncLagSeconds: 4.2 }) },
    ]);
  });

  it('turns an entry EventBridge refused into a TransientError naming it', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] });
    const publishing = new EventBridgeNotifier(new EventBridgeClient({ region: 'us-east-1' }), 'default').publish({ kind: 'failed', jobId: 'mig-2', detail: {} });
    await expect(publishing).rejects.toThrow(TransientError);
    await expect(publishing).rejects.toThrow(/Migration Job Failed: ThrottlingException slow down/);
  });
});

describe('notify', () => {
  it('never fails the step: a notification that cannot be sent becomes a NotificationFailed event on the job', async () => {
    const events: Array<Partial<JobEvent>> = [];
    const services = {
      notifier: { publish: async () => Promise.reject(new Error('EventBridge unreachable')) },
      jobs: { appendEvent: async (_jobId: string, event: Partial<JobEvent>) => (events.push(event), event) },
    } as unknown as Services;
    await expect(notify(services, 'mig-3', 'succeeded', {})).resolves.toBeUndefined();
    expect(events).toEqual([{ type: 'NotificationFailed', message: 'Migration Job Succeeded could not be sent: EventBridge unreachable' }]);
  });
});
