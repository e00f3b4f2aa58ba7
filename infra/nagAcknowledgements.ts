import { Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { MigrationStack } from './migrationStack';

/**
 * The cdk-nag (AwsSolutions) findings this stack keeps on purpose, each with its reason. Every
 * other finding is fixed in the stack itself; test/infra/nag.test.ts fails on any new one.
 */
export function acknowledgeNagFindings(stack: MigrationStack): void {
  const logicalId = (construct: IConstruct): string => stack.resolve(stack.getLogicalId(construct.node.defaultChild as CfnElement)) as string;
  const acknowledge = (scope: IConstruct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
  const functions = stack.functions;
  const stateMachine = stack.migration.stateMachine;

  // Functions
  acknowledge(functions, 'AwsSolutions-L1', 'Node.js 22 is the runtime the bundles target (esbuild node22) and the tests run on; moving to 24 is a deliberate upgrade of its own.');
  acknowledge(
    functions,
    'AwsSolutions-IAM5[Resource::*]',
    stack.network
      ? 'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) and, in the VPC, ec2:DescribeNetworkInterfaces and ec2:DescribeSubnets take no resource ARN; they are the only statements on *.'
      : 'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) takes no resource ARN; it is the only statement on *.',
  );
  if (stack.network) {
    acknowledge(
      functions,
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:*/*]',
      'Lambda creates and deletes the network interfaces of VPC functions with their roles, at run time, so their ids are not known here; Lambda documents this account-and-region scope for DeleteNetworkInterface.',
    );
  }
  acknowledge(
    functions,
    `AwsSolutions-IAM5[Resource::<${logicalId(stack.table)}.Arn>/index/*]`,
    'The jobs are listed through the byCreatedAt index of this one table; the grant covers only its indexes.',
  );
  acknowledge(
    functions,
    'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:milvus-migrate/*]',
    'One secret per job and role is created at run time (milvus-migrate/<jobId>/<role>), so only the prefix is known; the API may create and delete, connecting steps only read, ending steps only delete.',
  );
  acknowledge(
    functions,
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(stateMachine)}"}]}]}:*]`,
    'The API stops and describes executions of this one state machine; execution names are job ids, known only at run time.',
  );

  // State machine: invoking each step function (its versions too) and delivering logs.
  for (const fn of Object.values(functions.steps)) {
    acknowledge(
      stateMachine,
      `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`,
      'LambdaInvoke grants invoking the step function and its versions/aliases; the function itself is named.',
    );
  }
  // Its Distributed Maps (CreateCollections, CopyCollections, IndexCollections) start, describe, stop and redrive child executions of itself.
  const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(stateMachine)}"}]}]}`;
  acknowledge(
    stateMachine,
    `AwsSolutions-IAM5[Resource::${executions}:*]`,
    'A Distributed Map describes and stops the child executions it started, of this one state machine; their names are generated at run time.',
  );
  for (const label of ['Create', 'Copy', 'Index']) {
    acknowledge(
      stateMachine,
      `AwsSolutions-IAM5[Resource::${executions}/${label}:*]`,
      `A Distributed Map may redrive its Map Run (label ${label}) of this one state machine; the run's id is generated at run time.`,
    );
  }
  acknowledge(
    stateMachine,
    'AwsSolutions-IAM5[Resource::*]',
    'Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray take no resource ARN.',
  );

  // REST API
  acknowledge(
    stack.api,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    "API Gateway's account-wide CloudWatch role, needed for stage execution logging, uses the managed policy AWS provides for it.",
  );
  acknowledge(stack.api, 'AwsSolutions-COG4', 'The API uses IAM authorization (SigV4): callers are AWS principals, not Cognito users.');
  acknowledge(stack.api, 'AwsSolutions-APIG3', 'An IAM-authorized API for operators; a WAF web ACL is an account-level choice left to the deployer.');

}
