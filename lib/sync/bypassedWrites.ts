import { exampleKey } from '../exampleKeys';
import type { LoggedChange } from '../capture/changes';
import { collectionKey, collectionsBySourceName, type JobWithCollections } from '../jobs/model';

/** Keys found different are kept up to this many (a comparison after a long outage may find millions). */
const MAX_TRACKED_KEYS = 10_000;
const EXAMPLES = 3;

/**
 * The keys a comparison of every row found different, per collection (`onDifference` of a cycle),
 * and, once the change log of the same time is read, those no capture endpoint logged: the writes
 * that reached the source without passing through one.
 */
export class DifferingKeys {
  private readonly keys = new Map<string, Set<string>>();
  private tracked = 0;
  /** Found after MAX_TRACKED_KEYS: counted, not attributed. */
  private untracked = 0;

  readonly onDifference = (collection: string, pk: string): void => {
    if (this.tracked >= MAX_TRACKED_KEYS) {
      this.untracked += 1;
      return;
    }
    let set = this.keys.get(collection);
    if (!set) this.keys.set(collection, (set = new Set()));
    if (!set.has(pk)) {
      set.add(pk);
      this.tracked += 1;
    }
  };

  /**
   * The differences the log does not explain, per collection. A logged key explains itself; a
   * logged write whose keys are unknown (an autoID insert without its reply, a delete by filter, a
   * templated filter) explains its whole collection (`wholly`: no difference there is attributed).
   */
  unexplainedKeys(job: JobWithCollections, logged: readonly LoggedChange[] | LoggedKeys): Unexplained {
    const index = logged instanceof LoggedKeys ? logged : new LoggedKeys(job).add(logged);
    const keys = new Map<string, Set<string>>();
    let count = 0;
    let excused = 0;
    for (const [collection, found] of this.keys) {
      if (index.explainsWhole(collection)) {
        excused += found.size;
        continue;
      }
      for (const k of found) {
        if (index.explains(collection, k)) continue;
        let set = keys.get(collection);
        if (!set) keys.set(collection, (set = new Set()));
        set.add(k);
        count += 1;
      }
    }
    return { keys, count, excused, untracked: this.untracked };
  }

  /** What of the differences the log does not explain, as a sentence for the job's warning, or undefined. */
  unexplained(job: JobWithCollections, logged: readonly LoggedChange[] | LoggedKeys): string | undefined {
    const found = this.unexplainedKeys(job, logged);
    return describeUnexplained(found);
  }
}

/**
 * What logged writes name, per collection of the job: built as entries are read, so a caller that
 * reads the log in many small cycles keeps keys, not entries. Entries the sync appended itself
 * (`found`: differences a comparison found) explain nothing.
 */
export class LoggedKeys {
  private readonly keys = new Map<string, Set<string>>();
  private readonly wholly = new Set<string>();
  private readonly byName;

  constructor(job: JobWithCollections) {
    this.byName = collectionsBySourceName(job);
  }

  add(entries: readonly LoggedChange[]): this {
    for (const entry of entries) {
      if (entry.found) continue;
      const key = this.byName.get(collectionKey(entry.db, entry.collection))?.key;
      if (!key) continue;
      const keys = entry.kind === 'upsert-keys' || entry.kind === 'delete-keys' ? (entry.keys ?? []) : entry.kind === 'autoid-pending' && entry.ackKeys.length ? entry.ackKeys : null;
      if (!keys) {
        this.wholly.add(key);
        continue;
      }
      let set = this.keys.get(key);
      if (!set) this.keys.set(key, (set = new Set()));
      for (const k of keys) set.add(k);
    }
    return this;
  }

  explains(collection: string, pk: string): boolean {
    return this.keys.get(collection)?.has(pk) ?? false;
  }

  explainsWhole(collection: string): boolean {
    return this.wholly.has(collection);
  }
}

export interface Unexplained {
  /** Per collection key, the primary keys no logged write names. */
  keys: Map<string, Set<string>>;
  count: number;
  /** Differences in collections a logged write without keys explains wholly: not attributed. */
  excused: number;
  /** Differences found beyond what is tracked: counted, not attributed. */
  untracked: number;
}

/** A sentence for the job's warning, or undefined when every difference is explained. */
export function describeUnexplained({ keys, count, untracked }: Unexplained): string | undefined {
  if (!count && !untracked) return undefined;
  const examples = [...keys].flatMap(([collection, set]) => [...set].slice(0, EXAMPLES).map((k) => `${collection}:${exampleKey(k)}`)).slice(0, EXAMPLES);
  const more = untracked ? ` (and ${untracked} more row(s) differed that were not checked against the log)` : '';
  return `${count} row(s) differed that no capture endpoint logged${more}, e.g. ${examples.join(', ') || 'none listed'}`;
}

/** The job's warning for rows that reached the source without passing through an endpoint (`what`: how many, how found, how copied). */
export function bypassedWarning(what: string): string {
  return `writes reached the source without passing through the capture endpoint: ${what}`;
}
