import { startMilvusLite } from '../../lib/local/milvusLite';
import { startLocalRuntime } from '../../lib/local/runtime';
import { seedSampleCollections } from '../../lib/local/sampleData';
import { cleanupOnSignal } from '../interrupt';
import { formatJobSummary } from '../output';
import { runMigration } from './run';

/**
 * The main job on the embedded default: two milvus-lite clusters, sample collections of
 * different shapes on the source, an offline migration through the local runtime, verification.
 */
export async function demoCommand(flags: { json?: boolean }): Promise<number> {
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
    const { job, exitCode } = await runMigration(
      { type: 'offline', sourceUri: source.uri, targetUri: target.uri, database: 'default', json: flags.json },
      runtime,
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
    else process.stdout.write(`${formatJobSummary(job)}\n`);
    return exitCode;
  } finally {
    release();
    say('stopping the clusters and DynamoDB Local');
    await Promise.allSettled([runtime.stop(), source.stop(), target.stop()]);
  }
}
