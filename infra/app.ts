import { App } from 'aws-cdk-lib';
import { parseDeployParameters } from './deployParameters';
import { MIGRATION_STACK_ID, MigrationStack } from './migrationStack';

// The CDK app (cdk.json: `npx tsx infra/app.ts`). The account and region come from the CLI profile.
// Deploy parameters are CDK context values, parsed and checked in infra/deployParameters.ts
// (README "Deploy to AWS"): alertEmails, lagAlarmSeconds, lagAlarmMinutes, and for clusters in a
// private network vpcId, subnetIds, securityGroupIds, vpcEndpoints, routeTableIds.
const app = new App();
const parameters = parseDeployParameters((key) => app.node.tryGetContext(key));

new MigrationStack(app, MIGRATION_STACK_ID, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  ...parameters,
});
app.synth();
