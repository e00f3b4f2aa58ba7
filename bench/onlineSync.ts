/**
 * npm run bench:online [-- --rows 100000 --dim 128 --writes 200 --sync-seconds 60 --rows-per-shard 25000 --writers 1 --strategy capture [--switchover]]
 *
 * The online mode under a steady write load, end to end through the local runtime (the CDK
 * state machine, DynamoDB Local, two milvus-lite servers): seeds a collection, starts a writer
 * doing inserts, upserts and deletes at --writes rows/s, creates an online job, samples the job's
 * syncLagSeconds every second while it syncs for --sync-seconds, then stops the writer, confirms
 * stop-sync and measures the cutover's downtime (confirmation to SUCCESSFUL). Prints a table.
 *
 * --strategy capture: the job syncs from the capture endpoint's change log; the endpoint is
 * `milvus-migrate capture` in a process of its own, the writer writes through it, and the table
 * adds the write latency through the endpoint against the same writer straight to the source
 * (on a collection of its own, at the same time, which the job does not move).
 *
 * --switchover (with --strategy capture): the writers go on writing through the endpoint across
 * the cutover, and a probe upserts one row through it every 50 ms from the stop-sync on: the
 * windows in which it was refused are the downtime the applications see (the fence until the
 * switch, and a repair fence if the verification found rows that bypassed the endpoint).
 */
