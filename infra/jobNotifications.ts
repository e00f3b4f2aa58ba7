import { Stack } from 'aws-cdk-lib';
import { EventBus, Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { NOTIFICATION_DETAIL_TYPES, NOTIFICATION_SOURCE } from '../lib/notifications/notifier';

export interface JobNotificationsProps {
  /** Addresses that get the alerts by email (each confirms its subscription once). */
  readonly alertEmails?: readonly string[];
}

/**
 * Job notifications to the operator: the steps put `Migration Sync Lag Below Threshold`,
 * `Migration Job Succeeded` and `Migration Job Failed` on the default event bus; a rule sends them
 * to an encrypted SNS topic with the email subscriptions given at deploy time. CloudWatch alarms
 * may use the same topic.
 */
export class JobNotifications extends Construct {
  readonly eventBus: IEventBus;
  readonly topic: Topic;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: JobNotificationsProps = {}) {
    super(scope, id);
    this.eventBus = EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    // A customer-managed key: EventBridge cannot publish to a topic under the AWS-managed SNS key.
    const key = new Key(this, 'TopicKey', { description: 'milvus-migrate: encrypts the alert topic', enableKeyRotation: true });
    key.grant(new ServicePrincipal('events.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    this.topic = new Topic(this, 'Alerts', { displayName: 'milvus-migrate alerts', masterKey: key, enforceSSL: true });
    for (const email of props.alertEmails ?? []) this.topic.addSubscription(new EmailSubscription(email));
    this.rule = new Rule(this, 'ToEmail', {
      description: 'milvus-migrate job notifications to the alert topic',
      eventPattern: { source: [NOTIFICATION_SOURCE], detailType: Object.values(NOTIFICATION_DETAIL_TYPES) },
      targets: [new SnsTopic(this.topic)],
    });
  }

  /** Lets a function put notifications on the bus (only with the service's source) and tells it which bus. */
  grantPublish(fn: LambdaFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [Stack.of(this).formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
        conditions: { StringEquals: { 'events:source': NOTIFICATION_SOURCE } },
      }),
    );
    fn.addEnvironment('EVENT_BUS_NAME', this.eventBus.eventBusName);
  }
}
