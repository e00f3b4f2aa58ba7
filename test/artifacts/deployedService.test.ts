import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient } from '../../cli/apiClient';
import { startArtifactRuntime, type ArtifactRuntime } from '../../local/artifactRuntime';
import { startMilvusLite, type LocalMilvus } from '../../local/milvusLite';
import { createWrittenCollection, startMixedWriter } from '../../local/mixedWriter';
import { seedSampleCollections } from '../../local/sampleData';
import { ALERT_EMAIL } from '../support/globalSetup';
import { expectSameRows } from '../support/rows';

/**
 * The service as `cdk deploy` ships it: the assets of the synthesized assembly, each run as the
 * nodejs22.x runtime runs it (test/lambda/sandbox.test.ts), the synthesized state machine invoking
 * them, the API answered by the API function's asset, every AWS call checked against the calling
 * function's IAM policy.
 */

type JobView = {
  jobId: string;
  status: string;
  phase: string;
  error?: { code: string; reason: string; step?: string };
  verification?: { passed: boolean };
  sync?: { cycles: number; lagAlertSentAt?: string };
  syncLagSeconds?: number | null;
};

let source: LocalMilvus;
let target: LocalMilvus;
let runtime: ArtifactRuntime;
let api: ApiClient;
const logs: string[] = [];
const prefix = `art_${randomBytes(3).toString('hex')}_`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(jobId: string, done: (job: JobView) => boolean, what: string, timeoutMs = 150_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await api.get(jobId)) as JobView;
    if (done(job)) return job;
    if (['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status)) throw new Error(`job ${jobId} ended ${job.status} (${JSON.stringify(job.error)}) before ${what}`);
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach ${what}: ${job.status} ${job.phase}`);
    await sleep(250);
  }
}
const ended = (job: JobView) => ['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status);
async function waitForEnd(jobId: string): Promise<JobView> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const job = (await api.get(jobId)) as JobView;
    if (ended(job) || Date.now() > deadline) return job;
    await sleep(250);
  }
}

beforeAll(async () => {
  [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  runtime = await startArtifactRuntime({
    assemblyDir: inject('assemblyDir'),
    dynamoEndpoint: inject('dynamoEndpoint'),
    tableName: `jobs-${prefix}`,
    waitTimeOverrideMs: 100,
    retryIntervalOverrideMs: 100,
    log: (fn, line) => logs.push(`${fn} ${line}`),
  });
  api = new ApiClient(runtime.apiUrl, { timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await runtime?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('the deployed service, run from its Lambda assets', () => {
  it('loads every function asset under Node 22 and answers a first invocation', async () => {
    const figures: string[] = [];
    for (const fn of Object.values(runtime.account.functions)) {
      const lambda = runtime.sandbox.get(fn.name);
      if (fn.environment.STEP_ID) {
        // A job that does not exist: the step loads, reads DynamoDB through its role, and says so
        // with a domain error (RecordFailure, whose job cannot be updated, with a conflict).
        const payload = { jobId: `no-such-job-${prefix}`, ...(fn.environment.STEP_ID === 'recordFailure' ? { error: { Error: 'TransientError', Cause: '[X] y' } } : {}) };
        const result = await lambda.invoke(payload);
        expect(result.ok ? 'answered' : result.error.errorType, fn.name).toMatch(/^(answered|JobNotFoundError|PermanentError|JobNotActiveError|ConflictError)$/);
      } else {
        const result = await lambda.invoke({ httpMethod: 'GET', resource: '/openapi.json', path: '/openapi.json', headers: {}, queryStringParameters: null, pathParameters: null, body: null, isBase64Encoded: false });
        expect(result).toMatchObject({ ok: true, payload: { statusCode: 200 } });
      }
      const [cold] = lambda.coldStarts;
      figures.push(`${fn.environment.STEP_ID ?? 'api'}: init ${cold?.initMs} ms, first answer ${cold?.firstAnswerMs} ms`);
    }
    console.log(`cold starts under the sandbox (one each):\n  ${figures.join('\n  ')}`);
    expect(runtime.account.deniedCalls()).toEqual([]);
  });

  it('runs an offline migration end to end, rows identical field by field, every AWS call allowed by its role', async () => {
    const names = await seedSampleCollections(source.uri, { prefix, sizes: { products: 300, articles: 200, clicks: 200 } });
    const created = (await api.create({
      type: 'offline',
      source: { uri: source.uri, token: 'root:Milvus' },
      target: { uri: target.uri },
      databases: [{ name: 'default', collections: names.map((name) => ({ name })) }],
      options: { rowsPerShard: 150, batchRows: 64 },
    })) as JobView;
    const job = await waitForEnd(created.jobId);
    expect(job.error).toBeUndefined();
    expect(job.status).toBe('SUCCESSFUL');
    expect(job.verification?.passed).toBe(true);
    for (const name of names) await expectSameRows(source.uri, name, target.uri, name);
    // Succeeded: the job-succeeded notification reached the alert topic's email subscription.
    await until(() => deliveriesFor(created.jobId).length > 0, 'the job-succeeded delivery');
    expect(deliveriesFor(created.jobId).map((d) => [d.detailType, d.emails])).toEqual([['Migration Job Succeeded', [ALERT_EMAIL]]]);
    // The job's credentials were deleted when it ended.
    expect(runtime.secretsManager.secretNames().filter((name) => name.includes(created.jobId))).toEqual([]);
    expect(runtime.account.deniedCalls()).toEqual([]);
  }, 200_000);

  it('runs an online migration: sync under a writer, the lag alert mailed, stop-sync, cutover, verification', async () => {
    await createWrittenCollection(source.uri, `${prefix}events`, 1_000);
    const writer = startMixedWriter(source.uri, `${prefix}events`, { existingRows: 1_000, writesPerSecond: 100 });
    let stopped = false;
    try {
      const created = (await api.create({
        type: 'online',
        source: { uri: source.uri },
        target: { uri: target.uri },
        databases: [{ name: 'default', collections: [{ name: `${prefix}events` }] }],
        options: { rowsPerShard: 400, lagAlertSeconds: 30 },
      })) as JobView;
      const alerted = await waitFor(created.jobId, (j) => j.sync?.lagAlertSentAt !== undefined, 'the lag alert');
      expect(alerted.status).toBe('SYNCING');
      // The job records the alert, then publishes it.
      await until(() => deliveriesFor(created.jobId).length > 0, 'the lag alert delivery');
      expect(deliveriesFor(created.jobId).map((d) => [d.detailType, d.emails])).toEqual([['Migration Sync Lag Below Threshold', [ALERT_EMAIL]]]);
      const stats = await writer.stop();
      stopped = true;
      expect(stats.inserted + stats.upserted + stats.deleted).toBeGreaterThan(0);
      await api.stopSync(created.jobId);
      const job = await waitForEnd(created.jobId);
      expect(job.error).toBeUndefined();
      expect(job.status).toBe('SUCCESSFUL');
      await expectSameRows(source.uri, `${prefix}events`, target.uri, `${prefix}events`);
      await until(() => deliveriesFor(created.jobId).length > 1, 'the job-succeeded delivery');
      expect(deliveriesFor(created.jobId).map((d) => d.detailType)).toEqual(['Migration Sync Lag Below Threshold', 'Migration Job Succeeded']);
    } finally {
      if (!stopped) await writer.stop();
    }
    expect(runtime.account.deniedCalls()).toEqual([]);
  }, 300_000);

  it('hands a failing step to RecordFailure under the error name Lambda gives it, as on AWS', async () => {
    // A target nobody listens on: Preflight fails with a domain error after its retries.
    const created = (await api.create({
      type: 'offline',
      source: { uri: source.uri },
      target: { uri: 'http://127.0.0.1:9' },
    })) as JobView;
    const job = await waitForEnd(created.jobId);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toMatch(/^[A-Z_]+$/);
    // The execution ended in MigrationFailed with the Error and Cause RecordFailure was given: the
    // function's errorType, and Lambda's error document as a JSON string.
    const stateMachine = Object.values(runtime.account.stateMachines)[0]!;
    // The API names each execution after its job.
    const executionArn = `${stateMachine.arn.replace(':stateMachine:', ':execution:')}:${created.jobId}`;
    // The job is FAILED once RecordFailure has written it; the execution ends after RecordFailure returns.
    await runtime.executions.wait(executionArn);
    const execution = runtime.executions.describe(executionArn);
    expect(execution?.status).toBe('FAILED');
    expect(execution?.error).toMatch(/^(PermanentError|TransientError)$/);
    const cause = JSON.parse(execution!.cause!) as { errorType: string; errorMessage: string };
    expect(cause.errorType).toBe(execution!.error);
    expect(cause.errorMessage).toContain(`[${job.error!.code}]`);
    await until(() => deliveriesFor(created.jobId).length > 0, 'the job-failed delivery');
    expect(deliveriesFor(created.jobId).map((d) => d.detailType)).toEqual(['Migration Job Failed']);
  }, 200_000);
});

async function until(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function deliveriesFor(jobId: string): Array<{ detailType: string; emails: string[] }> {
  return runtime.eventBridge
    .deliveries()
    .filter((delivery) => (delivery.event.detail as { jobId?: string }).jobId === jobId)
    .map((delivery) => ({ detailType: String(delivery.event['detail-type']), emails: delivery.emails }));
}
