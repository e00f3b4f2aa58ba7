import { describe, expect, it } from 'vitest';
import { MAX_RECORDED_CHANGED_SHARDS } from '../../lib/jobs/model';
import { comparedBefore, passOf, startPass, withShard, type ShardCompared } from '../../lib/sync/comparisonPass';

const shard = (position: number, changed = 0): ShardCompared => ({ position, key: `default.c#${position}`, rowsCompared: 10, inserted: changed, updated: 0, deleted: 0, sampleKeys: changed ? [`default.c:${position}`] : [] });

describe('the checkpoint of a comparison of every row', () => {
  it('keeps shards compared out of order ahead of the first gap, and moves past them once the gap is filled', () => {
    let pass = startPass('verify', new Date('2026-12-04T00:00:00Z'), 5);
    pass = withShard(pass, shard(2));
    expect(pass).toMatchObject({ next: 0, ahead: [2], rowsCompared: 10 });
    pass = withShard(pass, shard(0));
    expect(pass).toMatchObject({ next: 1, ahead: [2] });
    expect([0, 1, 2, 3, 4].map((p) => comparedBefore(pass, p))).toEqual([true, false, true, false, false]);
    pass = withShard(pass, shard(1, 3));
    expect(pass).toMatchObject({ next: 3, ahead: [], rowsCompared: 30, inserted: 3, changedShards: ['default.c#1'], sampleKeys: ['default.c:1'] });
  });

  it('lists changed shards up to one past the limit, which says "too many to list"', () => {
    let pass = startPass('drain', new Date(), MAX_RECORDED_CHANGED_SHARDS + 10);
    for (let p = 0; p < MAX_RECORDED_CHANGED_SHARDS + 10; p++) pass = withShard(pass, shard(p, 1));
    expect(pass.changedShards).toHaveLength(MAX_RECORDED_CHANGED_SHARDS + 1);
    expect(pass.sampleKeys).toHaveLength(10);
    expect(pass.next).toBe(MAX_RECORDED_CHANGED_SHARDS + 10);
  });

  it('resumes a pass of the cutover only after the stop-sync confirmation it followed, and only for its own purpose', () => {
    const pass = startPass('verify', new Date('2026-12-04T10:00:00Z'), 3);
    expect(passOf({ sync: { pass } as never, writesStoppedAt: '2026-12-04T09:59:00Z' }, 'verify')).toBe(pass);
    expect(passOf({ sync: { pass } as never, writesStoppedAt: '2026-12-04T09:59:00Z' }, 'drain')).toBeUndefined();
    // A resumed job confirmed writes stopped again later: its cutover starts its own comparison.
    expect(passOf({ sync: { pass } as never, writesStoppedAt: '2026-12-04T11:00:00Z' }, 'verify')).toBeUndefined();
    const sync = startPass('sync', new Date('2026-12-04T10:00:00Z'), 3);
    expect(passOf({ sync: { pass: sync } as never }, 'sync')).toBe(sync);
  });
});
