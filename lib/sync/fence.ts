import type { ChangeLog } from '../capture/changes';
import { sleep } from '../milvus/backoff';

/**
 * Clocks of the capture endpoints and of the sync differ, and a log entry may become visible a
 * little after its time: the log is read from this long before any instant it is read "since".
 */
export const CLOCK_SKEW_MS = 5_000;
/** An endpoint whose heartbeat is older than this is presumed dead (they beat every 500 ms). */
const HEARTBEAT_STALE_MS = 5_000;
const FENCE_POLL_MS = 200;

/**
 * The fence: every capture endpoint that may still forward writes has seen the job refusing them
 * (its heartbeat, beaten after `since`, says it refuses every write and has none in flight), or is
 * dead and its last writes' deadlines passed. Bounded: after that long the caller goes on, and the
 * comparison that follows finds whatever a silent endpoint let through. Resolves with the
 * milliseconds it waited.
 */
export async function awaitFence(log: ChangeLog, jobId: string, since: number, writeTimeoutMs: number): Promise<number> {
  const began = Date.now();
  const giveUpAt = began + writeTimeoutMs + HEARTBEAT_STALE_MS + CLOCK_SKEW_MS;
  while (Date.now() < giveUpAt) {
    const beats = await log.heartbeats(jobId);
    const now = Date.now();
    const open = beats.filter((b) => {
      const fencedAfter = b.fenced && b.inFlight === 0 && b.at > since;
      const deadAndSettled = now - b.at > HEARTBEAT_STALE_MS && now - b.at > b.writeTimeoutMs + CLOCK_SKEW_MS;
      return !fencedAfter && !deadAndSettled;
    });
    if (!open.length) break;
    await sleep(FENCE_POLL_MS);
  }
  return Date.now() - began;
}
