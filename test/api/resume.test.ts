import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterCredentials } from '../../lib/cluster';
import type { CollectionProgress } from '../../lib/jobs/model';
import type { MilvusGateway } from '../../lib/milvus';
import { recordFailure } from '../../lib/migration/recordFailure';
import { EventLogOnlyNotifier } from '../../lib/notifications/notifier';
import type { Services } from '../../lib/services';
import { startApiFixture, type ApiFixture } from './support/apiFixture';

/**
 * `POST /migrations/{id}/resume` over HTTP, on DynamoDB Local: which jobs may be resumed (409s),
 * what the body may hold (400s naming the field), credentials saved again and never shown, the
 * target locks taken again, the executions kept on the job and the rows kept said in an event.
 */

/** A unique string put in every credential; it must never come back out. */
const MARKER = `ResumeMarker${randomBytes(6).toString('hex')}`;

let api: ApiFixture;
let services: Services;
const call: ApiFixture['call'] = (...args) => api.call(...args);

function body(collection: string, overrides: Record<string, unknown> = {}) {
  return {
    type: 'offline',
    source: { uri: 'source.example:19530', token: `${MARKER}-source-1` },
    target: { uri: 'target.example:19530', username: 'root', password: `${MARKER}-target-1` },
    databases: [{ name: 'default', collections: [{ name: collection }] }],
    ...overrides,
  };
}

/** A job created over HTTP that then fails as the state machine fails it (RecordFailure: credentials and locks released). */
async function failedJob(collection: string, overrides: Record<string, unknown> = {}, progress: Partial<CollectionProgress> = {}): Promise<string> {
  const created = await call('POST', '/migrations', body(collection, overrides));
  expect(created.status).toBe(201);
  const jobId: string = created.body.jobId;
  await api.jobs.update(jobId, { status: 'IN_PROGRESS', phase: 'FULL_COPY' });
  await api.jobs.putCollections(jobId, [
    { key: `default.${collection}`, sourceDb: 'default', sourceName: collection, targetDb: 'default', targetName: collection, status: 'COPYING', rowsTotal: 1000, rowsCopied: 0, shardCount: 2, attempt: 1, ...progress },
  ]);
  await recordFailure(services, { jobId, error: { Error: 'MigrationError', Cause: '[TARGET_UNREACHABLE] cannot reach the target cluster: connection refused' }, step: 'CopyShard' });
  expect((await api.jobs.get(jobId))?.status).toBe('FAILED');
  return jobId;
}

beforeAll(async () => {
  api = await startApiFixture('resume');
  services = {
    jobs: api.jobs,
    credentials: api.credentials,
    notifier: new EventLogOnlyNotifier(),
    now: () => new Date(),
    openCluster: (_credentials: ClusterCredentials): MilvusGateway => {
      throw new Error('no cluster in the API tests');
    },
  };
});

afterAll(async () => {
  await api?.close();
});

