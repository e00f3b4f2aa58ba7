import type { CollectionView } from '../lib/api/views';
import { bar, formatCollection, formatJobSummary, formatSeconds, type EventLine, type JobView } from './output';

/** How far back the rows per second look: long enough to smooth batches, short enough to follow changes. */
const RATE_WINDOW_MS = 30_000;
/** How many lag measurements the history keeps. */
export const LAG_HISTORY = 30;

const TERMINAL = ['SUCCESSFUL', 'FAILED', 'CANCELLED'];
const SYNC_STATUSES = ['SYNCING', 'CUTTING_OVER'];
/** Events that close a job's log; the job record changes status just before they are written. */
export const TERMINAL_EVENTS = ['JobSucceeded', 'JobFailed', 'JobCancelled'];

export const isTerminalStatus = (status: string): boolean => TERMINAL.includes(status);

/** What one poll shows: the job view, plus what only successive polls can tell. */
export interface Snapshot {
  /** When the poll answered (ISO time). */
  at: string;
  job: JobView;
  /** The first page of the job's collections (GET /migrations/{id}/collections), in key order. */
  collections: CollectionView[];
  rowsCopied: number;
  rowsTotal: number;
  /** Rows copied per second over the last RATE_WINDOW_MS; null until two polls are apart. */
  rowsPerSecond: number | null;
  /** Seconds left at that rate; null when unknown (no rate yet, nothing moving, totals not planned). */
  etaSeconds: number | null;
  /** Online: the job's syncLagSeconds as the API gave it (null when not measured yet or offline). */
  syncLagSeconds: number | null;
  /** The last LAG_HISTORY lag values, oldest first. */
  lagHistory: number[];
  /** Events that arrived since the previous poll, oldest first. */
  events: EventLine[];
}

/** Keeps what successive polls of one job tell: throughput, time left, lag history. */
export class WatchState {
  private samples: Array<{ at: number; rows: number }> = [];
  private lags: number[] = [];

  update(job: JobView, atMs: number, events: EventLine[] = [], collections: CollectionView[] = []): Snapshot {
    const { rowsCopied, rowsTotal } = job.collectionSummary;
    // A re-copy starts a collection over: the rate restarts with it.
    const last = this.samples.at(-1);
    if (last && rowsCopied < last.rows) this.samples = [];
    this.samples.push({ at: atMs, rows: rowsCopied });
    while (this.samples.length > 2 && atMs - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const seconds = (atMs - first.at) / 1000;
    const terminal = isTerminalStatus(job.status);
    const rowsPerSecond = seconds >= 0.05 && !terminal ? (rowsCopied - first.rows) / seconds : null;
    const remaining = rowsTotal - rowsCopied;
    const etaSeconds = terminal || rowsTotal === 0 ? null : remaining <= 0 ? 0 : rowsPerSecond && rowsPerSecond > 0 ? remaining / rowsPerSecond : null;
    const lag = typeof job.syncLagSeconds === 'number' ? job.syncLagSeconds : null;
    if (lag !== null && !terminal) {
      this.lags.push(lag);
      if (this.lags.length > LAG_HISTORY) this.lags.shift();
    }
    return {
      at: new Date(atMs).toISOString(),
      job,
      collections,
      rowsCopied,
      rowsTotal,
      rowsPerSecond: rowsPerSecond === null ? null : Math.round(rowsPerSecond * 10) / 10,
      etaSeconds: etaSeconds === null ? null : Math.round(etaSeconds),
      syncLagSeconds: lag,
      lagHistory: [...this.lags],
      events,
    };
  }
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per value, scaled from 0 to the largest (at least 1 s, so a calm lag stays low). */
export function sparkline(values: number[]): string {
  const top = Math.max(1, ...values);
  return values.map((v) => SPARKS[Math.min(SPARKS.length - 1, Math.max(0, Math.round((v / top) * (SPARKS.length - 1))))]).join('');
}

const showsLag = (s: Snapshot) => SYNC_STATUSES.includes(s.job.status) || (s.job.type === 'online' && s.syncLagSeconds !== null && !isTerminalStatus(s.job.status));
const rowsText = (s: Snapshot) => `${s.rowsCopied.toLocaleString('en-US')}/${s.rowsTotal.toLocaleString('en-US')} rows`;
const rateText = (s: Snapshot) => (s.rowsPerSecond === null ? 'rate -' : `${Math.round(s.rowsPerSecond).toLocaleString('en-US')} rows/s`);
const etaText = (s: Snapshot) => (s.etaSeconds === null ? 'time left -' : `${formatSeconds(s.etaSeconds)} left`);
const lagText = (s: Snapshot) => (s.syncLagSeconds === null ? 'not measured yet' : formatSeconds(s.syncLagSeconds));
const clock = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toTimeString().slice(0, 8);
};

function formatWatchEvent(event: EventLine): string {
  return `${clock(event.at)} event ${event.type}: ${event.message}`;
}

/** How a watch ends: the summary, and the reason a job did not succeed. */
function endLines(s: Snapshot): string[] {
  return formatJobSummary(s.job).split('\n');
}

/** Plain lines for a log or a pipe: a line only when something changed, no escape codes. */
export class PlainRenderer {
  private last = new Map<string, string>();

