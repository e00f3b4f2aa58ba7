import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestValidator,
  RestApi,
  type MethodOptions,
} from 'aws-cdk-lib/aws-apigateway';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { JOB_TABLE } from '../lib/jobs/table';
import { STEP_IDS, type StepId } from '../lib/workflow/steps';
import { MigrationFunctions, NOTIFYING_STEPS, STEP_SIZING } from './migrationFunctions';
import { JobNotifications } from './jobNotifications';
import { ApiRequestModels } from './apiModels';
import { acknowledgeNagFindings } from './nagAcknowledgements';
import { MigrationObservability } from './observability';
import { MigrationStateMachine } from './migrationStateMachine';
import { MigrationNetwork, type MigrationNetworkProps } from './migrationNetwork';

/** The id of the stack in the CDK app (infra/app.ts) and in in-process synths (infra/synth.ts). */
export const MIGRATION_STACK_ID = 'MilvusMigrate';

/** A Task may run this much longer than its Lambda, so a Lambda timeout surfaces as Sandbox.Timedout. */
const TASK_TIMEOUT_MARGIN = Duration.minutes(1);

export interface MigrationStackProps extends StackProps {
  /**
   * Method options applied to every API method: this is where authorization plugs in.
   * @default IAM authorization (`{ authorizationType: AuthorizationType.IAM }`): callers sign with SigV4
   */
  readonly apiMethodOptions?: MethodOptions;
  /** Email addresses that receive the lag alert and job outcomes (context `alertEmails`, comma separated, in infra/app.ts). */
  readonly alertEmails?: readonly string[];
  /** The sync lag alarm: lag above this... @default 60 s */
  readonly lagAlarmThreshold?: Duration;
  /** ...for this long. @default 30 minutes */
  readonly lagAlarmDuration?: Duration;
  /**
   * A VPC for the functions that connect to Milvus (context vpcId, subnetIds, securityGroupIds,
   * vpcEndpoints, routeTableIds in infra/app.ts). @default no VPC: the clusters are reachable from the internet
   */
  readonly network?: MigrationNetworkProps;
}

/** The job table, the step and API functions, the offline state machine and the REST API. */
export class MigrationStack extends Stack {
  readonly table: Table;
  /** Encrypts the secrets the API creates for request credentials. */
  readonly credentialsKey: Key;
  readonly functions: MigrationFunctions;
  readonly migration: MigrationStateMachine;
  readonly api: RestApi;
  readonly notifications: JobNotifications;
  readonly network?: MigrationNetwork;

  constructor(scope: Construct, id: string, props: MigrationStackProps = {}) {
    super(scope, id, props);

    this.table = new Table(this, 'Jobs', {
      partitionKey: { name: JOB_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: JOB_TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      // Idempotency keys expire after 24 h.
      timeToLiveAttribute: JOB_TABLE.ttlAttribute,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: JOB_TABLE.byCreatedAt.indexName,
      partitionKey: { name: JOB_TABLE.byCreatedAt.partitionKey, type: AttributeType.STRING },
      sortKey: { name: JOB_TABLE.byCreatedAt.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    this.credentialsKey = new Key(this, 'CredentialsKey', {
      description: 'milvus-migrate: encrypts the cluster credentials of running jobs (Secrets Manager)',
      enableKeyRotation: true,
    });
    if (props.network) this.network = new MigrationNetwork(this, 'Network', props.network);
    this.functions = new MigrationFunctions(this, 'Functions', { table: this.table, credentialsKey: this.credentialsKey, network: this.network });
    this.notifications = new JobNotifications(this, 'Notifications', { alertEmails: props.alertEmails });
    for (const stepId of NOTIFYING_STEPS) this.notifications.grantPublish(this.functions.steps[stepId]);

    const taskTimeouts = Object.fromEntries(
      STEP_IDS.map((stepId) => [stepId, STEP_SIZING[stepId].timeout.plus(TASK_TIMEOUT_MARGIN)]),
    ) as Record<StepId, Duration>;
    this.migration = new MigrationStateMachine(this, 'Migration', { steps: this.functions.steps, taskTimeouts });

    const apiFunction = this.functions.api;
    const stateMachine = this.migration.stateMachine;
    apiFunction.addEnvironment('STATE_MACHINE_ARN', stateMachine.stateMachineArn);
    stateMachine.grantStartExecution(apiFunction);
    stateMachine.grantExecution(apiFunction, 'states:StopExecution', 'states:DescribeExecution');

    // REST API: explicit routes, every one a proxy integration to the API function.
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: RetentionDays.THREE_MONTHS });
    this.api = new RestApi(this, 'Api', {
      description: 'milvus-migrate: create, list, inspect and cancel migrations',
      defaultIntegration: new LambdaIntegration(apiFunction, { allowTestInvoke: false }),
      defaultMethodOptions: props.apiMethodOptions ?? { authorizationType: AuthorizationType.IAM },
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false, // would log request bodies, credentials included
      },
    });
    // Bodies and queries are validated by the API function (zod), which names every bad field.
    const requestValidator = new RequestValidator(this, 'ApiRequestValidator', { restApi: this.api, validateRequestBody: true, validateRequestParameters: true });
    // ...and API Gateway checks the bodies first against models made from the same zod schemas.
    const bodies = new ApiRequestModels(this, 'ApiModels', { api: this.api, requestValidator });
    const migrations = this.api.root.addResource('migrations');
    migrations.addMethod('POST', undefined, bodies.createMigration);
    migrations.addMethod('GET');
    migrations.addResource('preflight').addMethod('POST', undefined, bodies.createMigration);
    const migration = migrations.addResource('{id}');
    migration.addMethod('GET');
    migration.addResource('events').addMethod('GET');
    migration.addResource('collections').addMethod('GET');
    migration.addResource('cancel').addMethod('POST');
    migration.addResource('stop-sync').addMethod('POST', undefined, bodies.stopSync);
    migration.addResource('resume').addMethod('POST', undefined, bodies.resumeMigration);
    this.api.root.addResource('openapi.json').addMethod('GET');

    new MigrationObservability(this, 'Observability', {
      stepFunctions: this.functions.steps,
      apiFunction,
      stateMachine,
      alarmTopic: this.notifications.topic,
      syncLagThreshold: props.lagAlarmThreshold,
      syncLagDuration: props.lagAlarmDuration,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'JobsTableName', { value: this.table.tableName });
    new CfnOutput(this, 'AlertTopicArn', { value: this.notifications.topic.topicArn });

    acknowledgeNagFindings(this);
  }
}
