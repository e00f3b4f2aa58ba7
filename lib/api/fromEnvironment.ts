import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { SecretsManagerCredentialStore } from '../credentials/secretsManagerCredentialStore';
import { createDocumentClient, DynamoJobStore } from '../jobs/dynamoJobStore';
import { SfnWorkflowStarter } from '../workflow/sfnWorkflowStarter';
import { MigrationService } from './service';

/** The environment the stack gives the API function. */
export const ApiEnvironment = z.object({
  JOBS_TABLE: z.string().min(1, 'JOBS_TABLE is required'),
  STATE_MACHINE_ARN: z.string().regex(/^arn:aws[a-z-]*:states:/, 'STATE_MACHINE_ARN must be a state machine ARN'),
  DYNAMODB_ENDPOINT: z.url().optional(),
  CREDENTIALS_KMS_KEY_ID: z.string().min(1).optional(),
});
export type ApiEnvironment = z.infer<typeof ApiEnvironment>;

/** Builds the API's service for AWS from the environment; fails at once naming what is missing. */
export function buildServiceFromEnvironment(env: NodeJS.ProcessEnv = process.env): MigrationService {
  const parsed = ApiEnvironment.safeParse(env, { error: (issue) => (issue.input === undefined ? 'is not set' : undefined) });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`the API function's environment is incomplete: ${problems}`);
  }
  const config = parsed.data;
  const dynamo = new DynamoDBClient(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {});
  return new MigrationService({
    jobs: new DynamoJobStore({ client: createDocumentClient(dynamo), tableName: config.JOBS_TABLE }),
    credentials: new SecretsManagerCredentialStore({ client: new SecretsManagerClient({}), kmsKeyId: config.CREDENTIALS_KMS_KEY_ID }),
    workflow: new SfnWorkflowStarter({ client: new SFNClient({}), stateMachineArn: config.STATE_MACHINE_ARN }),
  });
}

let cached: MigrationService | undefined;
/** The service of this Lambda container, built on first use and kept for the next invocations. */
export function serviceFromEnvironment(): MigrationService {
  cached ??= buildServiceFromEnvironment(process.env);
  return cached;
}
