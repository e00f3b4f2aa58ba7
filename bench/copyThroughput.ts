/**
 * npm run bench [-- --rows 50000 --rich-rows 5000 --shards 4 --batch-mb 1 --batch-rows 256
 *                   --repeat 3 --phases naive,project,read,ceiling,servers,cli --ceiling-rows 128,256,512
 *                   --latencies 5,20 --profile --gc incremental]
 *
 * Starts two milvus-lite servers, seeds a collection of 768-d float vectors and one with scalar,
 * JSON, array and sparse fields, then measures on the same data, each run in its own process (so
 * CPU and peak RSS are that client's alone; CPU is counted over the copy, not the process start):
 *   naive    the copy a user writes by hand: queryIterator pages of 500 -> insert of each page
 *   project  this project's copyShard over planned shards, --shards of them at once, at the job's
 *            default batch sizes
 *   read     the source alone: its pages read and dropped
 *   ceiling  the target alone: pre-encoded insert requests, --shards in flight, at each of
 *            --ceiling-rows rows per request (the best counts)
 *   servers  both servers at once with a client that does nothing but read and send
 *   cli      end to end, as a user runs it: `milvus-migrate run` of the vector collection, from the
 *            process's start to its exit with the job SUCCESSFUL (DynamoDB Local, the state machine,
 *            preflight, planning, copy, indexes, verification: all of it)
 * Then naive, project and cli again with each of --latencies ms added to every call's round trip
 * (test/support/faultProxy.ts in front of both servers, delaying each call by that much), one run
 * each (the project's copy --repeat times): what a copy step milliseconds away from its clusters
 * gets. The 0 ms column is the direct runs above (no proxy, so the columns with latency also carry
 * the proxy's own cost), or with --latencies 0,5,20 a run through the proxy without delay.
 * Each but the naive copy runs --repeat times, interleaved, on fresh target collections; the table
 * shows the median run. Every copy is verified against the source (counts, a digest of the query
 * result bytes of the vectors, the rows of the rich collection).
 */
import { fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import protobuf from 'protobufjs/minimal.js';
import { processCpuSeconds } from './processCpu';
import { startMilvusLite, type LocalMilvus } from '../local/milvusLite';
import { copyShard, countRows, createCollection, describeCollection, dropCollection, ensureLoaded, openCluster, planShards, translateSchema, type CollectionSpec, type MilvusGateway, type PkRange } from '../lib/milvus';
// The ceiling phases measure the servers themselves: they use the gateway's raw channel and wire codec directly.
import { RawMilvusChannel } from '../lib/milvus/gateway/channel';
import { encodeInsertRequest, parseMutationResult } from '../lib/milvus/gateway/protoWire';
import { ColumnPages, type Columns, type Page } from '../lib/milvus/keyRange/pages';
import { rowsForBudget } from '../lib/milvus/keyRange/rowSize';
import { DEFAULT_START_ROWS } from '../lib/milvus/keyRange/batchSize';
import { assertOk } from '../lib/milvus/status';
import { preferAtomicGc } from '../lib/milvus/gc';
import { JobOptions } from '../lib/jobs/model';
import { startFaultProxy, type FaultProxy } from '../test/support/faultProxy';

const DB = 'default';
const VEC = 'bench_vec';
const RICH = 'bench_rich';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
function text(name: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : '';
}

const ROWS = flag('rows', 50_000);
const RICH_ROWS = flag('rich-rows', 5_000);
const DIM = flag('dim', 768);
const SHARDS = flag('shards', 4);
// The job's defaults unless told otherwise.
const DEFAULTS = JobOptions.parse({});
const BATCH_BYTES = flag('batch-mb', DEFAULTS.batchBytes / 2 ** 20) * 2 ** 20;
/** A fixed row count per batch (as the job's batchRows; 256 is the engine's old fixed size); unset, batches adapt as the job's do. */
const BATCH_ROWS = flag('batch-rows', DEFAULTS.batchRows ?? 0) || undefined;
/** --phases project,ceiling skips the others (the naive copy takes most of a run); `fixed` adds the project's copy with the old fixed batches. */
const PHASES = (text('phases') || 'naive,project,read,ceiling,servers,cli').split(',');
/** Added round trips (ms) for the distance columns; --latencies '' for none. */
const LATENCIES = (process.argv.includes('--latencies') ? text('latencies') : '5,20').split(',').filter(Boolean).map(Number);
/** The engine's batches before they adapted: 256 rows (and the byte budget) per batch, fixed. */
const FIXED_ARGS = ['--batch-rows', String(DEFAULT_START_ROWS)];
/** Runs of each measured phase (the naive copy runs once); the table shows the median run. */
const REPEAT = flag('repeat', 3);
/** The ceiling is the best of these request sizes (milvus-lite's insert cost per row grows with the rows per request). */
const CEILING_REQUEST_ROWS = (text('ceiling-rows') || '128,256,512').split(',').map(Number);

// ---------- data ----------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Pre-encoded InsertRequests of Int64 ids and float vectors, `rowsPer` rows each (FieldData wire format, see lib/milvus/protoWire.ts). */
function encodeVectorInserts(collection: string, rows: number, dim: number, rowsPer: number, seed: number): Buffer[] {
  const r = rng(seed);
  const out: Buffer[] = [];
  for (let start = 0; start < rows; start += rowsPer) {
    const n = Math.min(rowsPer, rows - start);
    const ids = protobuf.Writer.create();
    for (let i = 0; i < n; i++) ids.int64(start + i);
    const packedIds = ids.finish();
    const floats = new Float32Array(n * dim);
    for (let i = 0; i < floats.length; i++) floats[i] = r() * 2 - 1;
    const w = protobuf.Writer.create();
    w.uint32((3 << 3) | 2).string(collection);
    // FieldData{type=Int64, field_name, scalars{long_data{data}}}
    w.uint32((5 << 3) | 2).fork().uint32(8).int32(5).uint32(18).string('id').uint32(26).fork().uint32(26).fork().uint32(10).bytes(packedIds).ldelim().ldelim().ldelim();
    // FieldData{type=FloatVector, field_name, vectors{dim, float_vector{data}}}
    w.uint32((5 << 3) | 2).fork().uint32(8).int32(101).uint32(18).string('emb').uint32(34).fork().uint32(8).int64(dim).uint32(18).fork().uint32(10).bytes(new Uint8Array(floats.buffer)).ldelim().ldelim().ldelim();
    w.uint32(7 << 3).uint32(n);
    out.push(Buffer.from(w.finish()));
  }
  return out;
}

async function sendInserts(client: MilvusClient, requests: Buffer[], inFlight: number): Promise<void> {
  const channel = new RawMilvusChannel(client);
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < requests.length) {
        const request = requests[next++];
        const reply = parseMutationResult(await channel.call('/milvus.proto.milvus.MilvusService/Insert', request, 600_000));
        assertOk(reply.status, 'insert');
      }
    }),
  );
  channel.close();
}

