import { App } from 'aws-cdk-lib';
import { MIGRATION_STACK_ID, MigrationStack } from './migrationStack';

// The CDK app (cdk.json: `npx tsx infra/app.ts`). The account and region come from the CLI profile.
const app = new App();
new MigrationStack(app, MIGRATION_STACK_ID, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
