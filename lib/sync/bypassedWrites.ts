import type { LoggedChange } from '../capture/changes';
import { collectionKey, type JobWithCollections } from '../jobs/model';

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
   * What of the differences the log does not explain, as a sentence for the job's warning, or
   * undefined. A logged key explains itself; a logged write whose keys are unknown (an autoID
   * insert without its reply, a delete by filter, a templated filter) explains its whole collection.
   */
  unexplained(job: JobWithCollections, logged: readonly LoggedChange[]): string | undefined {
    const byName = new Map(Object.values(job.collections).map((c) => [collectionKey(c.sourceDb, c.sourceName), c.key]));
    const explained = new Map<string, Set<string>>();
    const wholly = new Set<string>();
    for (const entry of logged) {
      const key = byName.get(collectionKey(entry.db, entry.collection));
      if (!key) continue;
      const keys = entry.kind === 'upsert-keys' || entry.kind === 'delete-keys' ? (entry.keys ?? []) : entry.kind === 'autoid-pending' && entry.ackKeys.length ? entry.ackKeys : null;
      if (!keys) {
        wholly.add(key);
        continue;
      }
      let set = explained.get(key);
      if (!set) explained.set(key, (set = new Set()));
      for (const k of keys) set.add(k);
    }
    const bypassed: string[] = [];
    for (const [collection, keys] of this.keys) {
      if (wholly.has(collection)) continue;
      for (const k of keys) if (!explained.get(collection)?.has(k)) bypassed.push(`${collection}:${k}`);
    }
    if (!bypassed.length && !this.untracked) return undefined;
    const more = this.untracked ? ` (and ${this.untracked} more row(s) differed that were not checked against the log)` : '';
    return `${bypassed.length} row(s) differed that no capture endpoint logged${more}, e.g. ${bypassed.slice(0, EXAMPLES).join(', ') || 'none listed'}`;
  }
}
