/**
 * The change log of an online job with sync strategy "capture": what the capture endpoint saw
 * applications write to the source, recorded before the source was asked to apply it. The sync
 * never replays the writes: it re-reads the keys an entry names from the source and makes the
 * target equal (lib/sync/captureStrategy.ts), so an entry that was logged but never applied, or
 * applied twice, or read out of order, does no harm.
 */

/**
 * What a write touched:
 * - `upsert-keys` / `delete-keys`: the primary keys it names (Insert and Upsert with keys, Delete by `pk in [...]`);
 * - `delete-filter`: a Delete by any other filter (resolved against the target, re-checked on the source);
 * - `autoid-pending`: an insert whose keys the source mints; its acknowledgement carries the keys of the reply;
 * - `compare`: a write the log cannot describe by keys or filter (a templated filter, a filter too big
 *   for an entry): the sync compares the whole collection instead.
 */
export type ChangeKind = 'upsert-keys' | 'delete-keys' | 'delete-filter' | 'autoid-pending' | 'compare';

/** A change as the capture endpoint records it (before forwarding the write). */
export interface NewChange {
  db: string;
  collection: string;
  partition?: string;
  kind: ChangeKind;
  /** Primary keys as strings (Int64 in decimal); at most MAX_KEYS_PER_ENTRY per entry. */
  keys?: string[];
  filter?: string;
  /**
   * Logged after the switchover: the write went to the target, not the source. The sync never
   * applies it (the source has not got it); the verification after the switch counts its keys as
   * written by the applications, not as differences.
   */
  toTarget?: boolean;
  /**
   * Appended by the sync, not by an endpoint: keys its comparison of every row found different
   * (lib/sync/backgroundComparison.ts), for the log's cycles to make equal like any logged write.
   * No write waits behind it (it is final at once), and it explains no difference: it is one.
   */
  found?: boolean;
}

export interface ChangeEntry extends NewChange {
  /** Time-ordered and unique: `<epoch ms, 13 digits>-<endpoint instance>-<sequence>`. */
  id: string;
  /** Epoch ms when the endpoint logged it (the endpoint's clock). */
  at: number;
}

/**
 * How the write an entry announced ended, written after the source replied:
 * `applied` (the source said Success), `refused` (the source answered with an error status: nothing
 * was applied), `unknown` (the call failed in transit: it may or may not have been applied).
 */
export type WriteOutcome = 'applied' | 'refused' | 'unknown';

export interface ChangeAck {
  /** The entry's id. */
  id: string;
  outcome: WriteOutcome;
  /** The keys the source minted (autoID inserts), at most MAX_KEYS_PER_ENTRY per acknowledgement. */
  keys?: string[];
}

/** An entry as the sync reads it: with what its acknowledgements said (none yet: the write is in flight, or its endpoint died). */
export interface LoggedChange extends ChangeEntry {
  outcome?: WriteOutcome;
  /** Keys from the acknowledgements (autoID). */
  ackKeys: string[];
}

/** A capture endpoint's heartbeat: the drain waits until every live endpoint has seen the fence and has no write in flight. */
export interface EndpointHeartbeat {
  instanceId: string;
  /** Epoch ms of the heartbeat. */
  at: number;
  /** The endpoint refuses every write (it saw the job's sync stopping, or the verification after the switch fencing them). */
  fenced: boolean;
  /** Writes logged and forwarded whose reply has not come. */
  inFlight: number;
  /** The longest a forwarded write may take before the endpoint gives it up (its deadline), ms. */
  writeTimeoutMs: number;
}

/** Where a job's change log lives (DynamoDB: lib/capture/dynamoChangeLog.ts). */
export interface ChangeLog {
  /** Durable when it resolves. */
  append(jobId: string, entries: readonly ChangeEntry[], acks: readonly ChangeAck[]): Promise<void>;
  /** Entries logged at or after `sinceMs` (their time), oldest first, with their acknowledgements. */
  read(jobId: string, sinceMs: number): Promise<LoggedChange[]>;
  heartbeat(jobId: string, beat: EndpointHeartbeat): Promise<void>;
  heartbeats(jobId: string): Promise<EndpointHeartbeat[]>;
}

/**
 * Keys per entry: an entry stays far below DynamoDB's 400 KB item limit even with long VarChar
 * keys (1,000 keys of 256 bytes: 256 KB); a write of more keys is logged as several entries.
 */
export const MAX_KEYS_PER_ENTRY = 1_000;
/** Bytes of keys per entry (VarChar keys may be up to 65,535 bytes each). */
export const MAX_KEY_BYTES_PER_ENTRY = 256 * 1024;
/** A filter longer than this is logged as `compare` (the entry would not fit an item). */
export const MAX_FILTER_BYTES = 256 * 1024;

/** Splits keys into bounded groups (by count and by bytes). */
export function splitKeys(keys: readonly string[]): string[][] {
  const groups: string[][] = [];
  let group: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    const size = Buffer.byteLength(key) + 4;
    if (group.length && (group.length >= MAX_KEYS_PER_ENTRY || bytes + size > MAX_KEY_BYTES_PER_ENTRY)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(key);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** Entries for one change: a key list longer than an entry holds becomes several entries; a filter too long becomes `compare`. */
export function entriesFor(change: NewChange): NewChange[] {
  if (change.filter !== undefined && Buffer.byteLength(change.filter) > MAX_FILTER_BYTES) {
    const { filter: _dropped, ...rest } = change;
    return [{ ...rest, kind: 'compare' }];
  }
  if (!change.keys || change.keys.length <= 1) return [change];
  const groups = splitKeys(change.keys);
  return groups.map((keys) => ({ ...change, keys }));
}
