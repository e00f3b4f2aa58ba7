/**
 * npm run bench:sync [-- --rows 50000 --dim 128 --shards 4 --batch-rows 256,1024]
 *
 * One online sync pass on its own, without the state machine or a writer: two milvus-lite
 * servers, a collection of --rows rows (--dim-d vectors, a VarChar, JSON and dynamic keys) copied to
 * the target, then syncRange over --shards ranges at once, comparing only, at each --batch-rows,
 * and once applying a few hundred changes made on the source. Prints rows/s and the CPU of the
 * client and of each server; exits 1 if a pass finds a difference it should not, or misses one.
 */
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { processCpuSeconds } from './processCpu';
import { startMilvusLite } from '../local/milvusLite';
import { createWrittenCollection } from '../local/mixedWriter';
import { JobOptions } from '../lib/jobs/model';
import { copyShard, createCollection, describeCollection, ensureLoaded, openCluster, planShards, translateSchema, type PkRange } from '../lib/milvus';
import { preferAtomicGc } from '../lib/milvus/gc';
import { syncRange, type RangeSyncResult } from '../lib/sync/rangeSync';
import { DEFAULT_START_ROWS } from '../lib/milvus/keyRange/batchSize';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}
const ROWS = Number(flag('rows', '50000'));
const DIM = Number(flag('dim', '128'));
const SHARDS = Number(flag('shards', '4'));
const DEFAULTS = JobOptions.parse({});
const PAGE_ROWS = DEFAULTS.batchRows ?? DEFAULT_START_ROWS;
const BATCH_ROWS = flag('batch-rows', `${PAGE_ROWS},1024`).split(',').map(Number);
const DB = 'default';
const NAME = 'bench_sync';


async function main(): Promise<void> {
  preferAtomicGc(); // as the step processes run
  const [sourceServer, targetServer] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  const source = openCluster({ uri: sourceServer.uri }, { logLevel: 'error' });
  const target = openCluster({ uri: targetServer.uri }, { logLevel: 'error' });
  let failed = false;
  try {
    await createWrittenCollection(sourceServer.uri, NAME, ROWS, DIM);
    const sourceSpec = await describeCollection(source, DB, NAME);
    const { spec: targetSpec } = translateSchema(sourceSpec, { targetName: NAME, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
    await createCollection(target, DB, targetSpec);
    await ensureLoaded(target, DB, targetSpec);
    const ranges: PkRange[] = await planShards(source, DB, sourceSpec, { rowsPerShard: Math.ceil(ROWS / SHARDS) });
    await Promise.all(
      ranges.map(async (range) => {
        for (let checkpoint: string | null = null; ; ) {
          const r = await copyShard({ source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range, checkpoint, batchBytes: DEFAULTS.batchBytes, batchRows: PAGE_ROWS, deadline: Date.now() + 600_000, onBatch: async (p) => void (checkpoint = p.checkpoint) });
          if (r.done) return;
        }
      }),
    );
    console.log(`${ROWS} rows of ${DIM}-d (a VarChar, JSON and dynamic keys) copied; ${ranges.length} ranges`);

    const pass = async (label: string, batchRows: number, apply: boolean) => {
      const [c0, s0, t0] = [process.cpuUsage(), processCpuSeconds(sourceServer.pid), processCpuSeconds(targetServer.pid)];
      const started = performance.now();
      const results: RangeSyncResult[] = await Promise.all(
        ranges.map((range) => syncRange({ source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range, batchBytes: DEFAULTS.batchBytes, batchRows, apply })),
      );
      const seconds = (performance.now() - started) / 1000;
      const client = process.cpuUsage(c0);
      const sum = (k: 'rowsCompared' | 'inserted' | 'updated' | 'deleted') => results.reduce((n, r) => n + r[k], 0);
      console.log(
        `| ${label} | ${batchRows} | ${sum('rowsCompared').toLocaleString('en-US')} | ${sum('inserted')}/${sum('updated')}/${sum('deleted')} | ${seconds.toFixed(2)} | ${Math.round(sum('rowsCompared') / seconds).toLocaleString('en-US')} | ${((client.user + client.system) / 1e6).toFixed(2)} | ${(processCpuSeconds(sourceServer.pid) - s0).toFixed(2)} | ${(processCpuSeconds(targetServer.pid) - t0).toFixed(2)} |`,
      );
      return { changes: sum('inserted') + sum('updated') + sum('deleted'), compared: sum('rowsCompared') };
    };

    console.log('| pass | rows per page | rows compared | inserted/updated/deleted | s | rows/s | client CPU s | source CPU s | target CPU s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const batchRows of BATCH_ROWS) {
      const r = await pass('compare, no change', batchRows, false);
      if (r.changes !== 0 || r.compared !== ROWS) failed = true;
    }
    // 100 inserts, 100 changed rows, 100 deletes on the source; the applying pass must find exactly those.
    // The application's own client, writing to the source.
    const client = new MilvusClient({ address: sourceServer.uri, telemetry: { enabled: false }, logLevel: 'error' } as never);
    const rows = (await client.query({ collection_name: NAME, filter: '', output_fields: ['*'], limit: 200, consistency_level: 'Strong' as never })).data as Array<Record<string, unknown>>;
    await client.insert({ collection_name: NAME, data: rows.slice(0, 100).map((r, i) => ({ ...r, id: ROWS + 1_000_000 + i })) as never });
    await client.upsert({ collection_name: NAME, data: rows.slice(100, 200).map((r) => ({ ...r, tag: 'changed' })) as never });
    const deleted = (await client.query({ collection_name: NAME, filter: '', output_fields: ['id'], limit: 100, offset: 1000, consistency_level: 'Strong' as never })).data as Array<Record<string, unknown>>;
    await client.delete({ collection_name: NAME, filter: `id in [${deleted.map((r) => String(r.id)).join(', ')}]` } as never);
    const applied = await pass('apply 300 changes', PAGE_ROWS, true);
    if (applied.changes !== 300) failed = true;
    const after = await pass('compare after apply', PAGE_ROWS, false);
    if (after.changes !== 0) failed = true;
    if (failed) console.log('A PASS FOUND WHAT IT SHOULD NOT, OR MISSED A CHANGE');
  } finally {
    await Promise.all([source.close(), target.close()]);
    await Promise.all([sourceServer.stop(), targetServer.stop()]);
  }
  if (failed) process.exitCode = 1;
}

await main();
