import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiHandler } from '../../functions/api';
import { startApiServer } from '../../functions/localHttpServer';
import { startApiFixture, type ApiFixture } from './support/apiFixture';

/** The API end to end: HTTP server -> Lambda handler -> MigrationService -> DynamoDB Local, with a recording workflow. */

/** A unique string put in every credential; it must never come back out. */
const MARKER = `CredMarker${randomBytes(6).toString('hex')}`;

let api: ApiFixture;
const call: ApiFixture['call'] = (...args) => api.call(...args);
const scanTable = () => api.scanTable();

function validBody(overrides: Record<string, unknown> = {}) {
  return {
    type: 'offline',
    source: { uri: `http://admin:${MARKER}pw@source.example:19530`, token: `${MARKER}-source-token` },
    target: { uri: 'https://target.example:443', username: 'root', password: `${MARKER}-target-password` },
    databases: [{ name: 'default', collections: [{ name: 'books', targetName: 'books_v2' }] }],
    options: { rowsPerShard: 1000 },
    ...overrides,
  };
}

beforeAll(async () => {
  api = await startApiFixture('api');
});

afterAll(async () => {
  await api?.close();
});

beforeEach(() => {
  api.workflow.failStart = undefined;
});

describe('migration lifecycle over HTTP', () => {
  it('creates, shows, lists events of and cancels a migration', async () => {
    const created = await call('POST', '/migrations', validBody());
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    const jobId: string = created.body.jobId;
    expect(jobId).toMatch(/^mig-[0-9a-z]{26}$/);
    expect(created.headers.get('location')).toBe(`/migrations/${jobId}`);
    expect(created.body).toMatchObject({
      type: 'offline',
      status: 'PENDING',
      phase: 'QUEUED',
      progressPercent: 0,
      source: { uri: 'http://source.example:19530' },
      target: { uri: 'https://target.example:443' },
      collectionSummary: { total: 0, rowsTotal: 0, rowsCopied: 0 },
      warnings: [],
    });
    expect(created.body).not.toHaveProperty('collections');
    expect(api.workflow.starts).toContain(jobId);

    const shown = await call('GET', `/migrations/${jobId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(created.body);

    const stored = await api.jobs.get(jobId);
    expect(stored?.executionArn).toBe(`arn:aws:states:us-east-1:123456789012:execution:migrate:${jobId}`);
    expect(stored?.databases).toEqual([{ name: 'default', collections: [{ name: 'books', targetName: 'books_v2' }] }]);
    expect(stored?.options).toMatchObject({ rowsPerShard: 1000, indexPolicy: 'autoindex', shardConcurrency: 4 });
    // The credentials went to the credential store, and only the reference to the job.
    expect(await api.credentials.resolve(stored!.source.credentialsRef)).toMatchObject({ token: `${MARKER}-source-token` });

    const cancelled = await call('POST', `/migrations/${jobId}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ jobId, status: 'CANCELLED', endedAt: expect.any(String) });
    expect(api.workflow.stops).toEqual([{ executionArn: stored!.executionArn, reason: expect.stringContaining(jobId) }]);
    await expect(api.credentials.resolve(stored!.source.credentialsRef)).rejects.toThrow(/no credentials/);

    const events = await call('GET', `/migrations/${jobId}/events`);
    expect(events.status).toBe(200);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['JobCreated', 'JobCancelled']);

    const again = await call('POST', `/migrations/${jobId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/is CANCELLED/);
  });

  it('creates an online job moving every database when none is named, with the online option defaults', async () => {
    // A cluster of its own: the job locks the whole target cluster, which the other tests write.
    const target = { uri: 'https://online-target.example:443', username: 'root', password: `${MARKER}-target-password` };
    const response = await call('POST', '/migrations', validBody({ type: 'online', target, databases: undefined, options: { lagAlertSeconds: 5 } }));
    expect(response.status).toBe(201);
    expect(response.body.type).toBe('online');
    expect(response.body.syncLagSeconds).toBeNull();
    const job = await api.jobs.get(response.body.jobId);
    expect(job?.databases).toEqual([]);
    expect(job?.options).toMatchObject({ lagAlertSeconds: 5, lagPollSeconds: 5, syncTimeoutSeconds: 604_800 });
  });

  it('refuses online jobs that would append to a target collection or let the target generate keys, naming the field', async () => {
    const append = await call('POST', '/migrations', validBody({ type: 'online', databases: undefined, options: { existingTarget: 'append' } }));
    expect(append.status).toBe(400);
    expect(append.body.error.message).toMatch(/options\.existingTarget: an online migration keeps each target collection equal to its source/);
    const autoId = await call('POST', '/migrations', validBody({ type: 'online', databases: [{ name: 'default', collections: [{ name: 'books', mapping: { autoId: true } }] }] }));
    expect(autoId.status).toBe(400);
    expect(autoId.body.error.message).toMatch(/databases\[0\]\.collections\[0\]\.mapping\.autoId: an online migration matches rows by primary key/);
  });

  it('stop-sync: 400 without the confirmation, 409 naming the status for a job that is not SYNCING', async () => {
    const created = await call('POST', '/migrations', validBody({ type: 'online', databases: [{ name: 'default', collections: [{ name: 'stop_sync_probe' }] }] }));
    const id = created.body.jobId;
    const refused = await call('POST', `/migrations/${id}/stop-sync`, {});
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/confirmWritesStopped/);
    const early = await call('POST', `/migrations/${id}/stop-sync`, { confirmWritesStopped: true });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(new RegExp(`job ${id} is (PENDING|IN_PROGRESS).*stop-sync is accepted once the job is SYNCING`));
    const offline = await call('POST', '/migrations', validBody({ databases: [{ name: 'default', collections: [{ name: 'offline_probe' }] }] }));
    const notOnline = await call('POST', `/migrations/${offline.body.jobId}/stop-sync`, { confirmWritesStopped: true });
    expect(notOnline.status).toBe(409);
    expect(notOnline.body.error.message).toMatch(/offline migration/);
  });

  it('lists migrations newest first, page by page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      // createdAt has millisecond precision: keep the three apart so "newest first" has one answer.
      const stamp = Date.now();
      while (Date.now() === stamp) await new Promise((resolve) => setTimeout(resolve, 1));
      // Distinct target collections, so the three jobs do not hold the same target lock.
      ids.push((await call('POST', '/migrations', validBody({ databases: [{ name: 'default', collections: [{ name: `listed_${i}` }] }] }))).body.jobId);
    }
    const first = await call('GET', '/migrations?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((j: { jobId: string }) => j.jobId)).toEqual([ids[2], ids[1]]);
    const second = await call('GET', `/migrations?limit=2&nextToken=${encodeURIComponent(first.body.nextToken)}`);
    expect(second.body.items[0].jobId).toBe(ids[0]);
  });

  it('records a workflow that cannot start as a FAILED job, without its internal message', async () => {
    api.workflow.failStart = new Error(`state machine unavailable ${MARKER}`);
    const created = await call('POST', '/migrations', validBody());
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'FAILED', error: { code: 'WORKFLOW_START_FAILED' } });
    expect(created.text).not.toContain('state machine unavailable');
    const stored = await api.jobs.get(created.body.jobId);
    expect(stored?.status).toBe('FAILED');
    expect(stored?.executionArn).toBeUndefined();
    const events = await call('GET', `/migrations/${created.body.jobId}/events`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['JobCreated', 'JobFailed']);
  });

  it('refuses to cancel a job that has ended, naming its status', async () => {
    const created = await call('POST', '/migrations', validBody());
    await api.jobs.update(created.body.jobId, { status: 'SUCCESSFUL', phase: 'DONE' });
    const cancelled = await call('POST', `/migrations/${created.body.jobId}/cancel`);
    expect(cancelled.status).toBe(409);
    expect(cancelled.body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/is SUCCESSFUL/) });
    expect((await api.jobs.get(created.body.jobId))?.status).toBe('SUCCESSFUL');
  });
});

describe('bad requests', () => {
  it.each([
    ['a missing source uri', validBody({ source: { token: 'x' } }), 'source.uri: uri is required'],
    ['an empty source uri', validBody({ source: { uri: '' } }), 'source.uri: uri is required'],
    ['an unknown type', validBody({ type: 'sideways' }), 'type:'],
    ['an unknown top-level field', validBody({ extra: 1 }), 'body: unknown field extra'],
    ['token and password together', validBody({ target: { uri: 'h:1', token: 't', username: 'u', password: 'p' } }), 'target: give either token'],
    ['a collection name Milvus refuses', validBody({ databases: [{ name: 'default', collections: [{ name: '9lives' }] }] }), 'databases[0].collections[0].name: must be 1 to 255'],
    ['two databases in an offline job', validBody({ databases: [{ name: 'a' }, { name: 'b' }] }), 'databases: an offline migration moves one database'],
    ['two collections with one target name', validBody({ databases: [{ name: 'a', collections: [{ name: 'x', targetName: 'y' }, { name: 'y' }] }] }), 'databases[0].collections[1].targetName: target collection y is named twice'],
    ['a shard concurrency out of range', validBody({ options: { shardConcurrency: 500 } }), 'options.shardConcurrency:'],
    ['no body at all', undefined, 'body: body is required'],
    ['a JSON array', [], 'body:'],
  ])('answers 400 to %s and writes nothing', async (_name, body, expected) => {
    const before = await scanTable();
    const answer = await call('POST', '/migrations', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('INVALID_REQUEST');
    expect(answer.body.error.message).toContain(expected);
    expect(answer.body.error.issues.length).toBeGreaterThan(0);
    expect(await scanTable()).toHaveLength(before.length);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const before = await scanTable();
    const answer = await call('POST', '/migrations', '{"type": "offline",');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('MALFORMED_JSON');
    expect(await scanTable()).toHaveLength(before.length);
  });

  it('pages a job\'s collections in key order and shows what they add up to on the job', async () => {
    const created = await call('POST', '/migrations', validBody());
    const jobId: string = created.body.jobId;
    const keys = Array.from({ length: 250 }, (_, i) => `default.c${String(i).padStart(3, '0')}`);
    await api.jobs.putCollections(
      jobId,
      keys.map((key, i) => ({ key, sourceDb: 'default', sourceName: key.slice(8), targetDb: 'default', targetName: key.slice(8), status: i < 50 ? 'VERIFIED' : 'PENDING', rowsTotal: 10, rowsCopied: i < 50 ? 10 : 0, shardCount: 1, attempt: 1 })),
    );
    const job = await call('GET', `/migrations/${jobId}`);
    expect(job.body.collectionSummary).toMatchObject({ total: 250, rowsTotal: 2_500, rowsCopied: 500, byStatus: expect.objectContaining({ VERIFIED: 50, PENDING: 200 }) });
    expect(job.body.progressPercent).toBe(20);
    const seen: string[] = [];
    let next = `/migrations/${jobId}/collections?limit=100`;
    for (;;) {
      const page = await call('GET', next);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c: { key: string }) => c.key));
      if (!page.body.nextToken) break;
      next = `/migrations/${jobId}/collections?limit=100&nextToken=${encodeURIComponent(page.body.nextToken)}`;
    }
    expect(seen).toEqual(keys);
    const first = await call('GET', `/migrations/${jobId}/collections?limit=1`);
    expect(first.body.items).toEqual([{ key: 'default.c000', sourceDb: 'default', sourceName: 'c000', targetDb: 'default', targetName: 'c000', status: 'VERIFIED', rowsTotal: 10, rowsCopied: 10, percent: 100 }]);
    for (const [query, expected] of [
      ['limit=0', 'query.limit: limit must be 1 to 1000'],
      ['limit=1001', 'query.limit: limit must be 1 to 1000'],
      ['limit=ten', 'query.limit: limit must be a whole number'],
      ['cursor=abc', 'cursor'],
      ['nextToken=bm90LWEtdG9rZW4', 'nextToken'],
    ]) {
      const refused = await call('GET', `/migrations/${jobId}/collections?${query}`);
      expect(refused.status, query).toBe(400);
      expect(refused.body.error.message, query).toContain(expected);
    }
    expect((await call('GET', '/migrations/mig-doesnotexist/collections')).status).toBe(404);
  });

  it('answers 413 to a body over 256 KiB', async () => {
    const before = await scanTable();
    const answer = await call('POST', '/migrations', JSON.stringify(validBody({ padding: 'x'.repeat(1024 * 1024) })));
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await scanTable()).toHaveLength(before.length);
  });

  it.each([
    ['GET', '/migrations?limit=0', 400, 'query.limit: limit must be 1 to 100'],
    ['GET', '/migrations?limit=ten', 400, 'query.limit: limit must be a whole number'],
    ['GET', '/migrations?nextToken=bm90LWEtdG9rZW4', 400, 'nextToken:'],
    ['GET', '/migrations/mig-doesnotexist', 404, 'no job with id mig-doesnotexist'],
    ['GET', '/migrations/bad%20id', 400, 'id: must be a job id'],
    ['GET', '/migrations/mig-doesnotexist/events', 404, 'no job with id'],
    ['POST', '/migrations/mig-doesnotexist/cancel', 404, 'no job with id'],
    ['GET', '/nothing-here', 404, 'no route for GET /nothing-here'],
    ['DELETE', '/migrations/mig-1', 405, 'DELETE is not allowed on /migrations/{id}; use GET'],
    ['GET', '/migrations/mig-1/cancel', 405, 'use POST'],
  ])('answers %s %s with %i naming the problem', async (method, path, status, expected) => {
    const before = await scanTable();
    const answer = await call(method, path);
    expect(answer.status).toBe(status);
    expect(answer.body.error.message).toContain(expected);
    expect(await scanTable()).toHaveLength(before.length);
  });

  it('gives the Allow header with a 405', async () => {
    const answer = await call('PUT', '/migrations');
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('POST, GET');
  });

  it('answers an unexpected failure with a generic 500', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const broken = await startApiServer({
      handler: createApiHandler(() => {
        throw new Error(`database password is ${MARKER}`);
      }),
      port: 0,
    });
    try {
      const res = await fetch(`${broken.url}/migrations`);
      const text = await res.text();
      api.responses.push(text);
      expect(res.status).toBe(500);
      expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
      expect(text).not.toContain('database password');
    } finally {
      errors.mockRestore();
      await broken.close();
    }
  });
});

describe('credentials', () => {
  it('never appear in a response, an item of the table or an event', async () => {
    // Make sure there is at least one job with every kind of credential, then look everywhere.
    const created = await call('POST', '/migrations', validBody());
    const list = await call('GET', '/migrations?limit=100');
    for (const job of list.body.items as Array<{ jobId: string }>) {
      await call('GET', `/migrations/${job.jobId}`);
      await call('GET', `/migrations/${job.jobId}/events`);
    }
    const items = await scanTable();
    expect(items.some((item) => item.jobId === created.body.jobId)).toBe(true);
    expect(items.length).toBeGreaterThan(5);
    expect(JSON.stringify(items)).not.toContain(MARKER);
    expect(api.responses.length).toBeGreaterThanOrEqual(4);
    for (const text of api.responses) expect(text).not.toContain(MARKER);
    for (const text of api.responses) expect(text).not.toContain('credentialsRef');
  });
});
