import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { EventBridgeNotifier } from '../../lib/notifications/eventBridgeNotifier';
import { createLocalAccount, type LocalAccount } from '../../local/aws/account';
import { startEventBridge, type LocalEventBridge } from '../../local/aws/eventBridge';
import { clientConfig, edited, fn, logicalIdOf, synthesizeWith } from './support';

const EMAILS = ['ops@example.com', 'oncall@example.com'];
const template = synthesizeWith({ alertEmails: EMAILS });
const LAG = { Source: 'milvus-migrate', DetailType: 'Migration Sync Lag Below Threshold', Detail: JSON.stringify({ jobId: 'j1', lagSeconds: 3 }) };

async function started(account: LocalAccount) {
  const bus = await startEventBridge({ account });
  const client = (step: string) => new EventBridgeClient(clientConfig(bus.endpoint, fn(account, step).credentials));
  return { bus, client };
}

describe('EventBridge emulation: PutEvents as the template functions, routed by the template rule', () => {
  const account = createLocalAccount(template);
  let bus: LocalEventBridge;
  let client: (step: string) => EventBridgeClient;
  beforeAll(async () => ({ bus, client } = await started(account)));
  afterAll(() => bus.stop());

  it('delivers the lag alert the sync step publishes to the alert topic and its emails', async () => {
    bus.clear();
    const syncChanges = fn(account, 'syncChanges');
    await new EventBridgeNotifier(client('syncChanges'), syncChanges.environment.EVENT_BUS_NAME!).publish({ kind: 'lagBelowThreshold', jobId: 'j1', detail: { lagSeconds: 3 } });
    const [delivery, ...more] = bus.deliveries();
    expect(more).toEqual([]);
    expect(delivery).toMatchObject({
      status: 'delivered',
      ruleLogicalId: logicalIdOf(template, 'AWS::Events::Rule', 'ToEmail'),
      topicArn: account.identity(logicalIdOf(template, 'AWS::SNS::Topic', 'Alerts')).ref,
      event: { source: 'milvus-migrate', 'detail-type': 'Migration Sync Lag Below Threshold', account: '000000000000', region: 'us-east-1', detail: { jobId: 'j1' } },
    });
    expect([...delivery!.emails].sort()).toEqual([...EMAILS].sort());
    expect(bus.unmatched()).toEqual([]);
  });

  it('leaves an event of another detail-type unmatched', async () => {
    bus.clear();
    const reply = await client('finalize').send(new PutEventsCommand({ Entries: [{ ...LAG, DetailType: 'Migration Something Else' }] }));
    expect(reply.FailedEntryCount).toBe(0);
    expect(bus.deliveries()).toEqual([]);
    expect(bus.unmatched()).toEqual([expect.objectContaining({ 'detail-type': 'Migration Something Else' })]);
  });

  it('refuses a function without events:PutEvents (AccessDeniedException) and logs it', async () => {
    account.clearPermissionLog();
    const copyShard = fn(account, 'copyShard');
    const error = await client('copyShard').send(new PutEventsCommand({ Entries: [LAG] })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException' });
    expect((error as Error).message).toBe(
      `User: ${copyShard.assumedRoleArn} is not authorized to perform: events:PutEvents on resource: arn:aws:events:us-east-1:000000000000:event-bus/default because no identity-based policy allows the events:PutEvents action`,
    );
    expect(account.deniedCalls()).toEqual([{ functionLogicalId: copyShard.logicalId, action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/default', allowed: false, reason: expect.any(String) }]);
  });

  it('refuses an entry with another Source by the events:source condition', async () => {
    account.clearPermissionLog();
    bus.clear();
    const reply = await client('finalize').send(new PutEventsCommand({ Entries: [{ ...LAG, Source: 'someone.else' }, LAG] }));
    expect(reply.FailedEntryCount).toBe(1);
    expect(reply.Entries![0]).toMatchObject({ ErrorCode: 'NotAuthorizedForSourceException' });
    expect(reply.Entries![1]!.EventId).toBeTruthy();
    expect(bus.deliveries()).toHaveLength(1);
    expect(account.deniedCalls()).toEqual([expect.objectContaining({ functionLogicalId: fn(account, 'finalize').logicalId, action: 'events:PutEvents', reason: expect.stringContaining('events:source') })]);
  });

  it('applies AWS limits and per-entry validation', async () => {
    const finalize = client('finalize');
    await expect(finalize.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => LAG) }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(finalize.send(new PutEventsCommand({ Entries: [{ ...LAG, Detail: JSON.stringify({ big: 'x'.repeat(256 * 1024) }) }] }))).rejects.toMatchObject({ name: 'ValidationException', message: 'Total size of the entries in the request is over the limit.' });
    const reply = await finalize.send(new PutEventsCommand({ Entries: [{ ...LAG, Detail: '[1,2]' }, { ...LAG, DetailType: undefined }, { ...LAG, Detail: 'not json' }, { ...LAG, EventBusName: 'nope' }] }));
    expect(reply.FailedEntryCount).toBe(4);
    expect(reply.Entries!.map((e) => e.ErrorCode)).toEqual(['MalformedDetail', 'InvalidArgument', 'MalformedDetail', 'InvalidArgument']);
  });
});

describe('EventBridge delivery guards: what events.amazonaws.com may do to the topic', () => {
  const topicPolicy = logicalIdOf(template, 'AWS::SNS::TopicPolicy', 'Alerts');
  const topicKey = logicalIdOf(template, 'AWS::KMS::Key', 'TopicKey');

  it('a topic policy without the events.amazonaws.com statement blocks the delivery', async () => {
    const account = createLocalAccount(edited(template, (r) => {
      const doc = r[topicPolicy].Properties.PolicyDocument;
      doc.Statement = doc.Statement.filter((s: { Principal: unknown }) => JSON.stringify(s.Principal) !== '{"Service":"events.amazonaws.com"}');
    }));
    const { bus, client } = await started(account);
    try {
      await client('syncChanges').send(new PutEventsCommand({ Entries: [LAG] }));
      expect(bus.deliveries()).toEqual([expect.objectContaining({ status: 'blocked', reason: expect.stringContaining('may not sns:Publish') })]);
    } finally {
      await bus.stop();
    }
  });

  it('a topic key policy without events.amazonaws.com blocks the delivery', async () => {
    const account = createLocalAccount(edited(template, (r) => {
      const doc = r[topicKey].Properties.KeyPolicy;
      doc.Statement = doc.Statement.filter((s: { Principal: unknown }) => JSON.stringify(s.Principal) !== '{"Service":"events.amazonaws.com"}');
    }));
    const { bus, client } = await started(account);
    try {
      await client('syncChanges').send(new PutEventsCommand({ Entries: [LAG] }));
      expect(bus.deliveries()).toEqual([expect.objectContaining({ status: 'blocked', reason: expect.stringContaining('kms:GenerateDataKey with the topic\'s key') })]);
    } finally {
      await bus.stop();
    }
  });

  it('a rule that no longer lists the lag detail-type leaves the lag alert unmatched', async () => {
    const ruleId = logicalIdOf(template, 'AWS::Events::Rule', 'ToEmail');
    const account = createLocalAccount(edited(template, (r) => {
      const pattern = r[ruleId].Properties.EventPattern;
      pattern['detail-type'] = pattern['detail-type'].filter((t: string) => t !== LAG.DetailType);
    }));
    const { bus, client } = await started(account);
    try {
      await client('syncChanges').send(new PutEventsCommand({ Entries: [LAG] }));
      expect(bus.deliveries()).toEqual([]);
      expect(bus.unmatched()).toEqual([expect.objectContaining({ 'detail-type': LAG.DetailType })]);
    } finally {
      await bus.stop();
    }
  });

  it('the default template has no emails: the delivery names none', async () => {
    const account = createLocalAccount(synthesizeTemplate());
    const { bus, client } = await started(account);
    try {
      await client('recordFailure').send(new PutEventsCommand({ Entries: [{ ...LAG, DetailType: 'Migration Job Failed' }] }));
      expect(bus.deliveries()).toEqual([expect.objectContaining({ status: 'delivered', emails: [] })]);
    } finally {
      await bus.stop();
    }
  });
});
