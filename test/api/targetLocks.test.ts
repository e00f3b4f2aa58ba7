import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetLockedError } from '../../lib/jobs/errors';
import { normaliseClusterUri } from '../../lib/jobs/targetLocks';
import type { ClusterCredentials } from '../../lib/cluster';
import type { MilvusGateway } from '../../lib/milvus';
import { finalize } from '../../lib/migration/finalize';
import { recordFailure } from '../../lib/migration/recordFailure';
import type { Services } from '../../lib/services';
import { offlineRequest, startApiFixture, type ApiFixture } from './support/apiFixture';
import { EventLogOnlyNotifier } from '../../lib/notifications/notifier';

/** One writer per target collection: lock items taken with the job, released when it ends (DynamoDB Local). */
let api: ApiFixture;
beforeAll(async () => {
  api = await startApiFixture('locks');
});
afterAll(async () => {
  await api?.close();
});

/** Each test uses its own target cluster uri, so tests never share a lock. */
let clusters = 0;
const freshTarget = () => `cluster${++clusters}-${Date.now()}.example:19530`;
const create = (body: unknown) => api.call('POST', '/migrations', body);
const lockItems = async () => (await api.scanTable()).filter((item) => String(item.pk).startsWith('LOCK#'));

function stepServices(): Services {
  return {
    jobs: api.jobs,
    credentials: api.credentials,
    openCluster: (_c: ClusterCredentials): MilvusGateway => {
      throw new Error('no cluster in this test');
    },
    notifier: new EventLogOnlyNotifier(),
    now: () => new Date(),
  };
}

