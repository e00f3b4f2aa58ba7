import type { ChangeAck, ChangeEntry, ChangeLog } from './changes';

/** A group never holds more than this many items; a full group is written at once. */
const MAX_GROUP = 100;
/** How long acknowledgements wait for a write's entry to ride with, before they go on their own. */
const DEFAULT_LATER_MS = 10;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of the change log: what arrives together goes to DynamoDB in one call
 * (BatchWriteItem, 25 items a call, calls in parallel), and each caller is answered when its own
 * items are durable.
 *
 * Entries are what a write waits for: their group is written as soon as the event loop turns, so a
 * write waits for no timer, only for the log's round trip, and the writes that arrived in the same
 * turn share it. (A fixed window of 3 ms cost every write those 3 ms and more: timers fire late on
 * a busy process.) Acknowledgements are nobody's wait: they ride with the next group of entries,
 * or go on their own after `laterMs`. Measured (`npm run bench:capture-latency`), a call of their
 * own beside each write made DynamoDB Local answer the writes' entries more slowly.
 */
export class GroupCommit {
  private entries: ChangeEntry[] = [];
  private acks: ChangeAck[] = [];
  private waiters: Waiter[] = [];
  private scheduled: { urgent: boolean; cancel(): void } | undefined;

  constructor(
    private readonly log: ChangeLog,
    private readonly jobId: string,
    private readonly laterMs = DEFAULT_LATER_MS,
  ) {}

  /** Resolves once the entries (and acknowledgements) are durable in the log; written at the next turn of the event loop. */
  add(entries: readonly ChangeEntry[], acks: readonly ChangeAck[] = []): Promise<void> {
    return this.enqueue(entries, acks, true);
  }

  /** Resolves once the acknowledgements are durable; written with the next entries, or within `laterMs`. */
  later(acks: readonly ChangeAck[]): Promise<void> {
    return this.enqueue([], acks, false);
  }

  private enqueue(entries: readonly ChangeEntry[], acks: readonly ChangeAck[], urgent: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.entries.push(...entries);
      this.acks.push(...acks);
      this.waiters.push({ resolve, reject });
      if (this.entries.length + this.acks.length >= MAX_GROUP) this.flush();
      else if (urgent && !this.scheduled?.urgent) this.schedule(true);
      else if (!this.scheduled) this.schedule(false);
    });
  }

  private schedule(urgent: boolean): void {
    this.scheduled?.cancel();
    if (urgent) {
      const immediate = setImmediate(() => this.flush());
      this.scheduled = { urgent, cancel: () => clearImmediate(immediate) };
    } else {
      const timer = setTimeout(() => this.flush(), this.laterMs);
      this.scheduled = { urgent, cancel: () => clearTimeout(timer) };
    }
  }

  private flush(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
    const [entries, acks, waiters] = [this.entries, this.acks, this.waiters];
    this.entries = [];
    this.acks = [];
    this.waiters = [];
    if (!waiters.length) return;
    this.log.append(this.jobId, entries, acks).then(
      () => waiters.forEach((w) => w.resolve()),
      (error: unknown) => waiters.forEach((w) => w.reject(error)),
    );
  }
}