  constructor(private readonly write: (text: string) => void) {}

  render(s: Snapshot): void {
    const out: string[] = [];
    for (const event of s.events) out.push(formatWatchEvent(event));
    const j = s.job;
    const emit = (key: string, identity: string, line: string) => {
      if (this.last.get(key) === identity) return;
      this.last.set(key, identity);
      out.push(line);
    };
    const head = `${j.jobId} ${j.status} phase=${j.phase} ${j.progressPercent}% ${rowsText(s)}`;
    const moving = j.status === 'IN_PROGRESS' && s.rowsTotal > 0;
    emit('job', head, `${clock(s.at)} ${head}${moving ? `  ${rateText(s)}, ${etaText(s)}` : ''}`);
    for (const c of s.collections) {
      const line = formatCollection(c);
      emit(`collection:${c.key}`, line, line);
    }
    if (showsLag(s)) {
      const recent = s.lagHistory.slice(-5).map(formatSeconds).join(' ');
      emit('lag', lagText(s), `${clock(s.at)} sync lag ${lagText(s)}${recent ? ` (recent: ${recent})` : ''}`);
    }
    if (out.length > 0) this.write(`${out.join('\n')}\n`);
  }

  end(s: Snapshot): void {
    this.write(`${endLines(s).join('\n')}\n`);
  }

  notice(line: string): void {
    this.write(`${line}\n`);
  }
}

/** One JSON object per poll (NDJSON): the snapshot, job view included. */
export class JsonRenderer {
  constructor(private readonly write: (text: string) => void) {}
  render(s: Snapshot): void {
    this.write(`${JSON.stringify(s)}\n`);
  }
  end(): void {}
  /** Notices go to stderr: stdout holds only the objects. */
  notice(line: string): void {
    process.stderr.write(`${line}\n`);
  }
}

export interface Screen {
  columns?: number;
  rows?: number;
  write(text: string): void;
}

const ESC = '\x1b[';

/** A terminal: events scroll above a block that is redrawn in place. */
export class TtyRenderer {
  private height = 0;

  constructor(
    private readonly screen: Screen,
    private readonly intervalSeconds: number,
  ) {}

  start(): void {
    this.screen.write(`${ESC}?25l`);
  }

  render(s: Snapshot): void {
    const width = Math.max(40, (this.screen.columns || 100) - 1);
    const fit = (line: string) => (line.length > width ? `${line.slice(0, width - 1)}…` : line);
    const events = s.events.map((e) => fit(formatWatchEvent(e)));
    const frame = frameLines(s, { maxLines: Math.max(6, (this.screen.rows || 40) - 2), intervalSeconds: this.intervalSeconds }).map(fit);
    // Back to the top of the previous frame, clear it, print what scrolls, then the frame.
    const up = this.height > 0 ? `\r${ESC}${this.height}A${ESC}J` : '';
    this.screen.write(up + [...events, ...frame].map((l) => `${l}\n`).join(''));
    this.height = frame.length;
  }