function richRows(n: number): Record<string, unknown>[] {
  const r = rng(99);
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${String(i).padStart(7, '0')}${i % 7 === 0 ? '"q' : ''}`,
    b: i % 3 === 0,
    i32: i % 4 === 0 ? 7 : i * 31,
    i64: String(9_007_199_254_740_993n + BigInt(i)),
    d: r() * 1e9,
    s: i % 2 ? `s-${i}` : 'dflt',
    j: { n: i, tags: ['a', 'b', i % 5], nested: { ok: i % 2 === 0, v: r() } },
    ai: Array.from({ length: i % 5 }, (_, k) => k * i),
    sv: { [String(i % 100)]: 0.5 + r(), [String(1000 + (i % 977))]: 1.25 },
    v: Array.from({ length: 8 }, () => Math.round(r() * 1000) / 1000),
  }));
}

// ---------- phases (each runs in its own process) ----------

interface PhaseResult {
  rows: Record<string, number>;
  seconds: Record<string, number>;
  planning?: Record<string, number>;
  /** CPU seconds of this client and of each server, over the timed parts only. */
  cpuSeconds: number;
  srcCpu: number;
  dstCpu: number;
  maxRssMb: number;
  /** Query and Insert calls through the proxies (runs with added latency). */
  calls?: { queries: number; inserts: number };
}

/** CPU of this process and of both servers (their pids come as --source-pid, --target-pid), summed over measured spans. */
class CpuMeter {
  client = 0;
  source = 0;
  target = 0;
  async span<T>(work: () => Promise<T>): Promise<T> {
    const [c0, s0, d0] = [process.cpuUsage(), processCpuSeconds(flag('source-pid', 0)), processCpuSeconds(flag('target-pid', 0))];
    try {
      return await work();
    } finally {
      const c = process.cpuUsage(c0);
      this.client += (c.user + c.system) / 1e6;
      this.source += processCpuSeconds(flag('source-pid', 0)) - s0;
      this.target += processCpuSeconds(flag('target-pid', 0)) - d0;
    }
  }
  result(): { cpuSeconds: number; srcCpu: number; dstCpu: number; maxRssMb: number } {
    return { cpuSeconds: this.client, srcCpu: this.source, dstCpu: this.target, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  }
}

function cluster(uri: string): MilvusGateway {
  return openCluster({ uri }, { logLevel: 'error' });
}

async function naivePhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const [src, dst] = [sdkClient(sourceUri), sdkClient(targetUri)];
  const rows: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  const meter = new CpuMeter();
  for (const name of [VEC, RICH]) {
    const t0 = performance.now();
    let n = 0;
    await meter.span(async () => {
      const iterator = await src.queryIterator({ collection_name: name, batchSize: 500, output_fields: ['*'] } as never);
      for await (const page of iterator) {
        if (!page.length) continue;
        const reply = await dst.insert({ collection_name: `${prefix}${name}`, data: page, timeout: 600_000 } as never);
        assertOk(reply, 'naive insert');
        n += page.length;
      }
    });
    seconds[name] = (performance.now() - t0) / 1000;
    rows[name] = n;
  }
  await Promise.all([src.closeConnection(), dst.closeConnection()]);
  return { rows, seconds, ...meter.result() };
}

async function projectPhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const source = cluster(sourceUri);
  const target = cluster(targetUri);
  const rows: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  const planning: Record<string, number> = {};
  const meter = new CpuMeter();
  for (const name of [VEC, RICH]) {
    // Planning is the job's PlanShards step, timed apart: the copy's rate is that of CopyCollections.
    const p0 = performance.now();
    const [sourceSpec, targetSpec] = await Promise.all([describeCollection(source, DB, name), describeCollection(target, DB, `${prefix}${name}`)]);
    const count = await countRows(source, DB, name);
    const shards = await planShards(source, DB, sourceSpec, { rowsPerShard: Math.max(1, Math.ceil(count / SHARDS)) });
    planning[name] = (performance.now() - p0) / 1000;
    const t0 = performance.now();
    // As the state machine's Map runs them: SHARDS shards at once, each to done.
    const queue = [...shards];
    let copied = 0;
    await meter.span(() => Promise.all(
      Array.from({ length: Math.min(SHARDS, queue.length) }, async () => {
        for (let range = queue.shift(); range; range = queue.shift()) {
          let checkpoint: string | null = null;
          for (;;) {
            const r = await copyShard({
              source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: range as PkRange, checkpoint,
              batchBytes: BATCH_BYTES, batchRows: BATCH_ROWS, adaptiveBatches: BATCH_ROWS === undefined, deadline: Date.now() + 600_000,
              onBatch: async (p) => void (checkpoint = p.checkpoint),
            });
            copied += r.rowsCopied;
            if (r.done) break;
          }
        }
      }),
    ));
    seconds[name] = (performance.now() - t0) / 1000;
    rows[name] = copied;
  }
  await Promise.all([source.close(), target.close()]);
  return { rows, seconds, planning, ...meter.result() };
}

// ---------- the bounds: each server alone, and both at once, with a client that does nothing ----------

/** Where the SHARDS read streams split a collection: (lower, upper] by primary key. */
function streamRanges(name: string, rows: number): Array<{ afterPk: string | null; upperInclusive: string | null }> {
  // Rich ids are doc-<7 digits> with an optional '"q' suffix; '~' sorts after both forms of an id.
  const key = (i: number) => (name === VEC ? String(i) : `doc-${String(i).padStart(7, '0')}~`);
  const per = Math.ceil(rows / SHARDS);
  return Array.from({ length: SHARDS }, (_, k) => ({ afterPk: k === 0 ? null : key(k * per - 1), upperInclusive: k === SHARDS - 1 ? null : key((k + 1) * per - 1) }));
}

/** Reads a collection in pages of `pageRows` (raw query replies, as the copy reads them), SHARDS streams; `onPage` gets each page. */
async function readPages(cluster: MilvusGateway, spec: CollectionSpec, rows: number, pageRows: number, onPage: (page: Page<Columns>) => void = () => {}): Promise<void> {
  const reader = new ColumnPages({ cluster, db: DB, spec });
  await Promise.all(
    streamRanges(spec.name, rows).map(async ({ afterPk, upperInclusive }) => {
      for (let from = afterPk; ; ) {
        const page = await reader.read({ afterPk: from, upperInclusive, limit: pageRows });
        if (page.rowCount > 0) onPage(page);
        if (page.rowCount < pageRows) return;
        from = page.lastPk;
      }
    }),
  );
}

/** Insert requests for `targetName` holding exactly the source's rows, `pageRows` a request: built before any timing starts. */
async function preEncoded(source: MilvusGateway, spec: CollectionSpec, rows: number, targetName: string, pageRows: number): Promise<Buffer[]> {
  if (spec.name === VEC) return encodeVectorInserts(targetName, rows, DIM, pageRows, 1); // the seed's own requests
  const requests: Buffer[] = [];
  await readPages(source, spec, rows, pageRows, (page) => requests.push(encodeInsertRequest('', targetName, page.payload.fields, page.rowCount)));
  return requests;
}

function sdkClient(uri: string): MilvusClient {
  return new MilvusClient({ address: uri, telemetry: { enabled: false }, logLevel: 'error' } as never);
}

/** Times `work` per collection, CPU counted over the timed parts only. */
async function timedPerCollection(work: (name: string) => Promise<() => Promise<void>>): Promise<PhaseResult> {
  const rows: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  const meter = new CpuMeter();
  for (const name of [VEC, RICH]) {
    const run = await work(name); // untimed preparation
    const t0 = performance.now();
    await meter.span(run);
    seconds[name] = (performance.now() - t0) / 1000;
    rows[name] = name === VEC ? ROWS : RICH_ROWS;
  }
  return { rows, seconds, ...meter.result() };
}

/** The target alone: pre-encoded insert requests of --request-rows rows, SHARDS in flight. */
async function ceilingPhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const [reader, dst] = [cluster(sourceUri), sdkClient(targetUri)];
  const specs = await sourceSpecs(sourceUri);
  const result = await timedPerCollection(async (name) => {
    const requests = await preEncoded(reader, specs[name], name === VEC ? ROWS : RICH_ROWS, `${prefix}${name}`, flag('request-rows', 256));
    return () => sendInserts(dst, requests, SHARDS);
  });
  await Promise.all([reader.close(), dst.closeConnection()]);
  return result;
}

/** The source alone: its pages read (the project's page size, SHARDS streams) and dropped. */
async function readPhase(sourceUri: string): Promise<PhaseResult> {
  const reader = cluster(sourceUri);
  const specs = await sourceSpecs(sourceUri);
  const result = await timedPerCollection(async (name) => () => readPages(reader, specs[name], name === VEC ? ROWS : RICH_ROWS, pageRows(specs[name])));
  await reader.close();
  return result;
}

/**
 * Both servers at once with a client that does no work of its own: the source's pages read and
 * dropped while pre-encoded inserts of the same size go to the target (SHARDS in flight each).
 * On one machine this, not the target alone, bounds any copy between the two.
 */
async function serversPhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const [reader, dst] = [cluster(sourceUri), sdkClient(targetUri)];
  const specs = await sourceSpecs(sourceUri);
  const result = await timedPerCollection(async (name) => {
    const rows = name === VEC ? ROWS : RICH_ROWS;
    const requests = await preEncoded(reader, specs[name], rows, `${prefix}${name}`, pageRows(specs[name]));
    return async () => void (await Promise.all([readPages(reader, specs[name], rows, pageRows(specs[name])), sendInserts(dst, requests, SHARDS)]));
  });
  await Promise.all([reader.close(), dst.closeConnection()]);
  return result;
}

async function sourceSpecs(uri: string): Promise<Record<string, CollectionSpec>> {
  const c = cluster(uri);
  const specs = { [VEC]: await describeCollection(c, DB, VEC), [RICH]: await describeCollection(c, DB, RICH) };
  await c.close();
  return specs;
}

/** The project's rows per page: the job's byte budget over the measured row size, within batchRows. */
function pageRows(spec: CollectionSpec): number {
  const rowBytes = spec.name === VEC ? DIM * 4 + 16 : RICH_ROW_BYTES;
  return rowsForBudget(BATCH_BYTES, rowBytes, BATCH_ROWS ?? DEFAULT_START_ROWS);
}
/** About what a rich row measures in a query reply (for the page size of the bounds only). */
const RICH_ROW_BYTES = 330;

/**
 * The CLI end to end: `milvus-migrate run` of the vector collection into `${prefix}bench_vec`,
 * timed from the process's spawn to its exit; the CPU is the CLI's and its children's (DynamoDB Local).
 */
function cliPhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const bin = fileURLToPath(new URL('../bin/milvus-migrate.mjs', import.meta.url));
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'run', '--json', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `${VEC}:${prefix}${VEC}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      let status = 'unreadable';
      try {
        status = (JSON.parse(stdout) as { status: string }).status;
      } catch {
        // reported below
      }
      if (code !== 0 || status !== 'SUCCESSFUL') return reject(new Error(`milvus-migrate run exited with ${code}, job ${status}: ${stderr}`));
      resolve({ rows: { [VEC]: ROWS }, seconds: { [VEC]: seconds }, cpuSeconds: Number.NaN, srcCpu: Number.NaN, dstCpu: Number.NaN, maxRssMb: Number.NaN });
    });
  });
}

