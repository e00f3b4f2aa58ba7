import { describe, expect, it } from 'vitest';
import { requestBodyFromFlags } from '../../cli/requestOptions';
import { CreateMigrationBody } from '../../lib/api/requests';
import { entriesFor, type ChangeEntry, type ChangeLog, MAX_FILTER_BYTES, MAX_KEY_BYTES_PER_ENTRY, MAX_KEYS_PER_ENTRY, splitKeys } from '../../lib/capture/changes';
import { keysOfDeleteFilter } from '../../lib/capture/deleteKeys';
import { GroupCommit } from '../../lib/capture/groupCommit';
import { endpointMode } from '../../lib/capture/writeCapture';

describe('change entries', () => {
  it('split a big write into bounded entries, every key kept once, in order', () => {
    const keys = Array.from({ length: 2 * MAX_KEYS_PER_ENTRY + 5 }, (_, i) => String(i));
    const entries = entriesFor({ db: 'default', collection: 'c', kind: 'upsert-keys', keys });
    expect(entries.length).toBe(3);
    expect(entries.every((e) => (e.keys?.length ?? 0) <= MAX_KEYS_PER_ENTRY)).toBe(true);
    expect(entries.flatMap((e) => e.keys)).toEqual(keys);
  });

  it('bound an entry by the bytes of its keys (long VarChar keys)', () => {
    const long = 'k'.repeat(60_000);
    const groups = splitKeys([long, long, long, long, long, long, long, long, long, long]);
    expect(groups.length).toBeGreaterThan(1);
    for (const g of groups) expect(g.reduce((n, k) => n + k.length, 0)).toBeLessThanOrEqual(MAX_KEY_BYTES_PER_ENTRY);
  });

  it('log a filter too long for an item as a comparison of the collection', () => {
    const [entry] = entriesFor({ db: 'default', collection: 'c', kind: 'delete-filter', filter: `n > ${'1'.repeat(MAX_FILTER_BYTES)}` });
    expect(entry).toEqual({ db: 'default', collection: 'c', kind: 'compare' });
  });
});

describe('keys of a delete filter', () => {
  it('read the forms the SDKs send for a delete by ids', () => {
    expect(keysOfDeleteFilter('id in [1, 2, -3]', 'id')).toEqual(['1', '2', '-3']);
    expect(keysOfDeleteFilter('id in ["a", \'b\\\'c\']', 'id')).toEqual(['a', "b'c"]);
    expect(keysOfDeleteFilter('id == 7', 'id')).toEqual(['7']);
    expect(keysOfDeleteFilter('(id in [9223372036854775807])', 'id')).toEqual(['9223372036854775807']);
  });

  it('leave any other filter to be logged as a filter', () => {
    expect(keysOfDeleteFilter('id in [1, 2] or n > 3', 'id')).toBeNull();
    expect(keysOfDeleteFilter('other in [1]', 'id')).toBeNull();
    expect(keysOfDeleteFilter('id > 5', 'id')).toBeNull();
    expect(keysOfDeleteFilter('id in [1, x]', 'id')).toBeNull();
  });
});

describe('endpoint mode', () => {
  it('fences once the sync is stopping, switches over only when asked', () => {
    expect(endpointMode({ status: 'SYNCING' })).toBe('capture');
    expect(endpointMode({ status: 'CUTTING_OVER', options: { switchover: true } })).toBe('fenced');
    expect(endpointMode({ status: 'SUCCESSFUL' })).toBe('fenced');
    expect(endpointMode({ status: 'SUCCESSFUL', options: { switchover: true } })).toBe('moved');
    expect(endpointMode({ status: 'FAILED' })).toBe('capture');
  });

  it('switches when the drain ends, fences again only while the verification repairs, and stays on the target if the job fails after the switch', () => {
    const options = { switchover: true };
    const switchedAt = '2026-12-04T12:00:00.000Z';
    expect(endpointMode({ status: 'CUTTING_OVER', options, sync: { switchedAt } })).toBe('switched');
    expect(endpointMode({ status: 'CUTTING_OVER', options, sync: { switchedAt, repairFencedAt: switchedAt } })).toBe('fenced');
    expect(endpointMode({ status: 'FAILED', options, sync: { switchedAt, repairFencedAt: switchedAt } })).toBe('switched');
    expect(endpointMode({ status: 'SUCCESSFUL', options, sync: { switchedAt } })).toBe('moved');
  });
});