  /** Leaves the last frame on screen, then the summary. */
  end(s: Snapshot): void {
    this.screen.write(`${endLines(s).join('\n')}\n${ESC}?25h`);
    this.height = 0;
  }

  /** A line that scrolls above the frame. */
  notice(line: string): void {
    const up = this.height > 0 ? `\r${ESC}${this.height}A${ESC}J` : '';
    this.screen.write(`${up}${line}\n`);
    this.height = 0;
  }

  /** Gives the cursor back (Ctrl-C, an error). */
  stop(): void {
    this.screen.write(`${ESC}?25h`);
  }
}

/** The block a terminal shows: job line, a bar per collection, throughput, lag with its history. */
export function frameLines(s: Snapshot, options: { maxLines: number; intervalSeconds: number; now?: Date }): string[] {
  const j = s.job;
  const elapsedFrom = j.startedAt ?? j.createdAt;
  const elapsedTo = j.endedAt ? Date.parse(j.endedAt) : (options.now ?? new Date()).getTime();
  const elapsed = elapsedFrom ? `  elapsed ${formatSeconds(Math.max(0, (elapsedTo - Date.parse(elapsedFrom)) / 1000))}` : '';
  const lines = [`${j.jobId}  ${j.type}  ${j.status}  phase ${j.phase}  ${j.progressPercent}%${elapsed}`];
  const footer: string[] = [];
  footer.push(`  ${rowsText(s)}  ${bar(s.rowsTotal === 0 ? 0 : (100 * s.rowsCopied) / s.rowsTotal)}  ${rateText(s)}  ${etaText(s)}`);
  if (showsLag(s)) {
    const history = s.lagHistory.length > 0 ? `  ${sparkline(s.lagHistory)}  min ${formatSeconds(Math.min(...s.lagHistory))} max ${formatSeconds(Math.max(...s.lagHistory))} over the last ${s.lagHistory.length} polls` : '';
    footer.push(`  sync lag ${lagText(s)}${history}`);
  }
  footer.push(
    isTerminalStatus(j.status)
      ? `  ended ${clock(j.endedAt ?? s.at)}`
      : `  updated ${clock(s.at)}, every ${options.intervalSeconds}s; Ctrl-C stops watching (the job goes on)`,
  );
  const room = Math.max(1, options.maxLines - lines.length - footer.length);
  const keyWidth = Math.min(40, Math.max(10, ...s.collections.map((c) => c.key.length)));
  lines.push(...pickCollections(s.collections, j.collectionSummary, room).map((c) => ('more' in c ? c.more : formatCollection(c, keyWidth))));
  return [...lines, ...footer];
}

type Collection = CollectionView;
const ACTIVE = ['COPYING', 'RECOPY', 'CREATED', 'FAILED'];

const COPIED: readonly CollectionView['status'][] = ['COPIED', 'INDEXED', 'VERIFIED'];

/**
 * All collections when they fit; otherwise the active ones of the page first and a line counting
 * the rest, from the job's summary (the page holds only the first collections of a large job).
 */
function pickCollections(collections: Collection[], summary: JobView['collectionSummary'], room: number): Array<Collection | { more: string }> {
  if (collections.length <= room && collections.length >= summary.total) return collections;
  const rank = (c: Collection) => (ACTIVE.includes(c.status) ? 0 : c.status === 'PENDING' ? 1 : 2);
  const shown = new Set([...collections].sort((a, b) => rank(a) - rank(b)).slice(0, Math.max(0, room - 1)));
  const copiedShown = [...shown].filter((c) => COPIED.includes(c.status)).length;
  const copied = COPIED.reduce((sum, status) => sum + (summary.byStatus[status] ?? 0), 0) - copiedShown;
  const rest = Math.max(0, summary.total - shown.size);
  return [...collections.filter((c) => shown.has(c)), { more: `  ... and ${rest} more collection(s), ${copied} of them copied` }];
}
