import { startMilvusLite } from '../../local/milvusLite';
import { startLocalRuntime } from '../../local/runtime';
import { createWrittenCollection, startMixedWriter } from '../../local/mixedWriter';
import type { LocalRuntime } from '../../local/runtime';
import { seedSampleCollections } from '../../local/sampleData';
import { cleanupOnSignal } from '../interrupt';
import { formatJobSummary } from '../output';
import { ProgressPrinter } from '../progress';
import type { JobView } from '../output';
import { inProcess } from '../localRuntimes';
import { runMigration } from './run';

/**
 * The main job on the embedded default: two milvus-lite clusters, sample collections of
 * different shapes on the source, an offline migration through the local runtime, verification.
 */
export async function demoCommand(flags: { json?: boolean; online?: boolean }): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say('starting two milvus-lite clusters and DynamoDB Local ...');
  const starting = [startMilvusLite(), startMilvusLite(), startLocalRuntime()] as const;
  // Ctrl-C or SIGTERM, even while they start, stops the servers rather than orphaning them.
  const release = cleanupOnSignal(() => Promise.allSettled(starting.map(async (server) => (await server).stop())));
  let source: Awaited<(typeof starting)[0]>, target: Awaited<(typeof starting)[1]>, runtime: Awaited<(typeof starting)[2]>;
  try {
    [source, target, runtime] = await Promise.all(starting);
  } catch (error) {
    release();
    await Promise.allSettled(starting.map(async (server) => (await server).stop()));
    throw error;
  }
  try {
    say(`source ${source.uri}, target ${target.uri}; seeding the source ...`);
    const names = await seedSampleCollections(source.uri);
    say(`seeded ${names.join(', ')}; migrating ...`);
    const { job, exitCode } = flags.online
      ? await onlineDemo(runtime, source.uri, target.uri, say)
      : await runMigration({ type: 'offline', sourceUri: source.uri, targetUri: target.uri, database: 'default', json: flags.json }, inProcess(runtime));
    if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    else process.stdout.write(`${formatJobSummary(job)}\n`);
    return exitCode;
  } finally {
    release();
    say('stopping the clusters and DynamoDB Local');
    await Promise.allSettled([runtime.stop(), source.stop(), target.stop()]);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The online mode as an operator lives it: an application keeps writing to the source while the
 * job copies and syncs; once the lag alert is in, the writer stops, stop-sync is confirmed, and the
 * job drains, verifies and ends.
 */
async function onlineDemo(runtime: LocalRuntime, sourceUri: string, targetUri: string, say: (line: string) => void): Promise<{ job: JobView; exitCode: number }> {
  const app = 'app_events';
  await createWrittenCollection(sourceUri, app, 5_000);
  const writer = startMixedWriter(sourceUri, app, { existingRows: 5_000, writesPerSecond: 200 });
  say(`an application writes to ${app} on the source (~200 rows/s: inserts, upserts, deletes); starting an online migration of every database ...`);
  try {
    const { jobId } = (await runtime.service.create({ type: 'online', source: { uri: sourceUri }, target: { uri: targetUri } })) as { jobId: string };
    const printer = new ProgressPrinter(say);
    let job = await runtime.service.get(jobId);
    const deadline = Date.now() + 10 * 60_000;
    while (!job.sync?.lagAlertSentAt) {
      if (['FAILED', 'CANCELLED'].includes(job.status) || Date.now() > deadline) return { job, exitCode: 1 };
      printer.update(job);
      if (job.status === 'SYNCING') say(`  syncing: cycle ${job.sync?.cycles ?? 0}, lag ${job.syncLagSeconds ?? '-'} s`);
      await sleep(1000);
      job = await runtime.service.get(jobId);
    }
    say(`lag alert: ${job.syncLagSeconds} s, under the threshold (event SyncLagBelowThreshold; on AWS an email). Stopping the application ...`);
    const stats = await writer.stop();
    say(`the application stopped after ${stats.inserted} inserts, ${stats.upserted} upserts, ${stats.deleted} deletes; confirming stop-sync ...`);
    await runtime.service.stopSync(jobId, { confirmWritesStopped: true });
    while (!['SUCCESSFUL', 'FAILED', 'CANCELLED'].includes(job.status)) {
      await sleep(250);
      job = await runtime.service.get(jobId);
    }
    if (job.status === 'SUCCESSFUL') say(`cut over in ${job.cutoverSeconds} s (confirmation to SUCCESSFUL), every row compared`);
    return { job, exitCode: job.status === 'SUCCESSFUL' ? 0 : 1 };
  } finally {
    await writer.stop();
  }
}