describe('POST /migrations/{id}/resume', () => {
  it('resumes a FAILED job with its credentials given again: PENDING, a second execution, the rows kept, the earlier error in its history', async () => {
    const jobId = await failedJob('resumed_books', {}, { rowsCopied: 600 });
    const failed = await api.jobs.get(jobId);
    await expect(api.credentials.resolve(failed!.source.credentialsRef)).rejects.toThrow(/no credentials/);
    const startsBefore = api.workflow.starts.filter((id) => id === jobId).length;

    const resumed = await call('POST', `/migrations/${jobId}/resume`, {
      source: { token: `${MARKER}-source-2` },
      target: { username: 'root', password: `${MARKER}-target-2` },
    });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body).toMatchObject({ jobId, status: 'PENDING', phase: 'QUEUED' });
    expect(resumed.body.error).toBeUndefined();
    expect(resumed.body.endedAt).toBeUndefined();
    expect(resumed.body.executions).toEqual([
      { run: 1, startedAt: expect.any(String), endedAt: failed!.endedAt, status: 'FAILED', error: failed!.error },
      { run: 2, startedAt: expect.any(String), rowsKept: 600 },
    ]);
    expect(api.workflow.starts.filter((id) => id === jobId)).toHaveLength(startsBefore + 1);

    const stored = await api.jobs.get(jobId);
    expect(stored?.executionArn).toBe(`arn:aws:states:us-east-1:123456789012:execution:migrate:${jobId}-run2`);
    expect(stored?.executions?.map((e) => e.executionArn)).toEqual([
      `arn:aws:states:us-east-1:123456789012:execution:migrate:${jobId}`,
      `arn:aws:states:us-east-1:123456789012:execution:migrate:${jobId}-run2`,
    ]);
    expect(await api.credentials.resolve(stored!.source.credentialsRef)).toMatchObject({ uri: 'source.example:19530', token: `${MARKER}-source-2` });
    expect(await api.credentials.resolve(stored!.target.credentialsRef)).toMatchObject({ username: 'root', password: `${MARKER}-target-2` });

    const events = (await call('GET', `/migrations/${jobId}/events`)).body.items as Array<{ type: string; message: string; details?: Record<string, unknown> }>;
    const resumedEvent = events.find((e) => e.type === 'JobResumed');
    expect(resumedEvent?.details).toMatchObject({ run: 2, rowsKept: 600, collectionsKept: 1, previousError: 'TARGET_UNREACHABLE' });
    expect(resumedEvent?.message).toMatch(/600 row\(s\) copied before are kept/);

    // The credentials given again appear nowhere but in the credential store.
    const table = JSON.stringify(await api.scanTable());
    expect(table).not.toContain(MARKER);
    expect(api.responses.join('\n')).not.toContain(MARKER);

    // Resumed, it has not ended: a second resume is refused.
    const again = await call('POST', `/migrations/${jobId}/resume`, { source: { token: 'x' }, target: { token: 'y' } });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(new RegExp(`job ${jobId} is PENDING .*only a FAILED job can be resumed`));
  });

  it('asks for the credentials a failed job deleted, naming the cluster; needs none for a cluster that had none', async () => {
    const jobId = await failedJob('needs_credentials');
    const bare = await call('POST', `/migrations/${jobId}/resume`);
    expect(bare.status).toBe(400);
    expect(bare.body.error.issues.map((i: { path: string }) => i.path).sort()).toEqual(['source', 'target']);
    expect(bare.body.error.message).toMatch(/source: the job's source credentials were deleted when it failed: give them again \(source\.token/);
    const halfway = await call('POST', `/migrations/${jobId}/resume`, { source: { token: 'abc' } });
    expect(halfway.status).toBe(400);
    expect(halfway.body.error.issues).toEqual([expect.objectContaining({ path: 'target' })]);
    // Nothing was saved or changed by the refusals.
    expect((await api.jobs.get(jobId))?.status).toBe('FAILED');

    const open = await failedJob('no_credentials', { source: { uri: 'open-source.example:19530' }, target: { uri: 'target.example:19530' } });
    const onlySource = await call('POST', `/migrations/${open}/resume`, { target: { token: `${MARKER}-t` } });
    expect(onlySource.status, onlySource.text).toBe(200);
    const stored = await api.jobs.get(open);
    expect(await api.credentials.resolve(stored!.source.credentialsRef)).toEqual({ uri: 'open-source.example:19530' });
  });

  it('refuses a body that is not credentials, naming the field', async () => {
    const jobId = await failedJob('bad_bodies');
    const cases: Array<[unknown, RegExp]> = [
      [{ source: { uri: 'elsewhere:19530', token: 'a' } }, /source: unknown field uri/],
      [{ source: { token: 'a', username: 'u', password: 'p' }, target: { token: 'b' } }, /source: give either token or username\/password, not both/],
      [{ target: { username: 'u' }, source: { token: 'a' } }, /target: username and password go together/],
      [{ source: { token: 'a' }, target: { token: 'b' }, options: {} }, /unknown field options/],
      [{ source: { token: '' }, target: { token: 'b' } }, /source\.token/],
      [[], /body/],
    ];
    for (const [resumeBody, message] of cases) {
      const answer = await call('POST', `/migrations/${jobId}/resume`, resumeBody);
      expect(answer.status, JSON.stringify(resumeBody)).toBe(400);
      expect(answer.body.error.message).toMatch(message);
    }
    expect((await call('POST', `/migrations/${jobId}/resume?force=1`, {})).status).toBe(400);
    expect((await call('POST', '/migrations/mig-doesnotexist/resume', {})).status).toBe(404);
    expect((await call('POST', '/migrations/bad%20id/resume', {})).status).toBe(400);
  });

  it('409 for a job that is SUCCESSFUL, CANCELLED or has not ended, naming the status', async () => {
    const running = (await call('POST', '/migrations', body('not_ended'))).body.jobId as string;
    const notEnded = await call('POST', `/migrations/${running}/resume`, { source: { token: 'a' }, target: { token: 'b' } });
    expect(notEnded.status).toBe(409);
    expect(notEnded.body.error.message).toMatch(/is PENDING .*has not ended/);
    await api.jobs.update(running, { status: 'IN_PROGRESS' });
    expect((await call('POST', `/migrations/${running}/resume`, { source: { token: 'a' }, target: { token: 'b' } })).body.error.message).toMatch(/is IN_PROGRESS/);

    expect((await call('POST', `/migrations/${running}/cancel`)).status).toBe(200);
    const cancelled = await call('POST', `/migrations/${running}/resume`, { source: { token: 'a' }, target: { token: 'b' } });
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error.message).toMatch(/is CANCELLED; only a FAILED job can be resumed/);

    const done = (await call('POST', '/migrations', body('succeeded'))).body.jobId as string;
    await api.jobs.update(done, { status: 'SUCCESSFUL', phase: 'DONE', endedAt: new Date().toISOString() });
    const successful = await call('POST', `/migrations/${done}/resume`, { source: { token: 'a' }, target: { token: 'b' } });
    expect(successful.status).toBe(409);
    expect(successful.body.error.message).toMatch(/is SUCCESSFUL; only a FAILED job can be resumed/);
  });

  it('409 for a job that failed after its switchover: a resume would copy the source over the writes made to the target since', async () => {
    const jobId = await failedJob('switched');
    const at = new Date().toISOString();
    await api.jobs.update(jobId, { sync: { strategy: 'capture', startedAt: at, deadlineAt: at, cycles: 3, inserted: 0, updated: 0, deleted: 0, switchedAt: at } });
    const refused = await call('POST', `/migrations/${jobId}/resume`, { source: { token: 'a' }, target: { token: 'b' } });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/failed after its switchover .*would copy the source over the applications' writes/);
    expect((await api.jobs.get(jobId))?.status).toBe('FAILED');
  });

  it('takes the target locks again: refused while another job writes the collection, held once resumed', async () => {
    const jobId = await failedJob('locked_again');
    // The failure released the lock: another job may take the collection meanwhile.
    const other = await call('POST', '/migrations', body('locked_again'));
    expect(other.status).toBe(201);
    const credentials = { source: { token: `${MARKER}-s` }, target: { token: `${MARKER}-t` } };
    const refused = await call('POST', `/migrations/${jobId}/resume`, credentials);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(new RegExp(`collection default\\.locked_again on target\\.example:19530 is being written by job ${other.body.jobId}`));
    expect((await api.jobs.get(jobId))?.status).toBe('FAILED');
    // The credentials saved for the refused resume were let go.
    await expect(api.credentials.resolve((await api.jobs.get(jobId))!.source.credentialsRef)).rejects.toThrow(/no credentials/);

    expect((await call('POST', `/migrations/${other.body.jobId}/cancel`)).status).toBe(200);
    const resumed = await call('POST', `/migrations/${jobId}/resume`, credentials);
    expect(resumed.status, resumed.text).toBe(200);
    const third = await call('POST', '/migrations', body('locked_again'));
    expect(third.status).toBe(409);
    expect(third.body.error.message).toMatch(new RegExp(`is being written by job ${jobId}`));
  });

  it('a workflow that cannot start fails the resumed job again, releasing what it took', async () => {
    const jobId = await failedJob('start_fails');
    api.workflow.failStart = new Error('state machine unavailable');
    try {
      const answer = await call('POST', `/migrations/${jobId}/resume`, { source: { token: 'a' }, target: { token: 'b' } });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ status: 'FAILED', error: { code: 'WORKFLOW_START_FAILED' } });
    } finally {
      api.workflow.failStart = undefined;
    }
    expect((await call('POST', '/migrations', body('start_fails'))).status).toBe(201);
  });
});
