import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationService } from '../../lib/api/service';
import type { ChangeLog } from '../../lib/capture/changes';
import { openCluster } from '../../lib/milvus';
import type { Services } from '../../lib/services';
import { startSync } from '../../lib/sync/startSync';
import { syncChanges } from '../../lib/sync/syncChanges';
import { copiedOnlineJob, tagsById, vector } from '../capture/captureSupport';
import { client, dropCollectionsWithPrefix, expectSameRows } from '../support/rows';
import { startFaultProxy, type FaultProxy } from '../support/faultProxy';
import { stepServices } from '../support/stepServices';

/**
 * The capture strategy's comparison of every row runs beside the log's cycles, not in their place:
 * SyncChanges driven directly against real milvus-lite clusters and the change log in DynamoDB
 * Local, with a budget already spent, so each invocation compares exactly one shard.
 */
const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `beside_${randomBytes(3).toString('hex')}_`;

let services: Services;
let service: MigrationService;
let changeLog: ChangeLog;
let slowSource: FaultProxy | undefined;

beforeAll(async () => {
  ({ services, service, changeLog } = await stepServices(`jobs-${prefix}`, openCluster));
});

afterAll(async () => {
  await slowSource?.stop();
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('the first comparison of every row, beside the log', () => {
  it('lets the log be applied from the first invocation on, hands what it finds to the log, and reports only what no endpoint logged', async () => {
    const name = `${prefix}docs`;
    // 50 rows in 5 shards of 10, one compared at a time; an alert threshold the lag is always under.
    const jobId = await copiedOnlineJob({ services, service }, { sourceUri, targetUri, name, rows: 50, options: { syncStrategy: 'capture', rowsPerShard: 10, shardConcurrency: 1, lagAlertSeconds: 3600 } });
    await startSync(services, { jobId });

    const s = client(sourceUri);
    // A write through an endpoint: logged, acknowledged, applied on the source (key 3, first shard).
    const now = Date.now();
    const id = `${now}-endpoint-00000001`;
    await changeLog.append(jobId, [{ id, at: now, db: 'default', collection: name, kind: 'upsert-keys', keys: ['3'] }], []);
    await s.upsert({ collection_name: name, data: [{ id: 3, tag: 'logged', n: 3, vec: vector(3) }] } as never);
    await changeLog.append(jobId, [], [{ id, outcome: 'applied' }]);
    // An application still connected to the source: no endpoint saw it (key 48, last shard).
    await s.upsert({ collection_name: name, data: [{ id: 48, tag: 'bypassed', n: 48, vec: vector(48) }] } as never);
    await s.closeConnection();

    expect(await syncChanges(services, { jobId }, { deadline: 0 })).toMatchObject({ state: 'SYNCING' });
    let job = (await services.jobs.get(jobId))!;
    // One shard of five compared, and the log applied already: before, no cycle ran until every row was compared.
    expect(job.sync!.pass).toMatchObject({ purpose: 'sync', shards: 5, next: 1 });
    expect(job.sync!.cycles).toBeGreaterThanOrEqual(1);
    expect(job.sync!.changeLogCheckpoint).toBeGreaterThan(now - 5_000);
    expect(await tagsById(targetUri, name, [3, 48])).toEqual({ '3': 'logged', '48': 'odd' });
    // The lag is low, but rows that bypassed the endpoints may still differ: no alert yet.
    expect(job.sync!.lastComparisonAt).toBeUndefined();
    expect(job.sync!.lagAlertSentAt).toBeUndefined();

    let invocations = 1;
    while (!job.sync!.lastComparisonAt && invocations < 10) {
      await syncChanges(services, { jobId }, { deadline: 0 });
      invocations += 1;
      job = (await services.jobs.get(jobId))!;
    }
    expect(invocations).toBe(5);
    expect(job.sync!.pass).toBeUndefined();
    expect(job.sync!.lagAlertSentAt).toBeDefined();
    expect(await tagsById(targetUri, name, [3, 48])).toEqual({ '3': 'logged', '48': 'bypassed' });
    // The comparison wrote nothing itself: it appended the key it found to the log, and a cycle applied it.
    const found = (await changeLog.read(jobId, 0)).filter((e) => e.found).flatMap((e) => e.keys ?? []);
    expect(found).toContain('48');
    // Key 3 may have differed when its shard was compared, but the log names it: only 48 is reported.
    const warnings = job.warnings.filter((w) => w.includes('without passing through the capture endpoint'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`1 row\\(s\\) differed that no capture endpoint logged, e\\.g\\. default\\.${name}:48 \\(first comparison\\)`));
    await expectSameRows(sourceUri, name, targetUri, name);
  });

  it('goes on applying the log past the budget while the shard the comparison has in flight ends', async () => {
    const name = `${prefix}slow`;
    slowSource = await startFaultProxy({ upstream: sourceUri, seed: 16 });
    // One shard of 400 rows, compared 10 rows a read; once the copy is done every call to the
    // source waits 150 ms: a comparison of several seconds, a cycle of a few calls.
    const jobId = await copiedOnlineJob(
      { services, service },
      { sourceUri: slowSource.uri, targetUri, name, rows: 400, options: { syncStrategy: 'capture', rowsPerShard: 400, batchRows: 10, lagAlertSeconds: 3600 } },
    );
    await startSync(services, { jobId });
    slowSource.setLatency({ rate: 1, minMs: 150, maxMs: 150 });

    const lags: number[] = [];
    expect(await syncChanges(services, { jobId }, { deadline: 0, onCycleRecorded: (lag) => lags.push(lag) })).toMatchObject({ state: 'SYNCING' });
    const job = (await services.jobs.get(jobId))!;
    // The invocation ran until its comparison ended and was recorded...
    expect(job.sync!.lastComparisonAt).toBeDefined();
    // ...and cycles applied the log meanwhile. (The first cycle past the budget used to wait for
    // the shard to end: one cycle in all, and a lag as long as the rest of the shard's scan.)
    expect(job.sync!.cycles).toBeGreaterThanOrEqual(2);
    expect(lags.length).toBe(job.sync!.cycles);
    await expectSameRows(sourceUri, name, targetUri, name);
  });
});
