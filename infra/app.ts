import { App } from 'aws-cdk-lib';
import { MIGRATION_STACK_ID, MigrationStack } from './migrationStack';

// The CDK app (cdk.json: `npx tsx infra/app.ts`). The account and region come from the CLI profile.
// `cdk deploy -c alertEmails=ops@example.com,dba@example.com` subscribes those addresses to the alerts.
const app = new App();
const alertEmails = String(app.node.tryGetContext('alertEmails') ?? '')
  .split(',')
  .map((email) => email.trim())
  .filter(Boolean);
new MigrationStack(app, MIGRATION_STACK_ID, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  alertEmails,
});
app.synth();
