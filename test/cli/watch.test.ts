import { describe, expect, it } from 'vitest';
import { EventFollower } from '../../cli/commands/watch';
import type { EventLine } from '../../cli/output';
import type { CollectionStatus } from '../../lib/jobs/model';
import type { CollectionView, JobView } from '../../lib/api/views';
import { frameLines, LAG_HISTORY, PlainRenderer, sparkline, TtyRenderer, WatchState } from '../../cli/watch';

/** A collection as the API shows it (percent as toJobView computes it). */
const collection = (key: string, status: CollectionStatus, rowsTotal: number, rowsCopied: number): CollectionView => {
  const [sourceDb, sourceName] = key.split('.') as [string, string];
  const percent = rowsTotal > 0 ? Math.min(100, Math.floor((rowsCopied * 1000) / rowsTotal) / 10) : 0;
  return { key, sourceDb, sourceName, targetDb: sourceDb, targetName: sourceName, status, rowsTotal, rowsCopied, percent };
};

const job = ({ copied, ...over }: Partial<JobView> & { copied?: [number, number] } = {}): JobView => {
  const [a, b] = copied ?? [0, 0];
  return {
    jobId: 'mig-1',
    type: 'offline',
    status: 'IN_PROGRESS',
    phase: 'FULL_COPY',
    progressPercent: 0,
    source: { uri: 'source:19530' },
    target: { uri: 'target:19530' },
    collections: [collection('default.books', 'COPYING', 1000, a), collection('default.films', 'PENDING', 600, b)],
    warnings: [],
    createdAt: '2026-01-01T09:59:00Z',
    updatedAt: '2026-01-01T09:59:00Z',
    ...over,
  };
};
const T0 = Date.parse('2026-01-01T10:00:00Z');
// eslint-disable-next-line no-control-regex -- the ANSI escape character
const ESCAPE = /\x1b/;

describe('watch: what successive polls tell', () => {
  it('measures rows per second over the polls and the time left at that rate', () => {
    const state = new WatchState();
    const first = state.update(job({ copied: [100, 0] }), T0);
    expect(first.rowsPerSecond).toBeNull();
    expect(first.etaSeconds).toBeNull();
    const second = state.update(job({ copied: [400, 200] }), T0 + 5_000);
    expect(second.rowsCopied).toBe(600);
    expect(second.rowsTotal).toBe(1600);
    expect(second.rowsPerSecond).toBe(100);
    expect(second.etaSeconds).toBe(10);
    // The window slides: after 30 s the first sample no longer counts.
    state.update(job({ copied: [1000, 200] }), T0 + 20_000);
    const late = state.update(job({ copied: [1000, 500] }), T0 + 40_000);
    expect(late.rowsPerSecond).toBe(Math.round(((1500 - 600) / 35) * 10) / 10);
  });

  it('starts the rate over when a collection is copied again, and has none once the job ended', () => {
    const state = new WatchState();
    state.update(job({ copied: [900, 0] }), T0);
    const recopy = state.update(job({ copied: [0, 0] }), T0 + 2_000);
    expect(recopy.rowsPerSecond).toBeNull();
    expect(state.update(job({ copied: [200, 0] }), T0 + 4_000).rowsPerSecond).toBe(100);
    const done = state.update(job({ copied: [1000, 600], status: 'SUCCESSFUL', phase: 'DONE' }), T0 + 6_000);
    expect(done.rowsPerSecond).toBeNull();
    expect(done.etaSeconds).toBeNull();
  });

  it('keeps the last lag values while the job syncs', () => {
    const state = new WatchState();
    const online = (lag: number | null) => job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', copied: [1000, 600], syncLagSeconds: lag });
    expect(state.update(online(null), T0).lagHistory).toEqual([]);
    let last;
    for (let i = 0; i < LAG_HISTORY + 5; i++) last = state.update(online(i), T0 + i * 1000);
    expect(last!.lagHistory).toHaveLength(LAG_HISTORY);
    expect(last!.lagHistory[0]).toBe(5);
    expect(last!.lagHistory.at(-1)).toBe(LAG_HISTORY + 4);
    expect(last!.syncLagSeconds).toBe(LAG_HISTORY + 4);
  });

  it('draws a sparkline scaled to the largest value', () => {
    expect(sparkline([0, 5, 10])).toBe('▁▅█');
    expect(sparkline([0.2, 0.2])).toBe('▂▂');
    expect(sparkline([])).toBe('');
  });
});

