import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { MigrationService } from '../../lib/api/service';
import { DynamoChangeLog } from '../../lib/capture/dynamoChangeLog';
import type { ClusterCredentials } from '../../lib/cluster';
import { MemoryCredentialStore } from '../../lib/credentials/memoryCredentialStore';
import { createDocumentClient, DynamoJobStore } from '../../lib/jobs/dynamoJobStore';
import { createJobTable } from '../../lib/jobs/table';
import type { MilvusGateway } from '../../lib/milvus';
import { EventLogOnlyNotifier } from '../../lib/notifications/notifier';
import type { Services } from '../../lib/services';

/**
 * What tests that call the steps directly (no state machine) need: a job table of their own in
 * DynamoDB Local, credentials in memory, notifications kept, and the API's service with a workflow
 * that starts nothing (the test runs the steps itself).
 */
export async function stepServices(tableName: string, openCluster: (credentials: ClusterCredentials) => MilvusGateway) {
  const dynamo = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await createJobTable(dynamo, tableName);
  const documents = createDocumentClient(dynamo);
  const jobs = new DynamoJobStore({ client: documents, tableName });
  const credentials = new MemoryCredentialStore();
  const notifier = new EventLogOnlyNotifier();
  const changeLog = new DynamoChangeLog(documents, tableName);
  const services: Services = { jobs, credentials, openCluster, notifier, now: () => new Date(), changeLog };
  const service = new MigrationService({ jobs, credentials, workflow: { start: async (jobId) => ({ executionArn: `manual:${jobId}` }), stop: async () => {} } });
  return { services, service, notifier, changeLog, documents };
}
