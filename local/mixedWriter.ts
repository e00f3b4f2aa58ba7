import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';

/**
 * An application that keeps writing to the source: what the online demo, the online tests and
 * `npm run bench:online` migrate under load.
 */

/** Seeding a large collection builds its index and loads it in calls far longer than the SDK's 15 s default. */
const SEED_TIMEOUT_MS = 30 * 60_000;

function client(uri: string, timeout?: number): MilvusClient {
  return new MilvusClient({ address: uri, telemetry: { enabled: false }, logLevel: 'warn', ...(timeout ? { timeout } : {}) } as never);
}

/** A collection an application keeps writing to: explicit Int64 keys, a vector, a scalar, JSON and dynamic keys. */
export async function createWrittenCollection(uri: string, name: string, rows: number, dim = 8): Promise<void> {
  const c = client(uri, SEED_TIMEOUT_MS);
  try {
    const created = await c.createCollection({
      collection_name: name,
      enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'vec', data_type: DataType.FloatVector, dim },
        { name: 'tag', data_type: DataType.VarChar, max_length: 64 },
        { name: 'meta', data_type: DataType.JSON },
      ],
    } as never);
    if (created.error_code !== 'Success') throw new Error(`create ${name}: ${created.reason}`);
    for (let i = 0; i < rows; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, rows - i) }, (_, k) => row(i + k, dim, 0));
      const inserted = await c.insert({ collection_name: name, data: batch as never });
      if (inserted.status.error_code !== 'Success') throw new Error(`insert ${name}: ${inserted.status.reason}`);
    }
    await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' });
    await c.loadCollection({ collection_name: name });
  } finally {
    await c.closeConnection();
  }
}

function row(id: number, dim: number, version: number): Record<string, unknown> {
  return {
    id,
    vec: Array.from({ length: dim }, (_, k) => Math.sin(id * 31 + k + version * 7)),
    tag: `row ${id} v${version}`,
    meta: { version, parity: id % 2 === 0 ? 'even' : 'odd', nested: { at: version } },
    ...(id % 3 === 0 ? { extra: `dynamic ${id}.${version}` } : {}),
  };
}

export interface MixedWriterStats {
  inserted: number;
  upserted: number;
  deleted: number;
  failed: number;
  seconds: number;
  /** Milliseconds of each write call (insert, upsert, delete), in order. */
  latenciesMs: number[];
}

/**
 * Writes to the collection until stopped: each tick inserts new keys, upserts existing ones (new
 * vector, scalar, JSON and dynamic values) and deletes one, about `writesPerSecond` rows in all.
 * `concurrency` loops write at once (an application's many requests in flight), sharing the rate.
 */
export function startMixedWriter(uri: string, name: string, options: { existingRows: number; dim?: number; writesPerSecond?: number; concurrency?: number }) {
  const dim = options.dim ?? 8;
  const c: MilvusClient = client(uri);
  const live: number[] = Array.from({ length: options.existingRows }, (_, i) => i);
  let nextId = options.existingRows;
  let version = 1;
  let stopping = false;
  const stats: MixedWriterStats = { inserted: 0, upserted: 0, deleted: 0, failed: 0, seconds: 0, latenciesMs: [] };
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await call();
    } finally {
      stats.latenciesMs.push(performance.now() - t0);
    }
  };
  const started = Date.now();
  const perTick = { insert: 4, upsert: 3, delete: 1 };
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const tickMs = (1000 * (perTick.insert + perTick.upsert + perTick.delete) * concurrency) / (options.writesPerSecond ?? 300);
  const pick = () => live[Math.floor(Math.random() * live.length)]!;

  const writeLoop = async () => {
    while (!stopping) {
      const tickStarted = Date.now();
      version += 1;
      try {
        const fresh = Array.from({ length: perTick.insert }, () => nextId++);
        const ins = await timed(() => c.insert({ collection_name: name, data: fresh.map((id) => row(id, dim, version)) as never }));
        if (ins.status.error_code !== 'Success') throw new Error(ins.status.reason);
        live.push(...fresh);
        stats.inserted += fresh.length;
        const changed = [...new Set(Array.from({ length: perTick.upsert }, pick))];
        const up = await timed(() => c.upsert({ collection_name: name, data: changed.map((id) => row(id, dim, version)) as never }));
        if (up.status.error_code !== 'Success') throw new Error(up.status.reason);
        stats.upserted += changed.length;
        const gone = live.splice(Math.floor(Math.random() * live.length), 1);
        const del = await timed(() => c.delete({ collection_name: name, filter: `id in [${gone.join(',')}]` }));
        if (del.status.error_code !== 'Success') throw new Error(del.status.reason);
        stats.deleted += gone.length;
      } catch {
        stats.failed += 1;
      }
      const rest = tickMs - (Date.now() - tickStarted);
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    }
  };
  const loop = Promise.all(Array.from({ length: concurrency }, writeLoop));

  let stopped: Promise<MixedWriterStats> | undefined;
  return {
    stats,
    /** Stops writing; resolves once the last write was acknowledged. Safe to call more than once. */
    stop(): Promise<MixedWriterStats> {
      stopped ??= (async () => {
        stopping = true;
        await loop;
        await c.closeConnection();
        stats.seconds = (Date.now() - started) / 1000;
        return stats;
      })();
      return stopped;
    },
  };
}

/**
 * Upserts one row (key 0) every `everyMs` until stopped, each call waited for: `stop` answers the
 * windows (seconds after `from`) in which every call was refused, the downtime an application sees.
 */
export function startProbe(uri: string, name: string, options: { dim?: number; everyMs: number }) {
  const c = client(uri);
  const results: Array<{ at: number; ok: boolean }> = [];
  let stopping = false;
  const loop = (async () => {
    for (let version = 1; !stopping; version++) {
      const at = Date.now();
      const ok = await c.upsert({ collection_name: name, data: [row(0, options.dim ?? 8, version)] as never }).then(
        (r) => r.status.error_code === 'Success',
        () => false,
      );
      results.push({ at, ok });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.everyMs - (Date.now() - at))));
    }
  })();
  return {
    async stop(from: number): Promise<{ windows: Array<{ from: number; seconds: number }>; sent: number; refused: number }> {
      stopping = true;
      await loop;
      await c.closeConnection();
      const windows: Array<{ from: number; seconds: number }> = [];
      let open: number | undefined;
      for (const r of results) {
        if (!r.ok && open === undefined) open = r.at;
        if (r.ok && open !== undefined) {
          windows.push({ from: (open - from) / 1000, seconds: (r.at - open) / 1000 });
          open = undefined;
        }
      }
      if (open !== undefined) windows.push({ from: (open - from) / 1000, seconds: (results[results.length - 1]!.at - open) / 1000 });
      return { windows, sent: results.length, refused: results.filter((r) => !r.ok).length };
    },
  };
}