describe('one writer per target collection', () => {
  it('refuses a second job on the same target collection with 409 naming the collection and the holder', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri, collections: ['books', 'films'] }));
    expect(first.status).toBe(201);
    const before = await api.scanTable();
    const released = api.credentials.released;

    const second = await create(offlineRequest({ targetUri, collections: ['films'] }));

    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('CONFLICT');
    expect(second.body.error.message).toContain(`collection default.films on ${targetUri}`);
    expect(second.body.error.message).toContain(`job ${first.body.jobId}`);
    expect(await api.scanTable()).toHaveLength(before.length);
    expect(api.credentials.released - released).toBe(2); // the refused job's credentials are forgotten
  });

  it('takes a lock item per target collection, naming the job', async () => {
    const targetUri = freshTarget();
    const created = await create(offlineRequest({ targetUri, db: 'analytics', collections: ['a', 'b'] }));
    const mine = (await lockItems()).filter((item) => item.jobId === created.body.jobId).map((item) => item.pk);
    expect(mine.sort()).toEqual([`LOCK#${targetUri}#analytics.a`, `LOCK#${targetUri}#analytics.b`]);
  });

  it('lets jobs on other collections, other target databases and other clusters run side by side', async () => {
    const targetUri = freshTarget();
    expect((await create(offlineRequest({ targetUri, collections: ['books'] }))).status).toBe(201);
    expect((await create(offlineRequest({ targetUri, collections: ['films'] }))).status).toBe(201);
    expect((await create(offlineRequest({ targetUri, db: 'other', collections: ['books'] }))).status).toBe(201);
    expect((await create(offlineRequest({ targetUri: freshTarget(), collections: ['books'] }))).status).toBe(201);
  });

  it('sees one cluster behind different spellings of its uri', async () => {
    const targetUri = freshTarget();
    const [host] = targetUri.split(':');
    expect((await create(offlineRequest({ targetUri: `http://${host!.toUpperCase()}:19530/`, collections: ['books'] }))).status).toBe(201);
    const again = await create(offlineRequest({ targetUri: `${host}:19530`, collections: ['books'] }));
    expect(again.status).toBe(409);
    expect(normaliseClusterUri(`http://root:pw@${host!.toUpperCase()}/`)).toBe(`${host}:19530`);
    expect(normaliseClusterUri(`https://${host}`)).toBe(`${host}:443`);
  });

  it('locks the whole target database when no collections are named, against collection locks both ways', async () => {
    const targetUri = freshTarget();
    const whole = await create(offlineRequest({ targetUri }));
    expect(whole.status).toBe(201);
    const collection = await create(offlineRequest({ targetUri, collections: ['books'] }));
    expect(collection.status).toBe(409);
    expect(collection.body.error.message).toContain(`database default (all collections) on ${targetUri}`);
    expect(collection.body.error.message).toContain(whole.body.jobId);

    const otherUri = freshTarget();
    const first = await create(offlineRequest({ targetUri: otherUri, collections: ['books'] }));
    const wholeLater = await create(offlineRequest({ targetUri: otherUri }));
    expect(wholeLater.status).toBe(409);
    expect(wholeLater.body.error.message).toContain(`collection default.books on ${otherUri}`);
    expect(wholeLater.body.error.message).toContain(first.body.jobId);
  });

  it('locks the whole target cluster for an online job moving every database, against any other lock on it both ways, and lets go when it ends', async () => {
    const onlineAll = (targetUri: string) => ({ ...offlineRequest({ targetUri }), type: 'online', databases: undefined });
    const targetUri = freshTarget();
    const cluster = await create(onlineAll(targetUri));
    expect(cluster.status).toBe(201);
    expect((await lockItems()).filter((item) => item.jobId === cluster.body.jobId).map((item) => item.pk)).toEqual([`LOCK#${targetUri}#*`]);
    for (const body of [offlineRequest({ targetUri, collections: ['books'] }), offlineRequest({ targetUri, db: 'other' }), onlineAll(targetUri)]) {
      const refused = await create(body);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toContain(`cluster ${targetUri} (all databases)`);
      expect(refused.body.error.message).toContain(cluster.body.jobId);
    }
    // Another cluster is another matter.
    expect((await create(offlineRequest({ targetUri: freshTarget(), collections: ['books'] }))).status).toBe(201);

    const otherUri = freshTarget();
    const first = await create(offlineRequest({ targetUri: otherUri, db: 'sales', collections: ['orders'] }));
    const clusterLater = await create(onlineAll(otherUri));
    expect(clusterLater.status).toBe(409);
    expect(clusterLater.body.error.message).toContain(`collection sales.orders on ${otherUri}`);
    expect(clusterLater.body.error.message).toContain(first.body.jobId);

    await recordFailure(stepServices(), { jobId: cluster.body.jobId, error: { Error: 'PermanentError', Cause: '[SOURCE_UNREACHABLE] down' } });
    expect((await lockItems()).filter((item) => item.jobId === cluster.body.jobId)).toEqual([]);
    expect((await create(offlineRequest({ targetUri, collections: ['books'] }))).status).toBe(201);
  });

  it('gives exactly one of many simultaneous jobs the collection', async () => {
    const targetUri = freshTarget();
    const answers = await Promise.all(Array.from({ length: 6 }, () => create(offlineRequest({ targetUri, collections: ['hot'] }))));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
  });

  it('releases the locks when the job is cancelled', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri, collections: ['books'] }));
    expect((await api.call('POST', `/migrations/${first.body.jobId}/cancel`)).status).toBe(200);
    expect((await lockItems()).filter((item) => item.jobId === first.body.jobId)).toEqual([]);
    expect((await create(offlineRequest({ targetUri, collections: ['books'] }))).status).toBe(201);
  });

  it('releases the locks when Finalize ends the job', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri, collections: ['books'] }));
    await api.jobs.update(first.body.jobId, { status: 'IN_PROGRESS' });
    await finalize(stepServices(), { jobId: first.body.jobId });
    expect((await api.jobs.get(first.body.jobId))?.status).toBe('SUCCESSFUL');
    expect((await lockItems()).filter((item) => item.jobId === first.body.jobId)).toEqual([]);
  });

  it('releases the locks when RecordFailure ends the job, the whole-database form included', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri }));
    await recordFailure(stepServices(), { jobId: first.body.jobId, error: { Error: 'PermanentError', Cause: '[SOURCE_UNREACHABLE] down' } });
    expect((await api.jobs.get(first.body.jobId))?.status).toBe('FAILED');
    expect((await lockItems()).filter((item) => item.jobId === first.body.jobId)).toEqual([]);
    expect((await create(offlineRequest({ targetUri, collections: ['books'] }))).status).toBe(201);
  });

  it('takes over a lock left by a job that ended without releasing it', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri, collections: ['books'] }));
    const whole = await create(offlineRequest({ targetUri, db: 'db2' }));
    // Ended behind the store's back: the locks stay, their holders are terminal.
    await api.jobs.update(first.body.jobId, { status: 'FAILED' });
    await api.jobs.update(whole.body.jobId, { status: 'SUCCESSFUL' });
    const second = await create(offlineRequest({ targetUri }));
    expect(second.status).toBe(201);
    expect((await create(offlineRequest({ targetUri, db: 'db2', collections: ['x'] }))).status).toBe(201);
    expect((await lockItems()).some((item) => item.jobId === first.body.jobId)).toBe(false);
  });

  it('locks up to 90 collections one by one in one transaction, and the whole database past that', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    const targetUri = freshTarget();
    const ninety = await create(offlineRequest({ targetUri, collections: names(90) }));
    expect(ninety.status).toBe(201);
    expect((await lockItems()).filter((item) => item.jobId === ninety.body.jobId)).toHaveLength(90);

    const otherUri = freshTarget();
    const many = await create(offlineRequest({ targetUri: otherUri, collections: names(91) }));
    expect(many.status).toBe(201);
    expect((await lockItems()).filter((item) => item.jobId === many.body.jobId).map((item) => item.pk)).toEqual([`LOCK#${otherUri}#default.*`]);
  });

  it('raises a typed TargetLockedError from the store', async () => {
    const targetUri = freshTarget();
    const first = await create(offlineRequest({ targetUri, collections: ['books'] }));
    const job = (await api.jobs.get(first.body.jobId))!;
    const error = await api.jobs.create({ ...job, jobId: `${job.jobId}-2` }, { lockTargets: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetLockedError);
    expect(error).toMatchObject({ holderJobId: job.jobId, scope: { uri: targetUri, db: 'default', collection: 'books' } });
    expect(await api.jobs.get(`${job.jobId}-2`)).toBeUndefined();
  });
});
