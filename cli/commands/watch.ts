import { ApiError, type ApiClient } from '../apiClient';
import { apiClientFrom, type ApiFlags } from '../apiOptions';
import type { CollectionView } from '../../lib/api/views';
import type { EventLine, JobView } from '../output';
import { isTerminalStatus, JsonRenderer, PlainRenderer, TERMINAL_EVENTS, TtyRenderer, WatchState, type Snapshot } from '../watch';

export interface WatchFlags extends ApiFlags {
  interval: number;
  json?: boolean;
  plain?: boolean;
}

/** How long a watch rides out an API that stops answering (network, 5xx, throttling) before giving up. */
const RETRY_FOR_MS = 120_000;
/** Collections a poll reads (the first page, in key order); the job's summary counts them all. */
const WATCH_COLLECTIONS = 100;
/** After the job ends, how long to wait for its closing event (written just after the status). */
const CLOSING_EVENT_WAIT_MS = 3_000;

/**
 * `milvus-migrate watch ID`: polls the job and its events until the job ends. A terminal gets a
 * block redrawn in place; a pipe or a log gets plain lines, one per change; --json one object per
 * poll. Exit code 0 when the job ends SUCCESSFUL, 1 when it ends FAILED or CANCELLED.
 */
export async function watchCommand(jobId: string, flags: WatchFlags): Promise<number> {
  const client = apiClientFrom(flags);
  const intervalMs = flags.interval * 1000;
  const write = (text: string) => process.stdout.write(text);
  const tty = !flags.json && !flags.plain && process.stdout.isTTY === true && process.env.TERM !== 'dumb';
  const renderer = flags.json
    ? new JsonRenderer(write)
    : tty
      ? new TtyRenderer({ write, get columns() { return process.stdout.columns; }, get rows() { return process.stdout.rows; } }, flags.interval)
      : new PlainRenderer(write);
  const interrupted = () => {
    if (renderer instanceof TtyRenderer) renderer.stop();
    process.stderr.write(`stopped watching ${jobId}; the job goes on\n`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  if (renderer instanceof TtyRenderer) renderer.start();
  try {
    const follower = new EventFollower(client, jobId);
    const state = new WatchState();
    let polled = false;
    let failingSince: number | undefined;
    for (;;) {
      let job: JobView;
      let events: EventLine[];
      let collections: CollectionView[];
      try {
        job = (await client.get(jobId)) as JobView;
        collections = (await client.collections(jobId, { limit: WATCH_COLLECTIONS })).items as CollectionView[];
        events = await follower.poll();
        if (isTerminalStatus(job.status)) events.push(...(await follower.waitFor(TERMINAL_EVENTS, CLOSING_EVENT_WAIT_MS, events)));
        if (failingSince !== undefined) renderer.notice(`the API answers again`);
        failingSince = undefined;
      } catch (error) {
        // Nothing to watch yet, or a refusal (404, 403): say it and stop. Later, ride out an outage for a while.
        if (!polled || !isTransient(error)) throw error;
        const now = Date.now();
        if (failingSince === undefined) {
          failingSince = now;
          renderer.notice(`cannot poll the job (${(error as Error).message}); retrying for up to ${RETRY_FOR_MS / 1000} s`);
        } else if (now - failingSince > RETRY_FOR_MS) {
          throw error;
        }
        await sleep(intervalMs);
        continue;
      }
      polled = true;
      const snapshot = state.update(job, Date.now(), events, collections);
      renderer.render(snapshot);
      if (isTerminalStatus(job.status)) {
        renderer.end(snapshot);
        return finish(snapshot);
      }
      await sleep(intervalMs);
    }
  } catch (error) {
    if (renderer instanceof TtyRenderer) renderer.stop();
    throw error;
  } finally {
    process.off('SIGINT', interrupted);
  }
}

/** 0 for SUCCESSFUL; otherwise the reason on stderr (one line) and 1. */
function finish(s: Snapshot): number {
  const job = s.job;
  if (job.status === 'SUCCESSFUL') return 0;
  const cancelled = s.events.find((e) => e.type === 'JobCancelled');
  const reason = job.error ? `${job.error.code}: ${job.error.reason}` : (cancelled?.message ?? `the job ended ${job.status}`);
  process.stderr.write(`milvus-migrate: job ${job.jobId} ended ${job.status}: ${reason.replace(/\s+/g, ' ')}\n`);
  return 1;
}

function isTransient(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 0 || error.status === 429 || error.status >= 500);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * New events of a job, polled with nextToken: it re-reads the page holding the newest events it
 * has seen (the API gives a token only when a page is full) and moves on as pages fill, so a long
 * job costs one small request per poll.
 */
export class EventFollower {
  private token: string | undefined;
  private seen = new Set<string>();

  constructor(
    private readonly client: Pick<ApiClient, 'events'>,
    private readonly jobId: string,
    private readonly pageSize = 100,
  ) {}

  async poll(): Promise<EventLine[]> {
    const fresh: EventLine[] = [];
    for (;;) {
      const page = await this.client.events(this.jobId, { limit: this.pageSize, nextToken: this.token });
      const occurrences = new Map<string, number>();
      for (const item of page.items as EventLine[]) {
        const identity = `${item.at}\u0000${item.type}\u0000${item.message}`;
        const nth = (occurrences.get(identity) ?? 0) + 1;
        occurrences.set(identity, nth);
        const key = `${identity}\u0000${nth}`;
        if (this.seen.has(key)) continue;
        this.seen.add(key);
        fresh.push({ at: item.at, type: item.type, message: item.message, ...('details' in item ? { details: (item as EventLine).details } : {}) });
      }
      if (!page.nextToken) return fresh;
      this.token = page.nextToken;
      this.seen = new Set();
    }
  }

  /** Polls until one of these event types has been seen (in `already` or later) or the time is up. */
  async waitFor(types: readonly string[], ms: number, already: EventLine[]): Promise<EventLine[]> {
    const found: EventLine[] = [];
    const deadline = Date.now() + ms;
    while (![...already, ...found].some((e) => types.includes(e.type)) && Date.now() < deadline) {
      await sleep(250);
      found.push(...(await this.poll()));
    }
    return found;
  }
}
