import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_TTL_SECONDS } from '../../lib/api/service';
import { offlineRequest, startApiFixture, type ApiFixture } from './support/apiFixture';

/** POST /migrations with an Idempotency-Key, over HTTP against DynamoDB Local. */
let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture('idempotency');
});
afterAll(async () => {
  await api?.close();
});

const jobItems = async () => (await api.scanTable()).filter((item) => item.entity === 'JOB');
const keyItem = async (key: string) => (await api.scanTable()).find((item) => item.pk === `IDEMPOTENCY#${key}`);
/** Each test writes its own collection, so the target locks of one test never meet another's. */
const request = (collection: string, extra: Record<string, unknown> = {}) => ({ ...offlineRequest({ collections: [collection] }), ...extra });

describe('Idempotency-Key', () => {
  it('creates one job for a key sent three times: 201 first, then 200 with the same job', async () => {
    const key = randomUUID();
    const before = (await jobItems()).length;
    const savedBefore = api.credentials.saved;

    const first = await api.call('POST', '/migrations', request('repeat'), { 'Idempotency-Key': key });
    const second = await api.call('POST', '/migrations', request('repeat'), { 'idempotency-key': key });
    const third = await api.call('POST', '/migrations', request('repeat'), { 'IDEMPOTENCY-KEY': key });

    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(third.status).toBe(200);
    expect(second.body.jobId).toBe(first.body.jobId);
    expect(third.body).toEqual(second.body);
    expect(second.headers.get('location')).toBe(`/migrations/${first.body.jobId}`);
    expect((await jobItems()).length).toBe(before + 1);
    expect(api.credentials.saved - savedBefore).toBe(2); // source and target, once
    expect(api.workflow.starts.filter((id) => id === first.body.jobId)).toHaveLength(1);
  });

  it('treats the same body with its fields in another order as the same request', async () => {
    const key = randomUUID();
    const body = request('reordered');
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const first = await api.call('POST', '/migrations', body, { 'Idempotency-Key': key });
    const second = await api.call('POST', '/migrations', reordered, { 'Idempotency-Key': key });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body.jobId).toBe(first.body.jobId);
  });

  it('refuses the key with another body: 409 naming the key, nothing created or saved', async () => {
    const key = `key-${randomUUID()}`;
    const first = await api.call('POST', '/migrations', request('differs'), { 'Idempotency-Key': key });
    expect(first.status).toBe(201);
    const before = await api.scanTable();
    const savedBefore = api.credentials.saved;

    const other = await api.call('POST', '/migrations', request('differs', { options: { rowsPerShard: 5 } }), { 'Idempotency-Key': key });

    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('CONFLICT');
    expect(other.body.error.message).toContain(`Idempotency-Key ${key}`);
    expect(other.body.error.message).toMatch(/different request body/);
    expect(await api.scanTable()).toHaveLength(before.length);
    expect(api.credentials.saved).toBe(savedBefore);
  });

  it('stores the job id, a hash of the body and a 24 h TTL under the key, never the body', async () => {
    const key = randomUUID();
    const body = { ...request('stored'), source: { uri: 'source.example:19530', username: 'root', password: 'IdemSecretPw123' } };
    const created = await api.call('POST', '/migrations', body, { 'Idempotency-Key': key });
    const item = await keyItem(key);
    const now = Math.floor(Date.now() / 1000);
    expect(item).toMatchObject({ jobId: created.body.jobId, requestHash: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), entity: 'IDEMPOTENCY' });
    expect(item!.expiresAt).toBeGreaterThan(now + IDEMPOTENCY_TTL_SECONDS - 120);
    expect(item!.expiresAt).toBeLessThanOrEqual(now + IDEMPOTENCY_TTL_SECONDS + 5);
    expect(JSON.stringify(item)).not.toContain('IdemSecretPw123');
    expect(JSON.stringify(item)).not.toContain('source.example');
  });

  it('creates one job when the same key arrives many times at once', async () => {
    const key = randomUUID();
    const before = (await jobItems()).length;
    const savedBefore = api.credentials.saved;
    const answers = await Promise.all(Array.from({ length: 8 }, () => api.call('POST', '/migrations', request('burst'), { 'Idempotency-Key': key })));

    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    // The others got the job (200) or were told the first request is still running (409), never a second job.
    for (const answer of answers.filter((a) => a.status !== 201)) {
      if (answer.status === 200) expect(answer.body.jobId).toBe(answers.find((a) => a.status === 201)!.body.jobId);
      else expect(answer.body.error.message).toMatch(/still being processed/);
    }
    expect((await jobItems()).length).toBe(before + 1);
    expect(api.credentials.saved - savedBefore).toBe(2);
  });

  it('gives the key back when its request created nothing, so a retry with it can succeed', async () => {
    const key = randomUUID();
    const holder = await api.call('POST', '/migrations', request('busy'));
    expect(holder.status).toBe(201);

    const refused = await api.call('POST', '/migrations', request('busy'), { 'Idempotency-Key': key });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain(holder.body.jobId);
    expect(await keyItem(key)).toBeUndefined();

    await api.call('POST', `/migrations/${holder.body.jobId}/cancel`);
    const retried = await api.call('POST', '/migrations', request('busy'), { 'Idempotency-Key': key });
    expect(retried.status).toBe(201);
    expect((await keyItem(key))?.jobId).toBe(retried.body.jobId);
  });

  it.each([
    ['an empty key', ''],
    ['a key with spaces', 'my key'],
    ['a key over 255 characters', 'k'.repeat(256)],
  ])('answers 400 to %s, writing nothing', async (_name, key) => {
    const before = await api.scanTable();
    const answer = await api.call('POST', '/migrations', request('badkey'), { 'Idempotency-Key': key });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/^Idempotency-Key: must be 1 to 255 visible ASCII characters/);
    expect(await api.scanTable()).toHaveLength(before.length);
  });
});
