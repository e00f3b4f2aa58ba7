/**
 * npm run bench [-- --rows 50000 --rich-rows 5000 --shards 4 --batch-mb 1]
 *
 * Starts two milvus-lite servers, seeds a collection of 768-d float vectors and one with scalar,
 * JSON, array and sparse fields, then measures on the same data, each in its own process (so CPU
 * and peak RSS are the copier's alone):
 *   naive    the copy a user writes by hand: queryIterator pages of 500 -> insert of each page
 *   project  this project's copyShard over planned shards, --shards of them at once
 *   ceiling  the target's raw ingest: pre-encoded insert requests, --shards in flight
 * and verifies every copy (counts, a digest of the query result bytes, rows of the rich collection).
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import protobuf from 'protobufjs/minimal.js';
import { startMilvusLite, type LocalMilvus } from '../lib/local/milvusLite';
import { copyShard, countRows, createCollection, describeCollection, ensureLoaded, openCluster, planShards, translateSchema, type CollectionSpec, type MilvusCluster, type PkRange } from '../lib/milvus';
import { ColumnarBatchSource, rawChannel } from '../lib/milvus/columnar';
import { assertOk } from '../lib/milvus/status';
import { parseMutationResult } from '../lib/milvus/protoWire';

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
const BATCH_BYTES = flag('batch-mb', 1) * 1024 * 1024;

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
  const channel = rawChannel(client);
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
  cpuSeconds: number;
  maxRssMb: number;
}

function cluster(uri: string): MilvusCluster {
  return openCluster({ uri }, { logLevel: 'error' });
}

async function naivePhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const src = new MilvusClient({ address: sourceUri, telemetry: { enabled: false }, logLevel: 'error' } as never);
  const dst = new MilvusClient({ address: targetUri, telemetry: { enabled: false }, logLevel: 'error' } as never);
  const rows: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  for (const name of [VEC, RICH]) {
    const t0 = performance.now();
    let n = 0;
    const iterator = await src.queryIterator({ collection_name: name, batchSize: 500, output_fields: ['*'] } as never);
    for await (const page of iterator) {
      if (!page.length) continue;
      const reply = await dst.insert({ collection_name: `${prefix}${name}`, data: page, timeout: 600_000 } as never);
      assertOk(reply, 'naive insert');
      n += page.length;
    }
    seconds[name] = (performance.now() - t0) / 1000;
    rows[name] = n;
  }
  await Promise.all([src.closeConnection(), dst.closeConnection()]);
  return { rows, seconds, ...usage() };
}

async function projectPhase(sourceUri: string, targetUri: string, prefix: string): Promise<PhaseResult> {
  const source = cluster(sourceUri);
  const target = cluster(targetUri);
  const rows: Record<string, number> = {};
  const seconds: Record<string, number> = {};
  for (const name of [VEC, RICH]) {
    const t0 = performance.now();
    const [sourceSpec, targetSpec] = await Promise.all([describeCollection(source, DB, name), describeCollection(target, DB, `${prefix}${name}`)]);
    const count = await countRows(source, DB, name);
    const shards = await planShards(source, DB, sourceSpec, { rowsPerShard: Math.max(1, Math.ceil(count / SHARDS)) });
    if (process.env.BENCH_DEBUG) console.error(`${name}: planned ${shards.length} shards in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    // As the state machine's Map runs them: SHARDS shards at once, each to done.
    const queue = [...shards];
    let copied = 0;
    await Promise.all(
      Array.from({ length: Math.min(SHARDS, queue.length) }, async () => {
        for (let range = queue.shift(); range; range = queue.shift()) {
          let checkpoint: string | null = null;
          for (;;) {
            const r = await copyShard({
              source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: range as PkRange, checkpoint,
              batchBytes: BATCH_BYTES, deadline: Date.now() + 600_000,
              onBatch: async (p) => void (checkpoint = p.checkpoint),
            });
            copied += r.rowsCopied;
            if (r.done) break;
          }
        }
      }),
    );
    seconds[name] = (performance.now() - t0) / 1000;
    rows[name] = copied;
  }
  await Promise.all([source.close(), target.close()]);
  return { rows, seconds, ...usage() };
}

async function ceilingPhase(targetUri: string, prefix: string): Promise<PhaseResult> {
  const client = new MilvusClient({ address: targetUri, telemetry: { enabled: false }, logLevel: 'error' } as never);
  const rowsPer = Math.floor(BATCH_BYTES / (DIM * 4 + 16));
  const requests = encodeVectorInserts(`${prefix}${VEC}`, ROWS, DIM, rowsPer, 1);
  const before = process.cpuUsage();
  const t0 = performance.now();
  await sendInserts(client, requests, SHARDS);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(before);
  await client.closeConnection();
  return { rows: { [VEC]: ROWS }, seconds: { [VEC]: seconds }, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMb: usage().maxRssMb };
}

function usage(): { cpuSeconds: number; maxRssMb: number } {
  const u = process.resourceUsage();
  return { cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMb: u.maxRSS / 1024 };
}

// ---------- orchestration ----------

function serverCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (100/s)
}

function runPhase(phase: string, args: string[]): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--phase', phase, ...args, ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let result: PhaseResult | undefined;
    child.on('message', (m) => (result = m as PhaseResult));
    child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`phase ${phase} exited with ${code}`))));
  });
}

async function digest(c: MilvusCluster, name: string, spec: CollectionSpec): Promise<string> {
  // The query result bytes of every column, read in the same PK-ordered pages on each side.
  const reader = new ColumnarBatchSource(c.client(DB), { ...spec, name });
  const hash = createHash('sha256');
  let after: string | null = null;
  for (;;) {
    const batch = await reader.read({ afterPk: after, upperInclusive: null, limit: 1000 });
    for (const f of [...batch.payload.fields].sort((a, b) => a.name.localeCompare(b.name))) for (const chunk of f.chunks) hash.update(chunk);
    if (batch.rowCount < 1000) return hash.digest('hex').slice(0, 16);
    after = batch.lastPk;
  }
}

async function readRows(c: MilvusCluster, name: string): Promise<string> {
  const out: unknown[] = [];
  let last: string | null = null;
  for (;;) {
    const filter: string = last === null ? '' : `id > ${JSON.stringify(last)}`;
    const r = await c.client(DB).query({ collection_name: name, filter, output_fields: ['*'], limit: 2000, consistency_level: 'Strong' as never });
    assertOk(r, 'read');
    out.push(...r.data);
    if (r.data.length < 2000) return createHash('sha256').update(JSON.stringify(out)).digest('hex').slice(0, 16);
    last = String(r.data[r.data.length - 1].id);
  }
}

async function main(): Promise<void> {
  const phase = text('phase');
  if (phase) {
    const source = text('source');
    const target = text('target');
    const prefix = text('prefix');
    const result = phase === 'naive' ? await naivePhase(source, target, prefix) : phase === 'project' ? await projectPhase(source, target, prefix) : await ceilingPhase(target, prefix);
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
    const sc = source.client(DB);
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
    // Targets, as CreateTargetCollection makes them, loaded (as copyShard finds them).
    for (const prefix of ['naive_', 'project_', 'ceiling_']) {
      for (const name of prefix === 'ceiling_' ? [VEC] : [VEC, RICH]) {
        const { spec } = translateSchema(specs[name], { targetName: `${prefix}${name}`, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
        await createCollection(target, DB, spec);
        await ensureLoaded(target, DB, spec);
      }
    }
    console.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const results: Record<string, PhaseResult & { srcCpu: number; dstCpu: number }> = {};
    for (const [phase, prefix] of [['naive', 'naive_'], ['project', 'project_'], ['ceiling', 'ceiling_']]) {
      const s0 = serverCpuSeconds(srcServer.pid);
      const d0 = serverCpuSeconds(dstServer.pid);
      const r = await runPhase(phase, ['--source', srcServer.uri, '--target', dstServer.uri, '--prefix', prefix]);
      results[phase] = { ...r, srcCpu: serverCpuSeconds(srcServer.pid) - s0, dstCpu: serverCpuSeconds(dstServer.pid) - d0 };
      console.log(`${phase}: ${JSON.stringify(r)}`);
    }

    // Verify: counts, byte digests of the vector collections, rows of the rich one.
    const checks: string[] = [];
    const want: Record<string, number> = { [VEC]: ROWS, [RICH]: RICH_ROWS };
    const vecDigest = await digest(source, VEC, specs[VEC]);
    const richRowsDigest = await readRows(source, RICH);
    let identical = true;
    for (const prefix of ['naive_', 'project_', 'ceiling_']) {
      for (const name of prefix === 'ceiling_' ? [VEC] : [VEC, RICH]) {
        const n = await countRows(target, DB, `${prefix}${name}`);
        const d = name === VEC ? await digest(target, `${prefix}${name}`, specs[VEC]) : await readRows(target, `${prefix}${name}`);
        const ok = n === want[name] && d === (name === VEC ? vecDigest : richRowsDigest);
        identical &&= ok;
        checks.push(`${prefix}${name}: ${n} rows, digest ${d} ${ok ? 'identical to the source' : 'DIFFERS'}`);
      }
    }

    const rate = (p: string, name: string) => results[p].rows[name] / results[p].seconds[name];
    const naiveVec = rate('naive', VEC);
    const projectVec = rate('project', VEC);
    const ceiling = rate('ceiling', VEC);
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
    console.log('');
    console.log(line(['copy', `${DIM}-d vectors (rows/s)`, 'rich rows (rows/s)', 'copier CPU s', 'source server CPU s', 'target server CPU s', 'copier peak RSS MB']));
    console.log(line(['---', '---:', '---:', '---:', '---:', '---:', '---:']));
    for (const [p, label] of [['naive', 'naive SDK (queryIterator 500 -> insert)'], ['project', `this project (copyShard, ${SHARDS} shards at once)`], ['ceiling', `target raw ingest ceiling (pre-encoded inserts, ${SHARDS} in flight)`]]) {
      const r = results[p];
      console.log(line([label, fmt(rate(p, VEC)), r.rows[RICH] ? fmt(rate(p, RICH)) : '-', r.cpuSeconds.toFixed(1), r.srcCpu.toFixed(1), r.dstCpu.toFixed(1), r.maxRssMb.toFixed(0)]));
    }
    console.log('');
    console.log(`project / naive: ${(projectVec / naiveVec).toFixed(1)}x (vectors), ${(rate('project', RICH) / rate('naive', RICH)).toFixed(1)}x (rich)`);
    console.log(`project / ceiling: ${((100 * projectVec) / ceiling).toFixed(0)}% (vectors)`);
    for (const c of checks) console.log(`verify ${c}`);
    console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s on ${(await import('node:os')).cpus().length} cores`);
    if (!identical) process.exitCode = 1;
  } finally {
    await Promise.all([source.close(), target.close()]);
    await Promise.all(servers.map((s) => s.stop()));
  }
}

await main();
