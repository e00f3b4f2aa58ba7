import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerCredentialStore } from './credentials/secretsManagerCredentialStore';
import { createDocumentClient, DynamoJobStore } from './jobs/dynamoJobStore';
import { ClusterPool } from './milvus';
import type { Services } from './services';

/** Lives as long as the Lambda container: warm invocations reuse its connections. */
const clusters = new ClusterPool();

/** The services of a step running in Lambda, from the environment the stack sets. */
export function servicesFromEnvironment(env: NodeJS.ProcessEnv = process.env): Services {
  const tableName = env.JOBS_TABLE;
  if (!tableName) throw new Error('JOBS_TABLE is not set');
  const dynamo = new DynamoDBClient(env.DYNAMODB_ENDPOINT ? { endpoint: env.DYNAMODB_ENDPOINT } : {});
  return {
    jobs: new DynamoJobStore({ client: createDocumentClient(dynamo), tableName }),
    credentials: new SecretsManagerCredentialStore({ client: new SecretsManagerClient({}), kmsKeyId: env.CREDENTIALS_KMS_KEY_ID }),
    openCluster: (credentials) => clusters.open(credentials),
    now: () => new Date(),
  };
}