describe('watch: plain lines (not a terminal)', () => {
  it('prints a line only when something changed, events once, and no escape codes', () => {
    let out = '';
    const plain = new PlainRenderer((text) => (out += text));
    const state = new WatchState();
    const created: EventLine = { at: '2026-01-01T10:00:00.000Z', type: 'JobCreated', message: 'offline migration created' };
    plain.render(state.update(job({ copied: [100, 0], progressPercent: 6 }), T0, [created]));
    const firstLines = out.trim().split('\n');
    expect(firstLines).toHaveLength(4);
    expect(firstLines[0]).toMatch(/ event JobCreated: offline migration created$/);
    expect(firstLines[1]).toMatch(/mig-1 IN_PROGRESS phase=FULL_COPY 6% 100\/1,600 rows {2}rate -, time left -$/);
    expect(firstLines[2]).toMatch(/default\.books\s+\[##\.+\]\s+10\.0%\s+100\/1,000 rows {2}COPYING$/);
    out = '';
    plain.render(state.update(job({ copied: [100, 0], progressPercent: 6 }), T0 + 2_000));
    expect(out).toBe('');
    plain.render(state.update(job({ copied: [300, 0], progressPercent: 18 }), T0 + 4_000));
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2); // the job line and the one collection that moved
    expect(lines[0]).toMatch(/300\/1,600 rows {2}50 rows\/s, 26s left$/);
    expect(out).not.toMatch(ESCAPE);
  });

  it('shows the sync lag with its recent values during sync', () => {
    let out = '';
    const plain = new PlainRenderer((text) => (out += text));
    const state = new WatchState();
    for (const [i, lag] of [12, 8.5, 4].entries()) {
      plain.render(state.update(job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', copied: [1000, 600], syncLagSeconds: lag }), T0 + i * 1000));
    }
    expect(out).toMatch(/sync lag 4\.0s \(recent: 12s 8\.5s 4\.0s\)\n$/);
    expect(out.match(/sync lag/g)).toHaveLength(3);
    expect(out).not.toMatch(ESCAPE);
  });
});

describe('watch: a terminal', () => {
  it('redraws its block in place, events scrolling above it, lines cut to the width', () => {
    let out = '';
    const tty = new TtyRenderer({ columns: 60, rows: 30, write: (text) => (out += text) }, 2);
    const state = new WatchState();
    tty.render(state.update(job({ copied: [100, 0] }), T0));
    const first = out.split('\n').slice(0, -1);
    const height = first.length;
    expect(height).toBe(5); // job line, two collections, rows/rate, footer
    // eslint-disable-next-line no-control-regex -- strips ANSI escape sequences
    expect(first.every((line) => line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length <= 59)).toBe(true);
    out = '';
    tty.render(state.update(job({ copied: [500, 0] }), T0 + 2_000, [{ at: '2026-01-01T10:00:02Z', type: 'CollectionCopied', message: 'default.books' }]));
    expect(out.startsWith(`\r\x1b[${height}A\x1b[J`)).toBe(true);
    expect(out.split('\n')[0]).toContain('event CollectionCopied: default.books');
    expect(out).toContain('200 rows/s');
  });

  it('shows the lag history as a sparkline during sync, and keeps the frame within the screen', () => {
    const state = new WatchState();
    const many = Array.from({ length: 50 }, (_, i) => collection(`default.c${i}`, i === 7 ? 'COPYING' : 'COPIED', 10, i === 7 ? 5 : 10));
    state.update(job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', collections: many, syncLagSeconds: 9 }), T0);
    const s = state.update(job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', collections: many, syncLagSeconds: 3 }), T0 + 2_000);
    const lines = frameLines(s, { maxLines: 12, intervalSeconds: 2, now: new Date(T0 + 2_000) });
    expect(lines).toHaveLength(12);
    expect(lines.some((l) => /^ {2}default\.c7 +\[#{10}\.{10}\]/.test(l))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/\.\.\. and 43 more collection\(s\), 43 of them copied/));
    expect(lines).toContainEqual(expect.stringMatching(/sync lag 3\.0s {2}█▃ {2}min 3\.0s max 9\.0s over the last 2 polls/));
  });
});

describe('watch: following the event log', () => {
  it('returns every event once, across polls and page boundaries', async () => {
    const log: EventLine[] = [];
    const add = (n: number) => {
      for (let i = 0; i < n; i++) log.push({ at: `2026-01-01T10:00:${String(log.length).padStart(2, '0')}Z`, type: 'E', message: `event ${log.length}` });
    };
    const requests: Array<string | undefined> = [];
    // Pages of 3 with a token only after a full page, as DynamoDB answers.
    const client = {
      async events(_id: string, query: { limit?: number; nextToken?: string } = {}) {
        requests.push(query.nextToken);
        const start = query.nextToken ? Number(query.nextToken) : 0;
        const items = log.slice(start, start + (query.limit ?? 100));
        return { items, ...(items.length === query.limit ? { nextToken: String(start + items.length) } : {}) };
      },
    };
    const follower = new EventFollower(client, 'mig-1', 3);
    const seen: string[] = [];
    const poll = async () => seen.push(...(await follower.poll()).map((e) => e.message));
    add(2);
    await poll();
    await poll();
    add(2);
    await poll();
    add(5);
    await poll();
    await poll();
    expect(seen).toEqual(log.map((e) => e.message));
    expect(new Set(seen).size).toBe(9);
    // It did not read the log from the start every time.
    expect(requests.filter((token) => token === undefined).length).toBeLessThanOrEqual(3);
    expect(requests.at(-1)).toBe('9');
  });
});
