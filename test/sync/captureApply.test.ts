import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationService } from '../../lib/api/service';
import type { JobWithCollections } from '../../lib/jobs/model';
import { openCluster } from '../../lib/milvus';
import { loadActiveJob, withClusters } from '../../lib/migration/jobContext';
import type { Services } from '../../lib/services';
import { copyKeys } from '../../lib/sync/captureStrategy';
import { copiedOnlineJob, tagsById, vector } from '../capture/captureSupport';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { client, dropCollectionsWithPrefix, expectSameRows } from '../support/rows';
import { stepServices } from '../support/stepServices';

/**
 * How the capture strategy writes the keys a cycle applies, against real milvus-lite servers (the
 * target behind a proxy that counts calls): few large requests. A write on milvus-lite costs a
 * scan of the collection whatever its size (at 1,000,000 rows an upsert of 1 row took 507 ms, of
 * 256 rows 710 ms), so at that size a cycle's length, the lag, follows its number of writes.
 */
const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `apply_${randomBytes(3).toString('hex')}_`;

let services: Services;
let service: MigrationService;
let target: FaultProxy;

beforeAll(async () => {
  ({ services, service } = await stepServices(`jobs-${prefix}`, openCluster));
  target = await startFaultProxy({ upstream: targetUri, seed: 1 });
});

afterAll(async () => {
  await target?.stop();
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

/**
 * A copied online job of `rows` rows whose keys 1..changed change on the source and whose keys past
 * `keep` go; then copyKeys applies those keys (with the job as `asJob` makes it). What it counted,
 * and the target's calls by method meanwhile.
 */
async function changeAndApply(name: string, sizes: { rows: number; changed: number; keep: number }, asJob: (job: JobWithCollections) => JobWithCollections = (job) => job) {
  const jobId = await copiedOnlineJob({ services, service }, { sourceUri, targetUri: target.uri, name, rows: sizes.rows, options: { syncStrategy: 'capture' } });
  const s = client(sourceUri);
  const changed = Array.from({ length: sizes.changed }, (_, i) => i + 1);
  await s.upsert({ collection_name: name, data: changed.map((id) => ({ id, tag: 'changed', n: -id, vec: vector(-id) })) } as never);
  await s.delete({ collection_name: name, filter: `id > ${sizes.keep}` } as never);
  await s.closeConnection();

  const job = asJob(await loadActiveJob(services, jobId));
  const before = { ...target.callsByMethod };
  const keys = new Set([...changed, ...Array.from({ length: sizes.rows - sizes.keep }, (_, i) => sizes.keep + 1 + i)].map(String));
  const applied = await withClusters(services, job, (clusters) => copyKeys({ services, job, clusters, apply: true }, job.collections[`default.${name}`]!, keys));
  const calls = (method: string) => (target.callsByMethod[method] ?? 0) - (before[method] ?? 0);
  return { applied, calls };
}

describe('the capture strategy applying logged keys', () => {
  it('re-reads and writes 600 changed keys in one request each way, as many rows as options.batchBytes holds', async () => {
    const name = `${prefix}docs`;
    // 600 rows change on the source, 50 go.
    const { applied, calls } = await changeAndApply(name, { rows: 700, changed: 600, keep: 650 });

    expect(applied).toEqual({ read: 650, written: 600, deleted: 50 });
    // One delete of all 650 keys, then one insert: one scan of the collection on milvus-lite, where
    // an upsert beside a delete was two (session 12), and three upserts of 256 keys and three deletes before that.
    expect(calls('Delete')).toBe(1);
    expect(calls('Insert')).toBe(1);
    expect(calls('Upsert')).toBe(0);
    expect(await tagsById(targetUri, name, [1, 600, 651])).toEqual({ '1': 'changed', '600': 'changed' });
    await expectSameRows(sourceUri, name, targetUri, name);
  });

  it('upserts after the switchover, when the applications read the target: no row is missing there between two calls', async () => {
    const name = `${prefix}switched`;
    const switched = (job: JobWithCollections) => ({ ...job, sync: { ...job.sync!, switchedAt: new Date().toISOString() } });
    const { applied, calls } = await changeAndApply(name, { rows: 100, changed: 40, keep: 90 }, switched);

    expect(applied).toEqual({ read: 50, written: 40, deleted: 10 });
    expect(calls('Upsert')).toBe(1);
    expect(calls('Delete')).toBe(1);
    expect(calls('Insert')).toBe(0);
    await expectSameRows(sourceUri, name, targetUri, name);
  });
});
