/**
 * Does milvus-lite's per-operation cost grow with the collection size?
 * npx tsx .scratch/lite-scaling/liteScaling.ts [--sizes 100000,1000000] [--reps 30]
 * Collection shaped like local/mixedWriter.ts createWrittenCollection (Int64 pk, 128-d vec, VarChar, JSON, dynamic).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startMilvusLite } from '../../local/milvusLite';

const arg = (n: string, d: string) => (process.argv.includes(`--${n}`) ? process.argv[process.argv.indexOf(`--${n}`) + 1]! : d);
const SIZES = arg('sizes', '100000,1000000').split(',').map(Number);
const REPS = Number(arg('reps', '30'));
const WARMUP = 3;
const DIM = 128;
const SEED_BATCH = 5000;
const NAME = 'lite_scaling';
const OP_BUDGET_MS = 120_000;
const OUT = new URL('./results.json', import.meta.url);

function row(id: number, version: number): Record<string, unknown> {
  return {
    id,
    vec: Array.from({ length: DIM }, (_, k) => Math.sin(id * 31 + k + version * 7)),
    tag: `row ${id} v${version}`,
    meta: { version, parity: id % 2 === 0 ? 'even' : 'odd', nested: { at: version } },
    ...(id % 3 === 0 ? { extra: `dynamic ${id}.${version}` } : {}),
  };
}
const ok = (s: { error_code?: string | number; reason?: string }, what: string) => {
  if (s.error_code !== undefined && s.error_code !== 'Success') throw new Error(`${what}: ${s.reason}`);
};
const pct = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor((p / 100) * v.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TICK = 100; // USER_HZ
function serverCpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

async function main() {
  const server = await startMilvusLite();
  console.log(`milvus-lite pid ${server.pid} at ${server.uri}`);
  writeFileSync(new URL('./server.pid', import.meta.url), String(server.pid));
  const c = new MilvusClient({ address: server.uri, telemetry: { enabled: false }, logLevel: 'warn', timeout: 30 * 60_000 } as never);
  const results: Record<string, unknown>[] = [];
  let version = 1;
  let nextNew = 5_000_000; // ids for fresh inserts
  try {
    ok(await c.createCollection({
      collection_name: NAME, enable_dynamic_field: true,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
        { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
        { name: 'tag', data_type: DataType.VarChar, max_length: 64 },
        { name: 'meta', data_type: DataType.JSON },
      ],
    } as never), 'create');
    let seeded = 0;
    let indexed = false;
    for (const size of SIZES) {
      const t0 = Date.now();
      for (let i = seeded; i < size; i += SEED_BATCH) {
        const batch = Array.from({ length: Math.min(SEED_BATCH, size - i) }, (_, k) => row(i + k, 0));
        const r = await c.insert({ collection_name: NAME, data: batch as never });
        ok(r.status, 'insert');
        if ((i / SEED_BATCH) % 40 === 0) console.log(`  seeded ${i + batch.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
      const seedS = (Date.now() - t0) / 1000;
      const t1 = Date.now();
      await c.flush({ collection_names: [NAME] });
      if (!indexed) {
        ok(await c.createIndex({ collection_name: NAME, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' }) as never, 'index');
        indexed = true;
      } else {
        await c.releaseCollection({ collection_name: NAME });
      }
      ok(await c.loadCollection({ collection_name: NAME }) as never, 'load');
      console.log(`size ${size}: seeded ${size - seeded} rows in ${seedS.toFixed(1)} s; flush+index/release+load ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      const seedRange = [seeded, size] as const;
      seeded = size;

      // Keys: queries/upserts from the lower 90% of the rows seeded at this step and before; deletes from the top 10% of this step's range.
      const delLo = seedRange[1] - Math.floor((seedRange[1] - seedRange[0]) / 10);
      const deleted = new Set<number>();
      const pickLive = () => { for (;;) { const k = Math.floor(Math.random() * size); if (k < delLo && !deleted.has(k) && !(k >= 90_000 && k < 100_000 && size > 100_000)) return k; } };
      const pickN = (n: number) => { const s = new Set<number>(); while (s.size < n) s.add(pickLive()); return [...s]; };
      let delCursor = delLo;

      await sleep(3000);
      const idleT = serverCpuTicks(server.pid);
      await sleep(15_000);
      const idleCpuPct = ((serverCpuTicks(server.pid) - idleT) / TICK / 15) * 100;
      console.log(`size ${size}: server idle CPU over 15 s: ${idleCpuPct.toFixed(1)} %`);

      const ops: Array<[string, () => Promise<number | void>]> = [
        ['query pk in [256], all fields', async () => {
          const r = await c.query({ collection_name: NAME, filter: `id in [${pickN(256).join(',')}]`, output_fields: ['*'] } as never);
          ok(r.status, 'q256'); return r.data.length; }],
        ['query pk in [1], all fields', async () => {
          const r = await c.query({ collection_name: NAME, filter: `id in [${pickLive()}]`, output_fields: ['*'] } as never);
          ok(r.status, 'q1'); return r.data.length; }],
        ['upsert 1 row (existing key)', async () => {
          version++; const r = await c.upsert({ collection_name: NAME, data: [row(pickLive(), version)] as never }); ok(r.status, 'up1'); }],
        ['upsert 256 rows (existing keys)', async () => {
          version++; const r = await c.upsert({ collection_name: NAME, data: pickN(256).map((k) => row(k, version)) as never }); ok(r.status, 'up256'); }],
        ['insert 1 row (new key)', async () => {
          const r = await c.insert({ collection_name: NAME, data: [row(nextNew++, 1)] as never }); ok(r.status, 'ins1'); }],
        ['delete pk in [256]', async () => {
          const keys = Array.from({ length: 256 }, () => delCursor++); keys.forEach((k) => deleted.add(k));
          const r = await c.delete({ collection_name: NAME, filter: `id in [${keys.join(',')}]` }); ok(r.status, 'del256'); return Number(r.delete_cnt); }],
        ['count(*)', async () => {
          const r = await c.query({ collection_name: NAME, filter: '', output_fields: ['count(*)'] } as never); ok(r.status, 'count');
          return Number((r.data[0] as Record<string, unknown>)['count(*)']); }],
      ];
      for (const [name, op] of ops) {
        const ms: number[] = [];
        let last: number | void = undefined;
        let clientCpu = 0; let serverTicks = 0;
        const started = Date.now();
        for (let i = 0; i < WARMUP + REPS; i++) {
          const cpu0 = process.cpuUsage(); const s0 = serverCpuTicks(server.pid); const t = performance.now();
          last = await op();
          const dt = performance.now() - t;
          if (i >= WARMUP) { ms.push(dt); const cu = process.cpuUsage(cpu0); clientCpu += (cu.user + cu.system) / 1000; serverTicks += serverCpuTicks(server.pid) - s0; }
          if (Date.now() - started > OP_BUDGET_MS && ms.length >= 5) break;
        }
        const rec = { size, op: name, n: ms.length, p50: +pct(ms, 50).toFixed(1), p95: +pct(ms, 95).toFixed(1), mean: +(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(1),
          clientCpuMsPerOp: +(clientCpu / ms.length).toFixed(1), serverCpuMsPerOp: +((serverTicks * 1000) / TICK / ms.length).toFixed(1), lastResult: last ?? null };
        results.push(rec);
        console.log(JSON.stringify(rec));
        writeFileSync(OUT, JSON.stringify(results, null, 1));
      }
      results.push({ size, idleCpuPct, seedSeconds: seedS });
      writeFileSync(OUT, JSON.stringify(results, null, 1));
    }
    // idle CPU at the end (after all ops at the largest size)
    await sleep(5000);
    const t = serverCpuTicks(server.pid); await sleep(15_000);
    console.log(`final idle CPU over 15 s: ${(((serverCpuTicks(server.pid) - t) / TICK / 15) * 100).toFixed(1)} %`);
  } finally {
    await c.closeConnection().catch(() => {});
    await server.stop();
    console.log('server stopped');
  }
}
main().catch((e) => { console.error(e); process.exitCode = 1; });
