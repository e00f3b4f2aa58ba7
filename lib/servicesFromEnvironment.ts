import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod';
import { DynamoChangeLog } from './capture/dynamoChangeLog';
import { SecretsManagerCredentialStore } from './credentials/secretsManagerCredentialStore';
import { createDocumentClient, DynamoJobStore } from './jobs/dynamoJobStore';
import { EventBridgeNotifier } from './notifications/eventBridgeNotifier';
import { EventLogOnlyNotifier } from './notifications/notifier';
import type { Services } from './services';

/** The environment the stack gives every function: the job table and the credentials' KMS key. */
export const ServicesEnvironment = z.object({
  JOBS_TABLE: z.string().min(1, 'JOBS_TABLE is required'),
  DYNAMODB_ENDPOINT: z.url().optional(),
  CREDENTIALS_KMS_KEY_ID: z.string().min(1).optional(),
  /** Where job notifications go; without it they stay in the job's event log. */
  EVENT_BUS_NAME: z.string().min(1).optional(),
});

/** Validates a function's environment; fails at once naming every variable that is missing or wrong. */
export function parseEnvironment<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, who: string): z.output<S> {
  const parsed = schema.safeParse(env, { error: (issue) => (issue.input === undefined ? 'is not set' : undefined) });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  throw new Error(`the ${who}'s environment is incomplete: ${problems}`);
}

/**
 * The services of a function running in Lambda, from the environment the stack sets. Clusters open
 * through `openCluster`, which the steps that connect pass (functions/clusterPool.ts);
 * it is not imported here, so the functions that never connect (RecordFailure, StartSync, the API)
 * neither bundle nor load the Milvus SDK through this module.
 */
export function servicesFromEnvironment(env: NodeJS.ProcessEnv = process.env, who = 'step function', openCluster: Services['openCluster'] = cannotConnect(who)): Services {
  const config = parseEnvironment(ServicesEnvironment, env, who);
  const dynamo = new DynamoDBClient(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {});
  const documents = createDocumentClient(dynamo);
  return {
    jobs: new DynamoJobStore({ client: documents, tableName: config.JOBS_TABLE }),
    changeLog: new DynamoChangeLog(documents, config.JOBS_TABLE),
    credentials: new SecretsManagerCredentialStore({ client: new SecretsManagerClient({}), kmsKeyId: config.CREDENTIALS_KMS_KEY_ID }),
    openCluster,
    notifier: config.EVENT_BUS_NAME ? new EventBridgeNotifier(new EventBridgeClient({}), config.EVENT_BUS_NAME) : new EventLogOnlyNotifier(),
    now: () => new Date(),
  };
}

function cannotConnect(who: string): Services['openCluster'] {
  return () => {
    throw new Error(`the ${who} does not connect to Milvus clusters (its handler passes no cluster opener)`);
  };
}
