import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { JobOptions, type JobWithCollections, type ShardRecord } from '../../lib/jobs/model';
import { createCollection, describeCollection, translateSchema } from '../../lib/milvus';
import type { Services } from '../../lib/services';
import { SnapshotDiffStrategy } from '../../lib/sync/snapshotDiffStrategy';
import { createRichCollection, DB, indexAndLoad, insertRows, RICH_INDEXES, richRows } from '../milvus/helpers';
import { testCluster } from '../support/testCluster';
import { dropCollectionsWithPrefix, expectSameRows } from '../support/rows';

/** One pass of the snapshot-diff strategy over many shards, on two real milvus-lite servers. */

const PREFIX = `sdiff_${randomBytes(3).toString('hex')}`;
const sourceUri = inject('milvusSourceUri');
const targetUri = inject('milvusTargetUri');
const source = testCluster({ uri: sourceUri });
const target = testCluster({ uri: targetUri });

afterAll(async () => {
  await dropCollectionsWithPrefix(PREFIX, sourceUri, targetUri);
  await Promise.all([source.close(), target.close()]);
});

describe('SnapshotDiffStrategy.runCycle', () => {
  it('takes every shard exactly once while the workers ask, slowly, whether to abandon the pass', async () => {
    const name = `${PREFIX}_c`;
    const ids = Array.from({ length: 90 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await createRichCollection(source.client(DB), name);
    await insertRows(source.client(DB), name, richRows(ids));
    await indexAndLoad(source.client(DB), name, RICH_INDEXES);
    const { spec } = translateSchema(await describeCollection(source, DB, name), { targetName: `${name}_t`, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
    await createCollection(target, DB, spec);

    // 9 shards of 10 keys for 4 workers: several workers come back for the last shards at once.
    const bounds = [null, ...ids.filter((_, i) => i % 10 === 9).slice(0, -1), null];
    const shards = bounds.slice(1).map(
      (upper, index): ShardRecord => ({ jobId: 'j', collectionKey: 'k', index, lowerExclusive: bounds[index] ?? null, upperInclusive: upper, checkpoint: null, rowsCopied: 0, done: true, attempt: 1, updatedAt: '' }),
    );
    const kept: string[] = [];
    const services = {
      jobs: { listShards: async () => shards, setShardDigest: async (_job: string, key: string, index: number, _attempt: number, digest: { epoch: string }) => void kept.push(`${key}#${index}@${digest.epoch}`) },
      now: () => new Date().toISOString(),
    } as unknown as Services;
    const job = {
      jobId: 'j',
      options: JobOptions.parse({ shardConcurrency: 4 }),
      sync: { digestEpoch: 'e1' },
      collections: { k: { key: 'k', sourceDb: DB, sourceName: name, targetDb: DB, targetName: `${name}_t`, status: 'COPIED', rowsTotal: 90, rowsCopied: 90, shardCount: 9, attempt: 1 } },
    } as unknown as JobWithCollections;
    let asked = 0;
    const abandon = async () => {
      asked += 1;
      await new Promise((r) => setTimeout(r, 5 + (asked % 4) * 7));
      return false;
    };

    const outcome = await new SnapshotDiffStrategy().runCycle({ services, job, clusters: { source, target } as never, apply: true, abandon });
    expect(outcome.rowsCompared).toBe(90);
    expect(outcome.inserted).toBe(90);
    // Each shard's digest kept once, on its own item, in the sync's epoch.
    expect(kept.sort()).toEqual(shards.map((s) => `k#${s.index}@e1`).sort());
    await expectSameRows(sourceUri, name, targetUri, `${name}_t`);
  });
});
