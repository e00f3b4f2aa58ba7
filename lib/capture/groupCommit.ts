import type { ChangeAck, ChangeEntry, ChangeLog } from './changes';

/** A group never holds more than this many items; a full group is written at once. */
const MAX_GROUP = 100;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of the change log: the changes of writes that arrive together go to DynamoDB in one
 * call (BatchWriteItem, 25 items a call, calls in parallel), and each caller is answered when its
 * own change is durable.
 *
 * A group is written when its window closes. The window of entries is the rest of the current
 * event-loop turn (windowMs 0, the default): a write waits for no timer, only for the log's round
 * trip, and the writes that arrived in the same turn share it. (A fixed window of 3 ms cost every
 * write those 3 ms and more: timers fire late on a busy process.) Acknowledgements are nobody's
 * wait: give them a window of a few milliseconds, so that under load they cost fewer calls.
 */
export class GroupCommit {
  private entries: ChangeEntry[] = [];
  private acks: ChangeAck[] = [];
  private waiters: Waiter[] = [];
  private scheduled: { cancel(): void } | undefined;

  constructor(
    private readonly log: ChangeLog,
    private readonly jobId: string,
    private readonly windowMs = 0,
  ) {}

  /** Resolves once the entries and acknowledgements are durable in the log. */
  add(entries: readonly ChangeEntry[], acks: readonly ChangeAck[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.entries.push(...entries);
      this.acks.push(...acks);
      this.waiters.push({ resolve, reject });
      if (this.entries.length + this.acks.length >= MAX_GROUP) this.flush();
      else this.scheduled ??= this.schedule();
    });
  }

  private schedule(): { cancel(): void } {
    if (this.windowMs > 0) {
      const timer = setTimeout(() => this.flush(), this.windowMs);
      return { cancel: () => clearTimeout(timer) };
    }
    const immediate = setImmediate(() => this.flush());
    return { cancel: () => clearImmediate(immediate) };
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
