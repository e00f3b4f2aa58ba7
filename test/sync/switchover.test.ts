import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MigrationService } from '../../lib/api/service';
import type { ChangeLog } from '../../lib/capture/changes';
import { openCluster } from '../../lib/milvus';
import type { Services } from '../../lib/services';
import { verifySync } from '../../lib/sync/verifySync';
import { copiedOnlineJob, tagsById, vector } from '../capture/captureSupport';
import { client, dropCollectionsWithPrefix } from '../support/rows';
import { stepServices } from '../support/stepServices';

/**
 * VerifySync after a switchover, the step driven directly against real milvus-lite clusters and
 * the change log in DynamoDB Local, so that the applications' writes to the target land before
 * the verification for certain (through the endpoint they race it): what the log names is theirs,
 * the rest is repaired from the source.
 */
const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const prefix = `switched_${randomBytes(3).toString('hex')}_`;

let services: Services;
let service: MigrationService;
let changeLog: ChangeLog;

beforeAll(async () => {
  ({ services, service, changeLog } = await stepServices(`jobs-${prefix}`, openCluster));
});

/** The job as DrainChanges leaves it after a switchover: writes confirmed stopped, the endpoints switched. */
async function switchedOver(jobId: string): Promise<void> {
  const at = new Date().toISOString();
  await services.jobs.update(jobId, {
    status: 'CUTTING_OVER',
    writesStoppedAt: at,
    sync: { strategy: 'capture', startedAt: at, deadlineAt: at, cycles: 1, inserted: 0, updated: 0, deleted: 0, switchedAt: at },
  });
}

afterAll(async () => {
  await dropCollectionsWithPrefix(prefix, sourceUri, targetUri);
});

describe('the verification after a switchover', () => {
  it('counts a collection the applications wrote since the switch as matching, keeps their rows, and repairs only what no endpoint logged', async () => {
    const name = `${prefix}docs`;
    const jobId = await copiedOnlineJob({ services, service }, { sourceUri, targetUri, name, rows: 50, options: { syncStrategy: 'capture', switchover: true, rowsPerShard: 100 } });
    await switchedOver(jobId);

    // An application's writes through a switched endpoint: logged (toTarget), then sent to the target.
    const now = Date.now();
    await changeLog.append(jobId, [{ id: `${now}-endpoint-00000001`, at: now, db: 'default', collection: name, kind: 'upsert-keys', keys: ['1001', '7'], toTarget: true }], []);
    const [s, t] = [client(sourceUri), client(targetUri)];
    await t.insert({ collection_name: name, data: [{ id: 1001, tag: 'after-switch', n: 1, vec: vector(1001) }] } as never);
    await t.upsert({ collection_name: name, data: [{ id: 7, tag: 'after-switch', n: 7, vec: vector(7) }] } as never);
    // An application still on the source: no endpoint saw it.
    await s.upsert({ collection_name: name, data: [{ id: 8, tag: 'bypassed', n: 8, vec: vector(8) }] } as never);

    expect(await verifySync(services, { jobId })).toMatchObject({ passed: true });
    const job = (await services.jobs.get(jobId))!;
    // The target holds one row more than the source, rightly: judged by the rows, not the counts.
    expect(job.verification!.collections).toEqual([{ key: `default.${name}`, sourceRows: 50, targetRows: 51, match: true, writtenAfterSwitch: true }]);
    expect(job.sync!.repairFencedAt).toBeUndefined();
    expect(job.warnings.join(' ')).toMatch(new RegExp(`1 row\\(s\\) differed that no capture endpoint logged, e\\.g\\. default\\.${name}:8`));
    await Promise.all([s.closeConnection(), t.closeConnection()]);
    expect(await tagsById(targetUri, name, [7, 8, 1001])).toEqual({ '7': 'after-switch', '8': 'bypassed', '1001': 'after-switch' });
    expect(await tagsById(sourceUri, name, [7, 8, 1001])).toEqual({ '7': 'even', '8': 'bypassed' });
  });

  it('goes on over several invocations when its comparison outlasts one: a shard each, repairs counted across them, every row compared once', async () => {
    const name = `${prefix}long`;
    const jobId = await copiedOnlineJob({ services, service }, { sourceUri, targetUri, name, rows: 50, options: { syncStrategy: 'capture', switchover: true, rowsPerShard: 10, shardConcurrency: 1 } });
    const shards = (await services.jobs.listShards(jobId, `default.${name}`)).length;
    expect(shards).toBeGreaterThanOrEqual(4);
    await switchedOver(jobId);
    // Two writes that bypassed the endpoints, in the first shard and in the last.
    const s = client(sourceUri);
    await s.upsert({ collection_name: name, data: [2, 49].map((id) => ({ id, tag: 'bypassed', n: id, vec: vector(id) })) } as never);
    await s.closeConnection();

    // A deadline already passed: each invocation compares the one shard it must, and says it is not done.
    const answers = [];
    for (let call = 0; call < shards + 2; call++) {
      const answer = await verifySync(services, { jobId }, { deadline: 0 });
      answers.push(answer);
      if (answer.done) break;
    }
    expect(answers).toHaveLength(shards);
    expect(answers.slice(0, -1).every((a) => !a.done)).toBe(true);
    expect(answers.map((a) => a.rowsCompared)).toEqual(Array.from({ length: shards }, (_, i) => Math.min(50, (i + 1) * Math.ceil(50 / shards))));
    expect(answers.at(-1)).toEqual({ done: true, passed: true, rowsCompared: 50 });
    const job = (await services.jobs.get(jobId))!;
    expect(job.sync!.pass).toMatchObject({ purpose: 'afterSwitch', invocations: shards, next: shards, repaired: 2 });
    // Both repairs, made in different invocations, are reported.
    expect(job.warnings.join(' ')).toMatch(new RegExp(`default\\.${name}:2.*default\\.${name}:49`));
    expect(await tagsById(targetUri, name, [2, 49])).toEqual({ '2': 'bypassed', '49': 'bypassed' });
  });
});
