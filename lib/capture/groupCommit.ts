import type { ChangeAck, ChangeEntry, ChangeLog } from './changes';

/** A group is written when its first change has waited this long, or when it holds MAX_GROUP items. */
const DEFAULT_WINDOW_MS = 3;
const MAX_GROUP = 100;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit of the change log: the changes of writes that arrive within a few milliseconds go
 * to DynamoDB together (BatchWriteItem, 25 items a call, calls in parallel), and each caller is
 * answered when its own change is durable. One round trip per group instead of one per write.
 */
export class GroupCommit {
  private entries: ChangeEntry[] = [];
  private acks: ChangeAck[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: ChangeLog,
    private readonly jobId: string,
    private readonly windowMs = DEFAULT_WINDOW_MS,
  ) {}

  /** Resolves once the entries and acknowledgements are durable in the log. */
  add(entries: readonly ChangeEntry[], acks: readonly ChangeAck[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.entries.push(...entries);
      this.acks.push(...acks);
      this.waiters.push({ resolve, reject });
      if (this.entries.length + this.acks.length >= MAX_GROUP) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.windowMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
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
