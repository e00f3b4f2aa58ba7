import './polyfills';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { stepHandlersFor } from '../functions/registry';
import { MigrationService } from '../lib/api/service';
import { DynamoChangeLog } from '../lib/capture/dynamoChangeLog';
import { MemoryCredentialStore } from '../lib/credentials/memoryCredentialStore';
import { createDocumentClient, DynamoJobStore } from '../lib/jobs/dynamoJobStore';
import { createJobTable } from '../lib/jobs/table';
import { ClusterPool } from '../lib/milvus';
import { recordFailure } from '../lib/migration/recordFailure';
import { EventLogOnlyNotifier } from '../lib/notifications/notifier';
import type { Services } from '../lib/services';
import { synthesizedDefinition } from './definitionCache';
import { dynamoEndpointFromEnvironment, startDynamoLocal, type LocalDynamo } from './dynamoLocal';
import { LocalWorkflowStarter } from './localWorkflowStarter';

export interface LocalRuntimeOptions {
  /** Use a running DynamoDB (Local) instead of starting one (default: MILVUS_MIGRATE_DYNAMODB_ENDPOINT, if set). */
  dynamoEndpoint?: string;
  /** DynamoDB Local being started by the caller (the CLI starts it before this module loads): the runtime stops it. */
  dynamo?: Promise<LocalDynamo>;
  tableName?: string;
  /** Shortens Wait states (ms), for tests and demos of the online loop. */
  waitTimeOverrideMs?: number;
  /** Shortens Retry intervals (ms), for tests. */
  retryIntervalOverrideMs?: number;
}

export interface LocalRuntime {
  service: MigrationService;
  /** What the step handlers of this runtime are given (tests call steps with them directly). */
  services: Services;
  jobs: DynamoJobStore;
  workflow: LocalWorkflowStarter;
  /** What the job steps published (locally they are also in each job's event log). */
  notifier: EventLogOnlyNotifier;
  dynamoEndpoint: string;
  stop(): Promise<void>;
}

/**
 * The whole service on one machine: DynamoDB Local for job records, credentials in memory, and
 * the state machine synthesized from the CDK app executed in process with the real step handlers.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  // DynamoDB Local (a JVM) starts while the state machine's definition is read or synthesized.
  const givenEndpoint = options.dynamo ? undefined : (options.dynamoEndpoint ?? dynamoEndpointFromEnvironment());
  const [started, synthesized] = await Promise.allSettled([
    options.dynamo ?? (givenEndpoint ? Promise.resolve(undefined) : startDynamoLocal()),
    synthesizedDefinition(),
  ]);
  if (started.status === 'rejected') throw started.reason;
  const dynamo: LocalDynamo | undefined = started.value;
  if (synthesized.status === 'rejected') {
    await dynamo?.stop();
    throw synthesized.reason;
  }
  const dynamoEndpoint = givenEndpoint ?? dynamo!.endpoint;
  const tableName = options.tableName ?? 'milvus-migrate-jobs';
  const dynamoClient = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await createJobTable(dynamoClient, tableName);
  const documents = createDocumentClient(dynamoClient);
  const jobs = new DynamoJobStore({ client: documents, tableName });
  const credentials = new MemoryCredentialStore();
  const clusters = new ClusterPool();
  const notifier = new EventLogOnlyNotifier();
  const services: Services = { jobs, credentials, openCluster: (c) => clusters.open(c), notifier, now: () => new Date(), changeLog: new DynamoChangeLog(documents, tableName) };

  const { definition, functions } = synthesized.value;
  const workflow = new LocalWorkflowStarter({
    definition,
    functions,
    validated: true,
    handlers: stepHandlersFor(services),
    waitTimeOverrideMs: options.waitTimeOverrideMs,
    retryIntervalOverrideMs: options.retryIntervalOverrideMs,
    // An execution that ended without reaching RecordFailure (aborted by a stopping runtime, or a
    // failure of RecordFailure itself) must not leave its job IN_PROGRESS forever.
    onSettled: async (executionArn, jobId, result) => {
      if (result.status === 'SUCCEEDED') return;
      // A resumed job runs another execution: the end of an earlier one is no news about it.
      const job = await jobs.get(jobId);
      if (job?.executionArn !== undefined && job.executionArn !== executionArn) return;
      const error = result.error ?? { Error: 'ExecutionAborted', Cause: '[EXECUTION_ABORTED] the local runtime stopped the execution' };
      await recordFailure(services, { jobId, error });
    },
  });
  const service = new MigrationService({ jobs, credentials, workflow });

  return {
    service,
    services,
    jobs,
    workflow,
    notifier,
    dynamoEndpoint,
    async stop() {
      await workflow.stopAll?.('local runtime stopping');
      await clusters.closeAll();
      dynamoClient.destroy();
      await dynamo?.stop();
    },
  };
}
