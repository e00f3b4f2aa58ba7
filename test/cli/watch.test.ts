import { describe, expect, it } from 'vitest';
import { EventFollower } from '../../cli/commands/watch';
import type { EventLine } from '../../cli/output';
import type { CollectionStatus } from '../../lib/jobs/model';
import { summarizeCollections } from '../../lib/jobs/progress';
import type { CollectionView, JobView } from '../../lib/api/views';
import { frameLines, LAG_HISTORY, PlainRenderer, sparkline, TtyRenderer, WatchState } from '../../cli/watch';

/** A collection as the API shows it (percent as toJobView computes it). */
const collection = (key: string, status: CollectionStatus, rowsTotal: number, rowsCopied: number): CollectionView => {
  const [sourceDb, sourceName] = key.split('.') as [string, string];
  const percent = rowsTotal > 0 ? Math.min(100, Math.floor((rowsCopied * 1000) / rowsTotal) / 10) : 0;
  return { key, sourceDb, sourceName, targetDb: sourceDb, targetName: sourceName, status, rowsTotal, rowsCopied, percent };
};

/** The first page of collections each job below was polled with (GET /migrations/{id}/collections). */
const pages = new WeakMap<JobView, CollectionView[]>();

const job = ({ copied, collections, total, ...over }: Partial<JobView> & { copied?: [number, number]; collections?: CollectionView[]; total?: number } = {}): JobView => {
  const [a, b] = copied ?? [0, 0];
  const page = collections ?? [collection('default.books', 'COPYING', 1000, a), collection('default.films', 'PENDING', 600, b)];
  const view: JobView = {
    jobId: 'mig-1',
    type: 'offline',
    status: 'IN_PROGRESS',
    phase: 'FULL_COPY',
    progressPercent: 0,
    source: { uri: 'source:19530' },
    target: { uri: 'target:19530' },
    collectionSummary: { ...summarizeCollections(page), ...(total !== undefined ? { total } : {}) },
    warnings: [],
    createdAt: '2026-01-01T09:59:00Z',
    updatedAt: '2026-01-01T09:59:00Z',
    ...over,
  };
  pages.set(view, page);
  return view;
};
/** One poll: the job and the first page of its collections. */
const update = (state: WatchState, view: JobView, at: number, events: EventLine[] = []) => state.update(view, at, events, pages.get(view) ?? []);
const T0 = Date.parse('2026-01-01T10:00:00Z');
// eslint-disable-next-line no-control-regex -- the ANSI escape character
const ESCAPE = /\x1b/;