// ---------- orchestration ----------


function runPhase(phase: string, args: string[]): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    // --profile writes a V8 CPU profile of each phase's process to bench/profiles/ (chrome://inspect reads it).
    const execArgv = process.argv.includes('--profile') ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir=bench/profiles'] : process.execArgv;
    const child = fork(fileURLToPath(import.meta.url), ['--phase', phase, ...args, ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv });
    let result: PhaseResult | undefined;
    child.on('message', (m) => (result = m as PhaseResult));
    child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`phase ${phase} exited with ${code}`))));
  });
}

async function digest(c: MilvusGateway, name: string, spec: CollectionSpec): Promise<string> {
  // The query result bytes of every column, read in the same PK-ordered pages on each side.
  const reader = new ColumnPages({ cluster: c, db: DB, spec: { ...spec, name } });
  const hash = createHash('sha256');
  let after: string | null = null;
  for (;;) {
    const batch = await reader.read({ afterPk: after, upperInclusive: null, limit: 1000 });
    for (const f of [...batch.payload.fields].sort((a, b) => a.name.localeCompare(b.name))) for (const chunk of f.chunks) hash.update(chunk);
    if (batch.rowCount < 1000) return hash.digest('hex').slice(0, 16);
    after = batch.lastPk;
  }
}

