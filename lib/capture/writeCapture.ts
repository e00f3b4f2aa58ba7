import { WriteRefused, type CaptureHooks, type CapturedWrite, type ForwardedReply } from '../milvus/gateway';
import { entriesFor, splitKeys, type ChangeAck, type ChangeEntry, type ChangeLog, type NewChange } from './changes';
import { entryId } from './dynamoChangeLog';
import { keysOfDeleteFilter } from './deleteKeys';
import { GroupCommit } from './groupCommit';

/**
 * Where the job is, as the capture endpoint sees it (polled from the API):
 * - `capture`: writes are recorded, then forwarded to the source;
 * - `fenced`: writes are refused (stop-sync; or, after the switchover, while the verification copies rows that bypassed the endpoints);
 * - `switched`: every call goes to the target; writes are still recorded (the verification after the switch tells them from differences);
 * - `moved`: the job ended after the switchover: every call goes to the target as it came.
 */
export type EndpointMode = 'capture' | 'fenced' | 'switched' | 'moved';

/** What the endpoint reads of the job to choose its mode. */
export interface EndpointJob {
  status: string;
  options?: { switchover?: boolean };
  sync?: { switchedAt?: string; repairFencedAt?: string };
}

/**
 * The job decides the mode: stop-sync fences; with switchover, the drain's end switches every call
 * to the target (sync.switchedAt), for good: a job that fails afterwards leaves the applications on
 * the target, which holds their writes since. The verification after the switch fences writes
 * again, briefly, only to copy rows that bypassed the endpoints (sync.repairFencedAt).
 */
export function endpointMode(job: EndpointJob): EndpointMode {
  if (job.status === 'SUCCESSFUL') return job.options?.switchover ? 'moved' : 'fenced';
  if (job.sync?.switchedAt) return job.sync.repairFencedAt && job.status === 'CUTTING_OVER' ? 'fenced' : 'switched';
  if (job.status === 'CUTTING_OVER') return 'fenced';
  return 'capture';
}

/** Stages of one write, for tests that kill the endpoint between them. */
export type WriteStage = 'logged' | 'forwarded';

export interface WriteCaptureOptions {
  jobId: string;
  log: ChangeLog;
  /** Names this endpoint process in entry ids and heartbeats. */
  instanceId: string;
  writeTimeoutMs: number;
  now?: () => number;
  /** Called at each stage of a write (a test's crash hook). */
  onStage?: (stage: WriteStage, write: CapturedWrite) => void;
}

interface Ticket {
  entries: ChangeEntry[];
  write: CapturedWrite;
}

/**
 * The capture endpoint's domain half (the wire half is the gateway's capture proxy): for every
 * write an application sends through the endpoint, the change is made durable in the job's change
 * log before the source is asked, and the write's outcome (the keys an autoID insert minted) after
 * it replied. Once the job's sync is stopping it refuses writes, naming the job: the fence.
 */
export class WriteCapture implements CaptureHooks<Ticket> {
  private mode: EndpointMode = 'capture';
  /** Once switched, calls go to the target for good (reads too, while a repair fences writes). */
  private switched = false;
  private inFlight = 0;
  private sequence = 0;
  private readonly commit: GroupCommit;
  private readonly now: () => number;

  constructor(private readonly options: WriteCaptureOptions) {
    this.commit = new GroupCommit(options.log, options.jobId);
    this.now = options.now ?? Date.now;
  }

  setMode(mode: EndpointMode): void {
    this.mode = mode;
    if (mode === 'switched' || mode === 'moved') this.switched = true;
  }

  records(): boolean {
    return this.mode !== 'moved';
  }

  get currentMode(): EndpointMode {
    return this.mode;
  }

  route(): 'source' | 'target' {
    return this.switched ? 'target' : 'source';
  }

  async beforeWrite(write: CapturedWrite): Promise<Ticket> {
    this.assertOpen();
    const entries = this.entriesOf(write);
    // Counted before the log write: a heartbeat taken meanwhile must not say "nothing in flight".
    this.inFlight += 1;
    try {
      await this.commit.add(entries);
    } catch (error) {
      this.inFlight -= 1;
      throw error;
    }
    this.options.onStage?.('logged', write);
    return { entries, write };
  }

  /**
   * The outcome is logged behind the reply, not before it: the caller does not wait for a second
   * round trip. An endpoint that dies before it is durable leaves the entry without one, which the
   * sync resolves after the write's deadline.
   */
  async afterWrite(ticket: Ticket, reply: ForwardedReply): Promise<void> {
    this.inFlight -= 1;
    this.options.onStage?.('forwarded', ticket.write);
    const acks: ChangeAck[] = [];
    for (const entry of ticket.entries) {
      if (entry.kind === 'autoid-pending' && reply.ids.length) {
        for (const keys of splitKeys(reply.ids)) acks.push({ id: entry.id, outcome: reply.outcome, keys });
      } else {
        acks.push({ id: entry.id, outcome: reply.outcome });
      }
    }
    // Nobody waits for it: it rides with the next write's entry (lib/capture/groupCommit.ts).
    this.commit.later(acks).catch(() => undefined);
  }

  /** What the drain waits for: this endpoint saw the fence and no write of it is in flight. */
  heartbeat(): Promise<void> {
    return this.options.log.heartbeat(this.options.jobId, {
      instanceId: this.options.instanceId,
      at: this.now(),
      fenced: this.mode === 'fenced',
      inFlight: this.inFlight,
      writeTimeoutMs: this.options.writeTimeoutMs,
    });
  }

  private assertOpen(): void {
    if (this.mode !== 'fenced') return;
    throw new WriteRefused(
      this.switched
        ? `milvus-migrate capture: writes are refused for a few seconds: migration job ${this.options.jobId} copies rows that were written to the source without this endpoint; retry`
        : `milvus-migrate capture: writes are refused: migration job ${this.options.jobId} is cutting over (stop-sync confirmed that writes stopped)`,
    );
  }

  private entriesOf(write: CapturedWrite): ChangeEntry[] {
    const base = { db: write.db, collection: write.collection, ...(write.partition ? { partition: write.partition } : {}), ...(this.switched ? { toTarget: true } : {}) };
    const changes: NewChange[] = [];
    if (!write.pkField) {
      // The collection could not be described: its keys are unknown, the sync compares it whole.
      changes.push({ ...base, kind: 'compare' });
    } else if (write.method === 'Delete') {
      const filter = write.filter ?? '';
      const keys = write.templated ? null : keysOfDeleteFilter(filter, write.pkField);
      if (keys) changes.push({ ...base, kind: 'delete-keys', keys });
      else if (write.templated) changes.push({ ...base, kind: 'compare' });
      else changes.push({ ...base, kind: 'delete-filter', filter });
    } else {
      if (write.keys?.length) changes.push({ ...base, kind: 'upsert-keys', keys: write.keys });
      // Keys the source mints come back in the reply; the marker is logged first, so a crash before the reply is seen.
      if (write.autoId || !write.keys?.length) changes.push({ ...base, kind: 'autoid-pending' });
    }
    const at = this.now();
    return changes.flatMap(entriesFor).map((change) => ({ ...change, at, id: entryId(at, this.options.instanceId, this.sequence++) }));
  }
}
