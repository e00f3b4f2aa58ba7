import { App, Duration } from 'aws-cdk-lib';
import { MIGRATION_STACK_ID, MigrationStack } from './migrationStack';

// The CDK app (cdk.json: `npx tsx infra/app.ts`). The account and region come from the CLI profile.
// Deploy parameters are CDK context values (README "Deploy to AWS"):
//   -c alertEmails=ops@example.com,dba@example.com   email subscriptions of the alert topic
//   -c lagAlarmSeconds=60 -c lagAlarmMinutes=30        the alarm on a sync lag that stays high
const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === '' ? undefined : String(value);
};
const positive = (key: string): number | undefined => {
  const text = context(key);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`context ${key} must be a whole number above 0, got ${text}`);
  return value;
};
const alertEmails = (context('alertEmails') ?? '')
  .split(',')
  .map((email) => email.trim())
  .filter(Boolean);
const lagAlarmSeconds = positive('lagAlarmSeconds');
const lagAlarmMinutes = positive('lagAlarmMinutes');

new MigrationStack(app, MIGRATION_STACK_ID, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  alertEmails,
  ...(lagAlarmSeconds ? { lagAlarmThreshold: Duration.seconds(lagAlarmSeconds) } : {}),
  ...(lagAlarmMinutes ? { lagAlarmDuration: Duration.minutes(lagAlarmMinutes) } : {}),
});
app.synth();
