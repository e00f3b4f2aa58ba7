import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { LambdaIntegration, RestApi, type MethodOptions } from 'aws-cdk-lib/aws-apigateway';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { JOB_TABLE } from '../lib/jobs/table';
import { STEP_IDS, type StepId } from '../lib/workflow/steps';
import { MigrationFunctions, STEP_SIZING } from './migrationFunctions';
import { OfflineMigrationStateMachine } from './offlineMigrationStateMachine';

/** The id of the stack in the CDK app (infra/app.ts) and in in-process synths (infra/synth.ts). */
export const MIGRATION_STACK_ID = 'MilvusMigrate';

/** A Task may run this much longer than its Lambda, so a Lambda timeout surfaces as Sandbox.Timedout. */
const TASK_TIMEOUT_MARGIN = Duration.minutes(1);

export interface MigrationStackProps extends StackProps {
  /**
   * Method options applied to every API method: this is where authorization plugs in, e.g.
   * `{ authorizationType: AuthorizationType.IAM }`. @default no authorization
   */
  readonly apiMethodOptions?: MethodOptions;
}

/** The job table, the step and API functions, the offline state machine and the REST API. */
export class MigrationStack extends Stack {
  readonly table: Table;
  readonly functions: MigrationFunctions;
  readonly offlineMigration: OfflineMigrationStateMachine;
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: MigrationStackProps = {}) {
    super(scope, id, props);

    this.table = new Table(this, 'Jobs', {
      partitionKey: { name: JOB_TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: JOB_TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: JOB_TABLE.byCreatedAt.indexName,
      partitionKey: { name: JOB_TABLE.byCreatedAt.partitionKey, type: AttributeType.STRING },
      sortKey: { name: JOB_TABLE.byCreatedAt.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    this.functions = new MigrationFunctions(this, 'Functions', { table: this.table });

    const taskTimeouts = Object.fromEntries(
      STEP_IDS.map((stepId) => [stepId, STEP_SIZING[stepId].timeout.plus(TASK_TIMEOUT_MARGIN)]),
    ) as Record<StepId, Duration>;
    this.offlineMigration = new OfflineMigrationStateMachine(this, 'OfflineMigration', { steps: this.functions.steps, taskTimeouts });

    const apiFunction = this.functions.api;
    const stateMachine = this.offlineMigration.stateMachine;
    apiFunction.addEnvironment('STATE_MACHINE_ARN', stateMachine.stateMachineArn);
    stateMachine.grantStartExecution(apiFunction);
    stateMachine.grantExecution(apiFunction, 'states:StopExecution', 'states:DescribeExecution');

    // REST API: explicit routes, every one a proxy integration to the API function.
    this.api = new RestApi(this, 'Api', {
      description: 'milvus-migrate: create, list, inspect and cancel migrations',
      defaultIntegration: new LambdaIntegration(apiFunction, { allowTestInvoke: false }),
      defaultMethodOptions: props.apiMethodOptions,
      deployOptions: { stageName: 'v1', tracingEnabled: true },
    });
    const migrations = this.api.root.addResource('migrations');
    migrations.addMethod('POST');
    migrations.addMethod('GET');
    const migration = migrations.addResource('{id}');
    migration.addMethod('GET');
    migration.addResource('events').addMethod('GET');
    migration.addResource('cancel').addMethod('POST');

    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'StateMachineArn', { value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'JobsTableName', { value: this.table.tableName });
  }
}