async function readRows(c: MilvusGateway, name: string): Promise<string> {
  const out: unknown[] = [];
  let last: string | null = null;
  for (;;) {
    const filter: string = last === null ? '' : `id > ${JSON.stringify(last)}`;
    const rows = await c.queryRows(DB, { collection: name, pkField: 'id', filter, outputFields: ['*'], limit: 2000, timeoutMs: 120_000 });
    out.push(...rows);
    if (rows.length < 2000) return createHash('sha256').update(JSON.stringify(out)).digest('hex').slice(0, 16);
    last = String(rows[rows.length - 1].id);
  }
}

async function main(): Promise<void> {
  const phase = text('phase');
  if (phase) {
    const source = text('source');
    const target = text('target');
    const prefix = text('prefix');
    // This project's copy runs with the GC setting of the service's step processes (lib/milvus/gc.ts)
    // unless --gc incremental; the others as a hand-written client would, with Node's defaults.
    if ((phase === 'project' || phase === 'fixed') && text('gc') !== 'incremental') preferAtomicGc();
    const phases = { naive: () => naivePhase(source, target, prefix), project: () => projectPhase(source, target, prefix), fixed: () => projectPhase(source, target, prefix), ceiling: () => ceilingPhase(source, target, prefix), servers: () => serversPhase(source, target, prefix), read: () => readPhase(source) };
    const result = await phases[phase as keyof typeof phases]();
    process.send!(result, () => process.exit(0));
    return;
  }

  const t0 = performance.now();
  console.log(`bench: ${ROWS} rows of ${DIM}-d vectors + ${RICH_ROWS} rich rows; ${SHARDS} shards at once; ${BATCH_BYTES / 2 ** 20} MB batches`);
  const servers: LocalMilvus[] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  const [srcServer, dstServer] = servers;
  const source = cluster(srcServer.uri);
  const target = cluster(dstServer.uri);
  try {
    // Seed the source.
    const sc = sdkClient(srcServer.uri);
    assertOk(await sc.createCollection({ collection_name: VEC, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'emb', data_type: DataType.FloatVector, dim: DIM }] }), 'create');
    await sendInserts(sc, encodeVectorInserts(VEC, ROWS, DIM, Math.floor(BATCH_BYTES / (DIM * 4 + 16)), 1), 2);
    assertOk(
      await sc.createCollection({
        collection_name: RICH,
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
          { name: 'b', data_type: DataType.Bool },
          { name: 'i32', data_type: DataType.Int32, default_value: 7 },
          { name: 'i64', data_type: DataType.Int64 },
          { name: 'd', data_type: DataType.Double },
          { name: 's', data_type: DataType.VarChar, max_length: 32, default_value: 'dflt' },
          { name: 'j', data_type: DataType.JSON },
          { name: 'ai', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 8 },
          { name: 'sv', data_type: DataType.SparseFloatVector },
          { name: 'v', data_type: DataType.FloatVector, dim: 8 },
        ],
      }),
      'create',
    );
    const rich = richRows(RICH_ROWS);
    for (let i = 0; i < rich.length; i += 1000) assertOk(await sc.insert({ collection_name: RICH, data: rich.slice(i, i + 1000) as never }), 'seed');
    for (const [c, f, t, m] of [[VEC, 'emb', 'FLAT', 'COSINE'], [RICH, 'v', 'FLAT', 'L2'], [RICH, 'sv', 'SPARSE_INVERTED_INDEX', 'IP']]) {
      assertOk(await sc.createIndex({ collection_name: c, field_name: f, index_type: t, metric_type: m }), 'index');
    }
    const specs: Record<string, CollectionSpec> = {};
    for (const name of [VEC, RICH]) {
      specs[name] = await describeCollection(source, DB, name);
      await ensureLoaded(source, DB, specs[name]);
    }
    console.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const vecDigest = await digest(source, VEC, specs[VEC]);
    const richRowsDigest = await readRows(source, RICH);
    const want: Record<string, number> = { [VEC]: ROWS, [RICH]: RICH_ROWS };
    const checks: string[] = [];
    let identical = true;

    // Each run gets fresh target collections, made as CreateTargetCollection makes them and loaded
    // (as copyShard finds them), verified, then dropped so that no run finds a fuller server.
    // A run's kind is its phase, `@rows` for a ceiling's request size, `~ms` for an added round trip.
    type Run = { kind: string; prefix: string; args: string[]; latencyMs?: number };
    const runs: Run[] = PHASES.includes('naive') ? [{ kind: 'naive', prefix: 'naive_', args: [] }] : [];
    if (PHASES.includes('cli')) runs.push({ kind: 'cli', prefix: 'cli_', args: [] });
    for (let rep = 1; rep <= REPEAT; rep++) {
      if (PHASES.includes('project')) runs.push({ kind: 'project', prefix: `project${rep}_`, args: [] });
      if (PHASES.includes('fixed')) runs.push({ kind: 'fixed', prefix: `fixed${rep}_`, args: FIXED_ARGS });
      if (PHASES.includes('servers')) runs.push({ kind: 'servers', prefix: `servers${rep}_`, args: [] });
      if (PHASES.includes('read')) runs.push({ kind: 'read', prefix: `read${rep}_`, args: [] });
      if (PHASES.includes('ceiling')) for (const n of CEILING_REQUEST_ROWS) runs.push({ kind: `ceiling@${n}`, prefix: `ceiling${n}x${rep}_`, args: ['--request-rows', String(n)] });
    }
    // The project's copy at each distance runs --repeat times like the direct runs (the naive copy and the CLI once).
    for (let rep = 1; rep <= REPEAT; rep++) {
      for (const ms of LATENCIES) {
        for (const kind of ['naive', 'fixed', 'project', 'cli'].filter((k) => PHASES.includes(k) && (k === 'project' || k === 'fixed' || rep === 1))) {
          runs.push({ kind: `${kind}~${ms}`, prefix: `${kind}${ms}ms${rep}_`, args: kind === 'fixed' ? FIXED_ARGS : [], latencyMs: ms });
        }
      }
    }
    const results: Record<string, PhaseResult[]> = {};
    for (const run of runs) {
      const phase = run.kind.split(/[@~]/)[0]!;
      // The CLI creates its target collection itself, of the vector collection only.
      const names = phase === 'read' ? [] : phase === 'cli' ? [VEC] : [VEC, RICH];
      if (phase !== 'cli') {
        for (const name of names) {
          const { spec } = translateSchema(specs[name], { targetName: `${run.prefix}${name}`, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
          await createCollection(target, DB, spec);
          await ensureLoaded(target, DB, spec);
        }
      }
      // The distance: a proxy in front of each server delays every call by run.latencyMs.
      const proxies: FaultProxy[] = run.latencyMs === undefined ? [] : await Promise.all([srcServer, dstServer].map((server, i) => startFaultProxy({ upstream: server.uri, seed: i + 1, latency: { rate: 1, minMs: run.latencyMs!, maxMs: run.latencyMs! } })));
      const [sourceUri, targetUri] = proxies.length ? proxies.map((p) => p.uri) : [srcServer.uri, dstServer.uri];
      let r: PhaseResult;
      try {
        r = phase === 'cli'
          ? await cliPhase(sourceUri!, targetUri!, run.prefix)
          : await runPhase(phase, ['--source', sourceUri!, '--target', targetUri!, '--source-pid', String(srcServer.pid), '--target-pid', String(dstServer.pid), '--prefix', run.prefix, ...run.args]);
      } finally {
        await Promise.all(proxies.map((p) => p.stop()));
      }
      // Round trips made (through the proxies): how many pages the copy read and wrote, whatever the machine's load.
      if (proxies.length) r.calls = { queries: proxies[0]!.callsByMethod.Query ?? 0, inserts: proxies[1]!.callsByMethod.Insert ?? 0 };
      (results[run.kind] ??= []).push(r);
      console.log(`${run.kind} ${run.prefix}: ${JSON.stringify(r)}`);
      // Copies are compared with the source in full; the ceiling and servers runs, which send pre-encoded data, by count.
      for (const name of names) {
        const n = await countRows(target, DB, `${run.prefix}${name}`);
        const copied = phase === 'naive' || phase === 'project' || phase === 'fixed' || phase === 'cli';
        const d = !copied ? null : name === VEC ? await digest(target, `${run.prefix}${name}`, specs[VEC]) : await readRows(target, `${run.prefix}${name}`);
        const ok = n === want[name] && (d === null || d === (name === VEC ? vecDigest : richRowsDigest));
        identical &&= ok;
        checks.push(`${run.prefix}${name}: ${n} rows${d ? `, digest ${d}` : ''} ${ok ? (d ? 'identical to the source' : 'as sent') : 'DIFFERS'}`);
        await dropCollection(target, DB, `${run.prefix}${name}`);
      }
    }

    const rateOf = (r: PhaseResult, name: string) => r.rows[name] / r.seconds[name];
    const mid = <T,>(xs: T[], by: (x: T) => number): T => [...xs].sort((x, y) => by(x) - by(y))[Math.floor((xs.length - 1) / 2)] as T;
    /** The median rate of a kind of run, per collection. */
    const rate = (kind: string, name: string) => rateOf(mid(results[kind] ?? [], (r) => rateOf(r, name)), name);
    /** The run of median vector rate: its CPU and memory figures go in the table. */
    const median = (kind: string) => mid(results[kind] ?? [], (r) => rateOf(r, VEC));
    const ceilingKind = Object.keys(results)
      .filter((k) => k.startsWith('ceiling@'))
      .sort((a, b) => rate(b, VEC) - rate(a, VEC))[0];
    const richCeilingKind = Object.keys(results)
      .filter((k) => k.startsWith('ceiling@'))
      .sort((a, b) => rate(b, RICH) - rate(a, RICH))[0];
    const rows = ([
      ['naive', 'naive SDK (queryIterator 500 -> insert)'],
      ['fixed', `this project with fixed batches (copyShard, ${SHARDS} shards at once, ${BATCH_BYTES / 2 ** 20} MiB / ${DEFAULT_START_ROWS} rows per batch, as before batchSize.ts)`],
      ['project', `this project (copyShard, ${SHARDS} shards at once, ${BATCH_ROWS ? `${BATCH_BYTES / 2 ** 20} MiB / ${BATCH_ROWS} rows per batch` : `batches from ${BATCH_BYTES / 2 ** 20} MiB / ${DEFAULT_START_ROWS} rows, adapting`})`],
      ['read', `source raw read ceiling, the source alone (pages read and dropped, ${SHARDS} in flight)`],
      ...(ceilingKind ? [[ceilingKind, `target raw ingest ceiling, the target alone (pre-encoded inserts of ${ceilingKind.split('@')[1]} rows, ${SHARDS} in flight)`] as [string, string]] : []),
      ['servers', `both servers at once, client doing nothing (reads dropped + pre-encoded inserts, ${SHARDS}+${SHARDS} in flight)`],
      ['cli', `end to end: milvus-migrate run, process start to SUCCESSFUL (${ROWS.toLocaleString('en-US')} vectors)`],
    ] as Array<[string, string]>).filter(([k]) => results[k]);
    /** A figure, or '-' where a run has none (the CLI copies the vectors only, and its CPU is not split by part). */
    const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
    const fixed = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    const all = (kind: string, name: string) => (results[kind] ?? []).filter((r) => name in r.rows).map((r) => fmt(rateOf(r, name))).join(' / ');
    const cores = (await import('node:os')).cpus().length;
    console.log('');
    for (const name of [VEC, RICH]) console.log(`runs, ${name} rows/s: ${Object.keys(results).filter((k) => all(k, name)).map((k) => `${k} ${all(k, name)}`).join('; ')}`);
    console.log('');
    console.log(line(['copy (median of runs)', `${DIM}-d vectors (rows/s)`, 'rich rows (rows/s)', 'client CPU s', 'source server CPU s', 'target server CPU s', 'client peak RSS MB']));
    console.log(line(['---', '---:', '---:', '---:', '---:', '---:', '---:']));
    for (const [kind, label] of rows) {
      const r = median(kind);
      const richRate = kind === ceilingKind && richCeilingKind ? `${fmt(rate(richCeilingKind, RICH))}${richCeilingKind !== ceilingKind ? ` (${richCeilingKind.split('@')[1]} rows)` : ''}` : fmt(rate(kind, RICH));
      console.log(line([label, fmt(rate(kind, VEC)), richRate, fixed(r.cpuSeconds), fixed(r.srcCpu), fixed(r.dstCpu), fmt(r.maxRssMb)]));
    }
    if (LATENCIES.length > 0) {
      // The distance columns: the vectors' rate with each added round trip (0 ms: the direct runs above).
      const distance = (['naive', 'fixed', 'project', 'cli'] as const).filter((k) => results[k] || LATENCIES.some((ms) => results[`${k}~${ms}`]));
      // --latencies 0,...: the 0 ms column is a run through the proxy with no delay (the proxy's own cost in every column).
      const proxiedZero = LATENCIES.includes(0);
      const columns = proxiedZero ? LATENCIES : [0, ...LATENCIES];
      const at = (kind: string, ms: number) => (ms === 0 && !proxiedZero ? kind : `${kind}~${ms}`);
      const cell = (kind: string, ms: number) => {
        const runs = results[at(kind, ms)];
        if (!runs) return '-';
        const r = mid(runs, (x) => rateOf(x, VEC));
        return `${fmt(rateOf(r, VEC))} (${r.seconds[VEC]!.toFixed(1)} s${r.calls ? `, ${r.calls.inserts} inserts` : ''})`;
      };
      const label = { naive: 'naive SDK', fixed: `fixed batches of ${DEFAULT_START_ROWS} rows (before)`, project: `this project (copyShard, ${SHARDS} shards at once)`, cli: 'end to end: milvus-migrate run' } as const;
      console.log('');
      console.log(line([`${DIM}-d vectors, rows/s (seconds, inserts of both collections) with added round trip${proxiedZero ? ' (all through the proxy)' : ''}`, ...columns.map((ms) => `${ms} ms`)]));
      console.log(line(['---', ...columns.map(() => '---:')]));
      for (const kind of distance) console.log(line([label[kind], ...columns.map((ms) => cell(kind, ms))]));
      for (const ms of columns.filter((ms) => ms > 0)) {
        for (const kind of ['fixed', 'project']) {
          if (results[at(kind, ms)] && results[at(kind, 0)]) console.log(`${kind} at ${ms} ms / at 0 ms: ${pct(rate(at(kind, ms), VEC), rate(at(kind, 0), VEC))} (vectors), ${pct(rate(at(kind, ms), RICH), rate(at(kind, 0), RICH))} (rich)`);
        }
      }
    }
    console.log('');
    const both = (label: string, vec: (name: string) => number, of: (name: string) => number) => console.log(`${label}: ${pct(vec(VEC), of(VEC))} (vectors), ${pct(vec(RICH), of(RICH))} (rich)`);
    const project = (name: string) => rate('project', name);
    if (results.project && results.naive) console.log(`project / naive: ${(project(VEC) / rate('naive', VEC)).toFixed(1)}x (vectors), ${(project(RICH) / rate('naive', RICH)).toFixed(1)}x (rich)`);
    if (results.cli && results.naive) console.log(`end to end (milvus-migrate run) / naive: ${(rate('cli', VEC) / rate('naive', VEC)).toFixed(1)}x (vectors, the CLI's start and every step included)`);
    const ceiling = (name: string) => rate(name === VEC ? ceilingKind! : richCeilingKind!, name);
    if (results.project && ceilingKind) both('project / target ceiling', project, ceiling);
    if (results.project && results.read && ceilingKind) both('project / the slower server alone (the bound with each server on a host of its own)', project, (n) => Math.min(rate('read', n), ceiling(n)));
    if (results.project && results.servers) both('project / both servers with a client doing nothing (the bound on this machine)', project, (n) => rate('servers', n));
    if (results.servers && ceilingKind) both(`both servers / target ceiling (what sharing ${cores} cores with the source server leaves of the ceiling)`, (n) => rate('servers', n), ceiling);
    const plan = median('project')?.planning;
    if (plan) console.log(`planning (PlanShards, not in the copy's rate): ${Object.entries(plan).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}`);
    for (const c of checks) console.log(`verify ${c}`);
    console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s on ${cores} cores`);
    if (!identical) process.exitCode = 1;
  } finally {
    await Promise.all([source.close(), target.close()]);
    await Promise.all(servers.map((s) => s.stop()));
  }
}

await main();