describe('watch: what successive polls tell', () => {
  it('measures rows per second over the polls and the time left at that rate', () => {
    const state = new WatchState();
    const first = update(state, job({ copied: [100, 0] }), T0);
    expect(first.rowsPerSecond).toBeNull();
    expect(first.etaSeconds).toBeNull();
    const second = update(state, job({ copied: [400, 200] }), T0 + 5_000);
    expect(second.rowsCopied).toBe(600);
    expect(second.rowsTotal).toBe(1600);
    expect(second.rowsPerSecond).toBe(100);
    expect(second.etaSeconds).toBe(10);
    // The window slides: after 30 s the first sample no longer counts.
    update(state, job({ copied: [1000, 200] }), T0 + 20_000);
    const late = update(state, job({ copied: [1000, 500] }), T0 + 40_000);
    expect(late.rowsPerSecond).toBe(Math.round(((1500 - 600) / 35) * 10) / 10);
  });

  it('starts the rate over when a collection is copied again, and has none once the job ended', () => {
    const state = new WatchState();
    update(state, job({ copied: [900, 0] }), T0);
    const recopy = update(state, job({ copied: [0, 0] }), T0 + 2_000);
    expect(recopy.rowsPerSecond).toBeNull();
    expect(update(state, job({ copied: [200, 0] }), T0 + 4_000).rowsPerSecond).toBe(100);
    const done = update(state, job({ copied: [1000, 600], status: 'SUCCESSFUL', phase: 'DONE' }), T0 + 6_000);
    expect(done.rowsPerSecond).toBeNull();
    expect(done.etaSeconds).toBeNull();
  });

  it('keeps the last lag values while the job syncs', () => {
    const state = new WatchState();
    const online = (lag: number | null) => job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', copied: [1000, 600], syncLagSeconds: lag });
    expect(update(state, online(null), T0).lagHistory).toEqual([]);
    let last;
    for (let i = 0; i < LAG_HISTORY + 5; i++) last = update(state, online(i), T0 + i * 1000);
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
    plain.render(update(state, job({ copied: [100, 0], progressPercent: 6 }), T0, [created]));
    const firstLines = out.trim().split('\n');
    expect(firstLines).toHaveLength(4);
    expect(firstLines[0]).toMatch(/ event JobCreated: offline migration created$/);
    expect(firstLines[1]).toMatch(/mig-1 IN_PROGRESS phase=FULL_COPY 6% 100\/1,600 rows {2}rate -, time left -$/);
    expect(firstLines[2]).toMatch(/default\.books\s+\[##\.+\]\s+10\.0%\s+100\/1,000 rows {2}COPYING$/);
    out = '';
    plain.render(update(state, job({ copied: [100, 0], progressPercent: 6 }), T0 + 2_000));
    expect(out).toBe('');
    plain.render(update(state, job({ copied: [300, 0], progressPercent: 18 }), T0 + 4_000));
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
      plain.render(update(state, job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', copied: [1000, 600], syncLagSeconds: lag }), T0 + i * 1000));
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
    tty.render(update(state, job({ copied: [100, 0] }), T0));
    const first = out.split('\n').slice(0, -1);
    const height = first.length;
    expect(height).toBe(5); // job line, two collections, rows/rate, footer
    // eslint-disable-next-line no-control-regex -- strips ANSI escape sequences
    expect(first.every((line) => line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length <= 59)).toBe(true);
    out = '';
    tty.render(update(state, job({ copied: [500, 0] }), T0 + 2_000, [{ at: '2026-01-01T10:00:02Z', type: 'CollectionCopied', message: 'default.books' }]));
    expect(out.startsWith(`\r\x1b[${height}A\x1b[J`)).toBe(true);
    expect(out.split('\n')[0]).toContain('event CollectionCopied: default.books');
    expect(out).toContain('200 rows/s');
  });

  it('shows the lag history as a sparkline during sync, and keeps the frame within the screen', () => {
    const state = new WatchState();
    const many = Array.from({ length: 50 }, (_, i) => collection(`default.c${i}`, i === 7 ? 'COPYING' : 'COPIED', 10, i === 7 ? 5 : 10));
    update(state, job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', collections: many, syncLagSeconds: 9 }), T0);
    const s = update(state, job({ type: 'online', status: 'SYNCING', phase: 'INCREMENTAL_SYNC', collections: many, syncLagSeconds: 3 }), T0 + 2_000);
    const lines = frameLines(s, { maxLines: 12, intervalSeconds: 2, now: new Date(T0 + 2_000) });
    expect(lines).toHaveLength(12);
    expect(lines.some((l) => /^ {2}default\.c7 +\[#{10}\.{10}\]/.test(l))).toBe(true);
    expect(lines).toContainEqual(expect.stringMatching(/\.\.\. and 43 more collection\(s\), 43 of them copied/));
    expect(lines).toContainEqual(expect.stringMatching(/sync lag 3\.0s {2}█▃ {2}min 3\.0s max 9\.0s over the last 2 polls/));
  });

  it('counts the collections past the first page from the job summary', () => {
    const state = new WatchState();
    const page = Array.from({ length: 100 }, (_, i) => collection(`default.c${String(i).padStart(5, '0')}`, i === 3 ? 'COPYING' : 'VERIFIED', 10, i === 3 ? 5 : 10));
    const view = job({ collections: page, total: 10_000 });
    view.collectionSummary.byStatus = { ...view.collectionSummary.byStatus, VERIFIED: 9_000, PENDING: 999 };
    const lines = frameLines(update(state, view, T0), { maxLines: 12, intervalSeconds: 2, now: new Date(T0) });
    expect(lines).toHaveLength(12);
    expect(lines.some((l) => /^ {2}default\.c00003 +\[#{10}\.{10}\]/.test(l))).toBe(true);
    // 8 shown (the copying one among them), 9,992 more, of which 9,000 - 7 shown were copied.
    expect(lines).toContainEqual(expect.stringMatching(/\.\.\. and 9992 more collection\(s\), 8993 of them copied/));
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
