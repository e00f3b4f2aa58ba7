import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { createApiHandler } from '../../../functions/api';
import { MigrationService } from '../../../lib/api/service';
import { MemoryCredentialStore } from '../../../lib/credentials/memoryCredentialStore';
import { createDocumentClient, DynamoJobStore } from '../../../lib/jobs/dynamoJobStore';
import { createJobTable } from '../../../lib/jobs/table';
import { startApiServer, type ApiServer } from '../../../functions/localHttpServer';
import { executionName, type WorkflowStarter } from '../../../lib/workflow/starter';

/** A workflow starter that records what it is asked and starts nothing; `failStart` makes start throw. */
class RecordingWorkflow implements WorkflowStarter {
  starts: string[] = [];
  stops: Array<{ executionArn: string; reason: string }> = [];
  failStart: Error | undefined;
  async start(jobId: string, options: { run?: number } = {}) {
    this.starts.push(jobId);
    if (this.failStart) throw this.failStart;
    return { executionArn: `arn:aws:states:us-east-1:123456789012:execution:migrate:${executionName(jobId, options.run)}` };
  }
  async stop(executionArn: string, reason: string) {
    this.stops.push({ executionArn, reason });
  }
}

/** A credential store that counts what it saved, so tests see when credentials were written. */
class CountingCredentialStore extends MemoryCredentialStore {
  saved = 0;
  released = 0;
  override async save(...args: Parameters<MemoryCredentialStore['save']>) {
    this.saved += 1;
    return super.save(...args);
  }
  override async release(ref: string) {
    this.released += 1;
    return super.release(ref);
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

/** The API on a fresh table of DynamoDB Local: HTTP server -> Lambda handler -> MigrationService -> DynamoJobStore. */
export async function startApiFixture(name: string) {
  const tableName = `jobs-${name}-${process.pid}-${Date.now()}`;
  const client = new DynamoDBClient({
    endpoint: inject('dynamoEndpoint'),
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await createJobTable(client, tableName);
  const documents = createDocumentClient(client);
  const jobs = new DynamoJobStore({ client: documents, tableName });
  const credentials = new CountingCredentialStore();
  const workflow = new RecordingWorkflow();
  const service = new MigrationService({ jobs, credentials, workflow });
  const handler = createApiHandler(() => service);
  const server: ApiServer = await startApiServer({ handler, port: 0 });
  /** Every response body, for tests that scan what the API said. */
  const responses: string[] = [];

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${server.url}${path}`, init);
    const text = await res.text();
    responses.push(text);
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  }

  async function scanTable(): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documents.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  return { tableName, client, documents, jobs, credentials, workflow, service, handler, server, responses, call, scanTable, close: () => server.close() };
}
export type ApiFixture = Awaited<ReturnType<typeof startApiFixture>>;

/** A valid offline request writing `collections` of database `db` on `targetUri`. */
export function offlineRequest(options: { targetUri?: string; db?: string; collections?: string[] } = {}) {
  const { targetUri = 'target.example:19530', db = 'default', collections } = options;
  return {
    type: 'offline',
    source: { uri: 'source.example:19530', token: 'root:Milvus' },
    target: { uri: targetUri, token: 'root:Milvus' },
    databases: [{ name: 'default', targetName: db, ...(collections ? { collections: collections.map((name) => ({ name })) } : {}) }],
  };
}
