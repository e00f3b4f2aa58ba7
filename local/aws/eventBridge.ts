import { randomUUID } from 'node:crypto';
import type { LocalAccount } from './account';
import { AwsError, accessDenied } from './awsErrors';
import { startAwsJsonServer, type RunningServer } from './awsJsonServer';
import { matchesPattern, type EventPattern } from './eventPattern';
import type { PolicyDocument } from './template';
import { resourcesOfType } from './template';

/**
 * EventBridge (JSON 1.1, target prefix `AWSEvents.`): PutEvents on the default bus (and buses of
 * the template), with AWS's limits and per-entry failures, authorized per entry with the condition
 * keys events:source and events:detail-type; then routed to the rules of the template and their
 * SNS topic targets, checking the topic policy and the topic key's policy as AWS would for
 * events.amazonaws.com. Nothing is emailed: a delivery is recorded with the subscribed addresses.
 * Not emulated: targets other than SNS (recorded as 'not-emulated'), target Input/InputPath/
 * InputTransformer, retries and dead-letter queues, archives, schedules, cross-account buses,
 * SNS subscription confirmation and filter policies.
 */

interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

interface Delivery {
  ruleLogicalId: string;
  targetId: string;
  status: 'delivered' | 'blocked' | 'not-emulated';
  /** Why a delivery was blocked (topic policy, key policy) or not emulated. */
  reason?: string;
  topicArn?: string;
  targetArn: string;
  /** Email addresses subscribed to the topic (AWS::SNS::Subscription with Protocol email). */
  emails: string[];
  event: BusEvent;
}

export interface LocalEventBridge extends RunningServer {
  deliveries(): Delivery[];
  /** Events accepted on a bus that matched no rule. */
  unmatched(): BusEvent[];
  clear(): void;
}

const MAX_REQUEST_BYTES = 256 * 1024;

interface Rule {
  logicalId: string;
  arn: string;
  busName: string;
  pattern: EventPattern;
  targets: { Id: string; Arn: string }[];
}

