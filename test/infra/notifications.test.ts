import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NOTIFYING_STEPS } from '../../infra/migrationFunctions';
import { MIGRATION_STACK_ID, MigrationStack } from '../../infra/migrationStack';
import { NOTIFICATION_DETAIL_TYPES, NOTIFICATION_SOURCE } from '../../lib/notifications/notifier';
import { STEP_IDS } from '../../lib/workflow/steps';

let template: Template;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new MigrationStack(app, MIGRATION_STACK_ID, { alertEmails: ['ops@example.com', 'dba@example.com'] });
  template = Template.fromStack(stack);
});

/** The logical id of the function of a step, by its STEP_ID. */
function stepFunction(stepId: string): string {
  const [id] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, fn]) => fn.Properties?.Environment?.Variables?.STEP_ID === stepId)!;
  return id;
}

/** Statements of the policies attached to a function's role. */
function statementsOf(functionId: string): any[] {
  const role = template.findResources('AWS::Lambda::Function')[functionId]!.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => policy.Properties.Roles.some((r: any) => r.Ref === role))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe('job notifications (lag alert, success, failure) to email', () => {
  it('routes the three notification types of the service to an encrypted topic, with an email subscription per address', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: [NOTIFICATION_SOURCE], 'detail-type': Object.values(NOTIFICATION_DETAIL_TYPES) },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('NotificationsAlerts') } })],
    });
    expect(Object.values(NOTIFICATION_DETAIL_TYPES)).toContain('Migration Sync Lag Below Threshold');
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const emails = Object.values(template.findResources('AWS::SNS::Subscription')).map((s) => [s.Properties.Protocol, s.Properties.Endpoint]);
    expect(emails.sort()).toEqual([
      ['email', 'dba@example.com'],
      ['email', 'ops@example.com'],
    ]);
  });

  it('lets EventBridge encrypt with the topic key', () => {
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    const topicKey = keys.find((k) => JSON.stringify(k.Properties.KeyPolicy).includes('events.amazonaws.com'));
    expect(topicKey).toBeDefined();
    expect(topicKey!.Properties.EnableKeyRotation).toBe(true);
  });

  it('lets only the notifying steps put events, only with the service source, and tells them the bus', () => {
    for (const stepId of STEP_IDS) {
      const fn = stepFunction(stepId);
      const puts = statementsOf(fn).filter((s) => [s.Action].flat().includes('events:PutEvents'));
      const env = template.findResources('AWS::Lambda::Function')[fn]!.Properties.Environment.Variables;
      if (NOTIFYING_STEPS.includes(stepId)) {
        expect(puts, stepId).toHaveLength(1);
        expect(puts[0].Condition).toEqual({ StringEquals: { 'events:source': NOTIFICATION_SOURCE } });
        expect(env.EVENT_BUS_NAME, stepId).toBe('default');
      } else {
        expect(puts, stepId).toEqual([]);
        expect(env.EVENT_BUS_NAME, stepId).toBeUndefined();
      }
    }
  });
});