describe('create --sync-strategy capture', () => {
  const flags = { type: 'online', sourceUri: 'http://s:19530', targetUri: 'http://t:19530', database: 'default' };

  it('asks for the capture strategy and switchover', () => {
    const body = CreateMigrationBody.parse(requestBodyFromFlags({ ...flags, syncStrategy: 'capture', switchover: true }, {}));
    expect(body.options).toMatchObject({ syncStrategy: 'capture', switchover: true, captureWriteTimeoutSeconds: 30 });
    expect(CreateMigrationBody.parse(requestBodyFromFlags(flags, {})).options.syncStrategy).toBe('snapshot-diff');
  });

  it('sets the periodic comparison interval, and refuses a non-number naming the option', () => {
    expect(CreateMigrationBody.parse(requestBodyFromFlags({ ...flags, syncStrategy: 'capture' }, {})).options.comparisonIntervalSeconds).toBe(21_600);
    expect(CreateMigrationBody.parse(requestBodyFromFlags({ ...flags, syncStrategy: 'capture', comparisonInterval: 3600 }, {})).options.comparisonIntervalSeconds).toBe(3600);
    const notANumber = CreateMigrationBody.safeParse(requestBodyFromFlags({ ...flags, syncStrategy: 'capture', comparisonInterval: Number('hourly') }, {})).error?.issues[0];
    expect(notANumber?.path).toEqual(['options', 'comparisonIntervalSeconds']);
  });

  it('refuses switchover without the capture strategy, and capture on an offline job', () => {
    expect(CreateMigrationBody.safeParse(requestBodyFromFlags({ ...flags, switchover: true }, {})).error?.issues[0]?.message).toMatch(/switchover needs syncStrategy capture/);
    expect(CreateMigrationBody.safeParse(requestBodyFromFlags({ ...flags, type: 'offline', syncStrategy: 'capture' }, {})).error?.issues[0]?.message).toMatch(/offline migration has no sync/);
  });
});

describe('group commit', () => {
  /** A log that records its calls and answers when told: the grouping alone is under test here (DynamoDB's side: captureSync.test.ts). */
  function recordingLog() {
    const calls: { entries: number; acks: number; done: () => void }[] = [];
    const log: ChangeLog = {
      append: (_jobId, entries, acks) => new Promise<void>((resolve) => calls.push({ entries: entries.length, acks: acks.length, done: resolve })),
      read: async () => [],
      heartbeat: async () => undefined,
      heartbeats: async () => [],
    };
    return { log, calls };
  }
  const entry = (n: number): ChangeEntry => ({ id: `000000000000${n}-e-${n}`, at: n, db: 'default', collection: 'c', kind: 'upsert-keys', keys: [String(n)] });
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes a lone entry as soon as the event loop turns, with no window to wait out', async () => {
    const { log, calls } = recordingLog();
    const commit = new GroupCommit(log, 'job');
    let durable = false;
    const added = commit.add([entry(1)]).then(() => (durable = true));
    await turn();
    // With a fixed window (3 ms before), nothing was written yet at this point.
    expect(calls.map((c) => c.entries)).toEqual([1]);
    expect(durable).toBe(false);
    calls[0]!.done();
    await added;
    expect(durable).toBe(true);
  });

  it('shares one call among the writes of one turn; a full group goes at once', async () => {
    const { log, calls } = recordingLog();
    const commit = new GroupCommit(log, 'job');
    const first = [commit.add([entry(1)]), commit.add([entry(2)]), commit.add([entry(3)])];
    await turn();
    expect(calls.map((c) => c.entries)).toEqual([3]);
    const full = Array.from({ length: 100 }, (_, i) => entry(10 + i));
    const big = commit.add(full);
    expect(calls.map((c) => c.entries)).toEqual([3, 100]);
    for (const c of calls) c.done();
    await Promise.all([...first, big]);
  });

  it('sends acknowledgements with the next entries, or on their own after their window', async () => {
    const { log, calls } = recordingLog();
    const commit = new GroupCommit(log, 'job', 20);
    const acks = [commit.later([{ id: 'a', outcome: 'applied' }]), commit.later([{ id: 'b', outcome: 'applied' }])];
    await turn();
    expect(calls).toEqual([]);
    const write = commit.add([entry(1)]);
    await turn();
    expect(calls.map((c) => [c.entries, c.acks])).toEqual([[1, 2]]);
    const alone = commit.later([{ id: 'c', outcome: 'applied' }]);
    await turn();
    expect(calls).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(calls.map((c) => [c.entries, c.acks])).toEqual([[1, 2], [0, 1]]);
    for (const c of calls) c.done();
    await Promise.all([...acks, write, alone]);
  });
});