export async function startEventBridge(options: { account: LocalAccount; port?: number }): Promise<LocalEventBridge> {
  const { account } = options;
  const { template } = account;
  const busArn = (name: string): string => `arn:aws:events:${account.region}:${account.accountId}:event-bus/${name}`;
  const buses = new Set(['default', ...resourcesOfType(template, 'AWS::Events::EventBus').map(([id]) => account.identity(id).ref)]);

  const rules: Rule[] = resourcesOfType(template, 'AWS::Events::Rule')
    .filter(([, rule]) => (rule.Properties?.State ?? 'ENABLED') === 'ENABLED' && rule.Properties?.EventPattern)
    .map(([logicalId, rule]) => {
      const bus = rule.Properties?.EventBusName ? String(account.resolve(rule.Properties.EventBusName)) : 'default';
      return {
        logicalId,
        arn: account.identity(logicalId).attributes.Arn!,
        busName: bus.startsWith('arn:') ? bus.split('/').pop()! : bus,
        pattern: account.resolve(rule.Properties?.EventPattern) as EventPattern,
        targets: account.resolve(rule.Properties?.Targets ?? []) as { Id: string; Arn: string }[],
      };
    });

  const topics = resourcesOfType(template, 'AWS::SNS::Topic').map(([logicalId, topic]) => ({
    logicalId,
    arn: account.identity(logicalId).ref,
    kmsKeyId: topic.Properties?.KmsMasterKeyId ? String(account.resolve(topic.Properties.KmsMasterKeyId)) : undefined,
  }));
  const topicPolicies = resourcesOfType(template, 'AWS::SNS::TopicPolicy').map(([logicalId, policy]) => ({
    logicalId,
    topics: account.resolve(policy.Properties?.Topics ?? []) as string[],
    document: account.resolve(policy.Properties?.PolicyDocument) as PolicyDocument,
  }));
  const emailsOf = (topicArn: string): string[] =>
    resourcesOfType(template, 'AWS::SNS::Subscription')
      .filter(([, s]) => s.Properties?.Protocol === 'email' && account.resolve(s.Properties?.TopicArn) === topicArn)
      .map(([, s]) => String(account.resolve(s.Properties?.Endpoint)));

  const deliveries: Delivery[] = [];
  const unmatched: BusEvent[] = [];

  /** What EventBridge itself must be allowed to do to publish to the topic: topic policy, then the topic key's policy. */
  const blockedDelivery = (rule: Rule, topic: (typeof topics)[number]): string | undefined => {
    const context = { 'aws:SecureTransport': 'true', 'aws:SourceArn': rule.arn, 'aws:SourceAccount': account.accountId };
    const policies = topicPolicies.filter((p) => p.topics.includes(topic.arn)).map((p) => ({ name: `topic policy ${p.logicalId}`, document: p.document }));
    const publish = account.authorizeService({ service: 'events.amazonaws.com', action: 'sns:Publish', resource: topic.arn, policies, context });
    if (!publish.allowed) return `events.amazonaws.com may not sns:Publish to ${topic.arn}: ${publish.reason}`;
    if (!topic.kmsKeyId) return undefined;
    if (topic.kmsKeyId === 'alias/aws/sns' || topic.kmsKeyId.endsWith(':alias/aws/sns')) {
      return `the topic is encrypted with the AWS-managed key alias/aws/sns, whose key policy does not let events.amazonaws.com use it`;
    }
    const key = account.findKmsKey(topic.kmsKeyId);
    if (!key) return `the topic's key ${topic.kmsKeyId} is not a key of the template`;
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      const decision = account.authorizeService({ service: 'events.amazonaws.com', action, resource: key.arn, policies: [{ name: `key policy of ${key.logicalId}`, document: key.keyPolicy }], context });
      if (!decision.allowed) return `events.amazonaws.com may not ${action} with the topic's key ${key.logicalId}: ${decision.reason}`;
    }
    return undefined;
  };

  const route = (busName: string, event: BusEvent): void => {
    const matching = rules.filter((rule) => rule.busName === busName && matchesPattern(rule.pattern, event as unknown as Record<string, unknown>));
    if (!matching.length) {
      unmatched.push(event);
      return;
    }
    for (const rule of matching) {
      for (const target of rule.targets) {
        const topic = topics.find((t) => t.arn === target.Arn);
        if (!topic) {
          deliveries.push({ ruleLogicalId: rule.logicalId, targetId: target.Id, targetArn: target.Arn, status: 'not-emulated', reason: 'only SNS topic targets of the template are emulated', emails: [], event });
          continue;
        }
        const reason = blockedDelivery(rule, topic);
        deliveries.push({ ruleLogicalId: rule.logicalId, targetId: target.Id, targetArn: target.Arn, topicArn: topic.arn, status: reason ? 'blocked' : 'delivered', ...(reason ? { reason } : {}), emails: emailsOf(topic.arn), event });
      }
    }
  };

  const server = await startAwsJsonServer({
    account,
    targetPrefix: 'AWSEvents',
    jsonVersion: '1.1',
    port: options.port,
    operations: {
      PutEvents(input, call) {
        const entries = input.Entries;
        if (entries === undefined || entries === null) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
        if (!Array.isArray(entries)) throw new AwsError('SerializationException', 'Entries must be a list');
        if (entries.length < 1 || entries.length > 10) {
          throw new AwsError('ValidationException', `1 validation error detected: Value '${entries.length} entries' at 'entries' failed to satisfy constraint: Member must have length ${entries.length < 1 ? 'greater than or equal to 1' : 'less than or equal to 10'}`);
        }
        const typed = entries as Record<string, unknown>[];
        // AWS's size rule: Time counts 14 bytes, then Source, DetailType, Detail and each Resource as UTF-8.
        const size = typed.reduce((total, entry) => {
          const strings = [entry.Source, entry.DetailType, entry.Detail, ...((entry.Resources as unknown[]) ?? [])].filter((s): s is string => typeof s === 'string');
          return total + (entry.Time !== undefined ? 14 : 0) + strings.reduce((sum, s) => sum + Buffer.byteLength(s), 0);
        }, 0);
        if (size > MAX_REQUEST_BYTES) throw new AwsError('ValidationException', `Total size of the entries in the request is over the limit.`);

        const results: Record<string, string>[] = [];
        const accepted: { busName: string; event: BusEvent }[] = [];
        let deniedForAction: { resource: string; reason: string } | undefined;
        let authorizedEntries = 0;
        for (const entry of typed) {
          const failure = (ErrorCode: string, ErrorMessage: string): void => void results.push({ ErrorCode, ErrorMessage });
          const busParameter = typeof entry.EventBusName === 'string' && entry.EventBusName ? entry.EventBusName : 'default';
          const busName = busParameter.startsWith('arn:') ? busParameter.split('/').pop()! : busParameter;
          if (typeof entry.Source !== 'string' || !entry.Source) {
            failure('InvalidArgument', 'Parameter Source is not valid. Reason: Source is a required argument.');
            continue;
          }
          if (typeof entry.DetailType !== 'string' || !entry.DetailType) {
            failure('InvalidArgument', 'Parameter DetailType is not valid. Reason: DetailType is a required argument.');
            continue;
          }
          if (typeof entry.Detail !== 'string' || !entry.Detail) {
            failure('InvalidArgument', 'Parameter Detail is not valid. Reason: Detail is a required argument.');
            continue;
          }
          let detail: unknown;
          try {
            detail = JSON.parse(entry.Detail);
          } catch {
            detail = undefined;
          }
          if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
            failure('MalformedDetail', 'Detail is malformed.');
            continue;
          }
          if (!buses.has(busName)) {
            failure('InvalidArgument', `Event bus ${busName} does not exist.`);
            continue;
          }
          const resource = busArn(busName);
          const decision = account.authorize({
            accessKeyId: call.accessKeyId,
            action: 'events:PutEvents',
            resource,
            context: { 'events:source': entry.Source, 'events:detail-type': entry.DetailType },
          });
          if (!decision.allowed) {
            // A statement for this bus that only failed on its conditions refuses the entry; none at all refuses the call.
            const failedKeys = decision.failedConditions.join(' ');
            if (failedKeys.includes('events:source')) failure('NotAuthorizedForSourceException', 'Not authorized for the source.');
            else if (failedKeys.includes('events:detail-type')) failure('NotAuthorizedForDetailTypeException', 'Not authorized for the detail type.');
            else {
              deniedForAction ??= { resource, reason: decision.reason };
              failure('AccessDeniedException', `Not authorized to put events on ${resource}.`);
            }
            continue;
          }
          authorizedEntries += 1;
          const id = randomUUID();
          const time = typeof entry.Time === 'number' ? new Date(entry.Time * 1000) : new Date();
          const resources = Array.isArray(entry.Resources) ? (entry.Resources as string[]) : [];
          accepted.push({
            busName,
            event: { version: '0', id, 'detail-type': entry.DetailType, source: entry.Source, account: account.accountId, time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'), region: account.region, resources, detail },
          });
          results.push({ EventId: id });
        }
        if (deniedForAction && authorizedEntries === 0 && !results.some((r) => r.ErrorCode && r.ErrorCode !== 'AccessDeniedException')) {
          throw accessDenied(call.caller, 'events:PutEvents', deniedForAction.resource, deniedForAction.reason);
        }
        for (const { busName, event } of accepted) route(busName, event);
        return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
      },
    },
  });

  return {
    ...server,
    deliveries: () => [...deliveries],
    unmatched: () => [...unmatched],
    clear: () => {
      deliveries.splice(0);
      unmatched.splice(0);
    },
  };
}