import { startMilvusLite } from '../local/milvusLite';
import { startLocalRuntime } from '../local/runtime';
import { countRows, openCluster } from '../lib/milvus';
import { createWrittenCollection, startMixedWriter, startProbe } from '../local/mixedWriter';
import { createApiHandler } from '../functions/api';
import { startApiServer } from '../functions/localHttpServer';
import { startCapture } from '../local/captureProcess';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const ROWS = flag('rows', 100_000);
const DIM = flag('dim', 128);
const WRITES = flag('writes', 200);
const SYNC_SECONDS = flag('sync-seconds', 60);
const ROWS_PER_SHARD = flag('rows-per-shard', 25_000);
/** Write loops at once: one loop waits for each call, so a rate of hundreds of rows/s needs several. */
const WRITERS = flag('writers', 1);
const STRATEGY = process.argv.includes('--strategy') ? process.argv[process.argv.indexOf('--strategy') + 1]! : 'snapshot-diff';
const SWITCHOVER = process.argv.includes('--switchover');
const PROBE_MS = 50;
const COLLECTION = 'bench_online';
const TABLE = 'milvus-migrate-bench-online';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function main(): Promise<void> {
  process.env.MILVUS_MIGRATE_STEP_LOG ??= 'off';
  const [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
  const runtime = await startLocalRuntime({ waitTimeOverrideMs: 1000, tableName: TABLE });
  try {
    let t = Date.now();
    await createWrittenCollection(source.uri, COLLECTION, ROWS, DIM);
    console.log(`seeded ${ROWS} rows of ${DIM}-d in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const capture = STRATEGY === 'capture';
    if (SWITCHOVER && !capture) throw new Error('--switchover needs --strategy capture');
    // For the latency the endpoint adds: the same writer straight to the source, during the sync, on
    // a small collection of the same shape that the job does not move.
    if (capture) await createWrittenCollection(source.uri, `${COLLECTION}_direct`, 1_000, DIM);
    t = Date.now();
    const { jobId } = (await runtime.service.create({
      type: 'online',
      source: { uri: source.uri },
      target: { uri: target.uri },
      ...(capture ? { databases: [{ name: 'default', collections: [{ name: COLLECTION }] }] } : {}),
      options: { rowsPerShard: ROWS_PER_SHARD, ...(capture ? { syncStrategy: 'capture' } : {}), ...(SWITCHOVER ? { switchover: true } : {}) },
    })) as { jobId: string };
    const endpoint = capture ? await startEndpoint(runtime, jobId) : undefined;
    const writer = startMixedWriter(endpoint?.address ?? source.uri, COLLECTION, { existingRows: ROWS, dim: DIM, writesPerSecond: WRITES, concurrency: WRITERS });
    let job = (await runtime.service.get(jobId)) as any;
    while (job.status !== 'SYNCING') {
      if (['FAILED', 'CANCELLED'].includes(job.status)) throw new Error(`job ${job.status}: ${job.error?.reason}`);
      await sleep(500);
      job = await runtime.service.get(jobId);
    }
    const fullCopySeconds = (Date.now() - t) / 1000;
    const syncingFrom = writer.stats.latenciesMs.length;
    const direct = capture ? startMixedWriter(source.uri, `${COLLECTION}_direct`, { existingRows: 1_000, dim: DIM, writesPerSecond: Math.min(WRITES, 50) }) : undefined;

    const lags: number[] = [];
    const comparingLags: number[] = [];
    const steadyLags: number[] = [];
    const syncingAt = Date.now();
    let comparedAfter: number | undefined;
    const syncUntil = Date.now() + SYNC_SECONDS * 1000;
    while (Date.now() < syncUntil) {
      await sleep(1000);
      job = await runtime.service.get(jobId);
      if (job.status !== 'SYNCING') throw new Error(`job left SYNCING: ${job.status} ${job.error?.reason ?? ''}`);
      if (typeof job.syncLagSeconds === 'number') {
        lags.push(job.syncLagSeconds);
        // Strategy capture: the first comparison of every row runs beside the log's cycles; then the cycles alone.
        if (job.sync?.lastComparisonAt) {
          comparedAfter ??= (Date.now() - syncingAt) / 1000;
          steadyLags.push(job.syncLagSeconds);
        } else comparingLags.push(job.syncLagSeconds);
      }
    }
    const cycles = job.sync.cycles;
    const cycle = job.sync.lastCycle;
    const directLatencies = (await direct?.stop())?.latenciesMs ?? [];
    // Without switchover the applications stop writing before the confirmation, as the operator is told to.
    const endpointLatencies = (SWITCHOVER ? writer.stats : await writer.stop()).latenciesMs.slice(syncingFrom);
    const probe = SWITCHOVER ? startProbe(endpoint!.address, COLLECTION, { dim: DIM, everyMs: PROBE_MS }) : undefined;

    const confirmed = Date.now();
    await runtime.service.stopSync(jobId, { confirmWritesStopped: true });
    while (!['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status)) {
      await sleep(100);
      job = await runtime.service.get(jobId);
    }
    const observedDowntime = (Date.now() - confirmed) / 1000;
    const refusals = await probe?.stop(confirmed);
    const writes = await writer.stop();
    await endpoint?.stop();
    if (job.status !== 'SUCCESSFUL') throw new Error(`job ${job.status}: ${job.error?.reason}`);

    const [s, tg] = [openCluster({ uri: source.uri }), openCluster({ uri: target.uri })];
    const [sourceRows, targetRows] = await Promise.all([countRows(s, 'default', COLLECTION, { readOnly: true }), countRows(tg, 'default', COLLECTION)]);
    await Promise.all([s.close(), tg.close()]);

    const rows: Array<[string, string]> = [
      ['collection', `${ROWS.toLocaleString('en-US')} rows, ${DIM}-d float vectors, JSON, dynamic field; ${Math.ceil(ROWS / ROWS_PER_SHARD)} shards of ${ROWS_PER_SHARD}`],
      ['write load', `${(writes.inserted + writes.upserted + writes.deleted) / writes.seconds | 0} rows/s, ${writes.latenciesMs.length / writes.seconds | 0} calls/s from ${WRITERS} loop(s) (${writes.inserted} inserts, ${writes.upserted} upserts, ${writes.deleted} deletes, ${writes.failed} failed)`],
      ['full copy (create to SYNCING)', `${fullCopySeconds.toFixed(1)} s`],
      ['sync cycles', `${cycles} in ${SYNC_SECONDS} s; last: ${cycle ? ((Date.parse(cycle.endedAt) - Date.parse(cycle.startedAt)) / 1000).toFixed(1) : '?'} s for ${cycle?.rowsCompared} rows`],
      ['syncLagSeconds p50 / p95 / max', `${percentile(lags, 50)} / ${percentile(lags, 95)} / ${Math.max(...lags)} s (${lags.length} samples, 1/s)`],
      ['  while the first comparison of every row ran', comparingLags.length ? `${percentile(comparingLags, 50)} / ${percentile(comparingLags, 95)} / ${Math.max(...comparingLags)} s (${comparingLags.length} samples; it ended ${comparedAfter === undefined ? 'after the sync window' : `${comparedAfter.toFixed(0)} s into the sync`})` : 'no sample'],
      ['  after it (steady state)', steadyLags.length ? `${percentile(steadyLags, 50)} / ${percentile(steadyLags, 95)} / ${Math.max(...steadyLags)} s (${steadyLags.length} samples)` : 'no sample: the first comparison outlasted the sync window'],
      ['cutover downtime (job cutoverSeconds)', `${job.cutoverSeconds} s`],
      [SWITCHOVER ? 'cutover (observed, confirm to SUCCESSFUL; writes accepted meanwhile once switched)' : 'cutover downtime (observed, confirm to SUCCESSFUL)', `${observedDowntime.toFixed(1)} s`],
      ...(refusals
        ? ([
            [
              'writes refused (probe every 50 ms through the endpoint)',
              refusals.windows.length
                ? refusals.windows.map((w) => `${w.seconds.toFixed(2)} s from +${w.from.toFixed(2)} s`).join('; ') + ` (${refusals.refused} of ${refusals.sent} probes refused)`
                : `none (${refusals.sent} probes)`,
            ],
          ] as Array<[string, string]>)
        : []),
      ...(capture
        ? ([
            ['strategy', 'capture (writer through the capture endpoint: `milvus-migrate capture` in a process of its own)'],
            [
              'write latency p50 / p99: direct / through the endpoint',
              `${percentile(directLatencies, 50).toFixed(1)} / ${percentile(directLatencies, 99).toFixed(1)} ms direct (${directLatencies.length} calls); ${percentile(endpointLatencies, 50).toFixed(1)} / ${percentile(endpointLatencies, 99).toFixed(1)} ms through the endpoint (${endpointLatencies.length} calls), both while syncing`,
            ],
          ] as Array<[string, string]>)
        : []),
      ['verification', `${job.verification?.passed ? 'passed' : 'FAILED'}; source ${sourceRows} rows, target ${targetRows} rows`],
    ];
    // Where the cutover's time went: the job's events from the confirmation on.
    const events = [];
    for (let nextToken: string | undefined, first = true; first || nextToken; first = false) {
      const page = await runtime.service.events(jobId, { limit: '1000', ...(nextToken ? { nextToken } : {}) });
      events.push(...page.items.filter((e) => Date.parse(e.at) >= confirmed));
      nextToken = page.nextToken;
    }
    console.log('\ncutover timeline (s after the stop-sync confirmation):');
    for (const e of events) console.log(`  +${((Date.parse(e.at) - confirmed) / 1000).toFixed(1).padStart(5)}  ${e.type}: ${e.message.slice(0, 140)}`);
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\n| ${'measure'.padEnd(width)} | value |\n|${'-'.repeat(width + 2)}|-------|`);
    for (const [k, v] of rows) console.log(`| ${k.padEnd(width)} | ${v} |`);
  } finally {
    await runtime.stop();
    await Promise.all([source.stop(), target.stop()]);
  }
}

/**
 * The capture endpoint as users run it: `milvus-migrate capture JOB --api URL` in a process of its
 * own, reading the job through the API this bench serves (the runtime's), logging to its table.
 */
async function startEndpoint(runtime: Awaited<ReturnType<typeof startLocalRuntime>>, jobId: string) {
  const api = await startApiServer({ handler: createApiHandler(() => runtime.service), port: 0 });
  const endpoint = await startCapture(jobId, api.url, { MILVUS_MIGRATE_TABLE: TABLE, MILVUS_MIGRATE_DYNAMODB_ENDPOINT: runtime.dynamoEndpoint });
  return {
    address: endpoint.address,
    stop: async () => {
      await endpoint.stop();
      await api.close();
    },
  };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
