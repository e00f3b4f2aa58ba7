/**
 * Per-collection overhead of a job, end to end as a user runs it.
 *
 *   npm run bench:collections [-- --collections 600 --rows 10 --profile DIR]
 *
 * Starts two milvus-lite servers, creates N small collections on the source (an int64 key, an
 * 8-d float vector, `--rows` rows each), then runs `milvus-migrate run --json` (the CLI start,
 * DynamoDB Local and the state machine included) and prints:
 *  - the seconds from the command to SUCCESSFUL, and per collection;
 *  - when each phase started (read from the CLI's progress lines on stderr);
 *  - CPU seconds per process (the CLI's node, DynamoDB Local's java, both milvus-lite servers),
 *    sampled from /proc once a second, which says where the time went.
 * Figures only: nothing here asserts a timing.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startMilvusLite } from '../local/milvusLite';
import { processCpuSeconds } from './processCpu';

const { values } = parseArgs({
  options: { collections: { type: 'string', default: '120' }, rows: { type: 'string', default: '10' }, profile: { type: 'string' } },
});
const collections = Number(values.collections);
const rows = Number(values.rows);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

const [source, target] = await Promise.all([startMilvusLite(), startMilvusLite()]);
try {
  const setupStarted = Date.now();
  await createCollections(source.uri, collections, rows);
  console.error(`source: ${collections} collection(s) of ${rows} row(s) in ${seconds(Date.now() - setupStarted)} s`);

  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      // --profile DIR: a V8 CPU profile of the CLI's process (open it in Chrome DevTools), to see where a collection's time goes.
      ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []),
      path.join(root, 'bin/milvus-migrate.mjs'),
      'run', '--type', 'offline', '--source-uri', source.uri, '--target-uri', target.uri, '--json'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
  );
  const phases = new Map<string, number>();
  let stdout = '';
  let stderrTail = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    stderrTail = (stderrTail + text).slice(-4000);
    for (const match of text.matchAll(/ (\w+) phase=(\w+) /g)) {
      const key = `${match[1]} ${match[2]}`;
      if (!phases.has(key)) phases.set(key, Date.now() - started);
    }
  });
  const cpu = new Map<number, { name: string; seconds: number }>();
  const sampler = setInterval(() => sampleDescendants(child.pid ?? 0, cpu), 1000);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  const elapsed = Date.now() - started;
  const status = stdout.trim() ? (JSON.parse(stdout) as { status: string }).status : `no job printed (exit ${exitCode}): ${stderrTail}`;

  console.log(`\n${collections} collection(s) of ${rows} row(s): ${status} in ${seconds(elapsed)} s end to end (${((elapsed / collections) | 0)} ms a collection)`);
  console.log('phase started at (s after the command):');
  for (const [phase, at] of phases) console.log(`  ${phase.padEnd(34)} ${seconds(at)}`);
  const servers = [
    { name: 'milvus-lite source', seconds: processCpuSeconds(source.pid) },
    { name: 'milvus-lite target', seconds: processCpuSeconds(target.pid) },
  ];
  console.log('CPU seconds by process (sampled each second; the machine has 2 cores shared):');
  for (const p of [...cpu.values(), ...servers].sort((a, b) => b.seconds - a.seconds)) console.log(`  ${p.name.padEnd(34)} ${p.seconds.toFixed(1)}`);
} finally {
  await Promise.all([source.stop(), target.stop()]);
}

async function createCollections(uri: string, count: number, rowsEach: number): Promise<void> {
  const client = new MilvusClient({ address: uri, telemetry: { enabled: false }, logLevel: 'warn' } as never);
  try {
    const names = Array.from({ length: count }, (_, i) => `tenant_${String(i).padStart(5, '0')}`);
    for (let start = 0; start < names.length; start += 8) {
      await Promise.all(
        names.slice(start, start + 8).map(async (name) => {
          await client.createCollection({
            collection_name: name,
            fields: [
              { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: false },
              { name: 'vector', data_type: DataType.FloatVector, dim: 8 },
            ],
          });
          const data = Array.from({ length: rowsEach }, (_, id) => ({ id, vector: Array.from({ length: 8 }, () => Math.random()) }));
          if (data.length > 0) await client.insert({ collection_name: name, data });
        }),
      );
    }
  } finally {
    await client.closeConnection();
  }
}

/** Records the CPU seconds of every descendant of `pid` seen so far (a process that exited keeps its last sample). */
function sampleDescendants(pid: number, seen: Map<number, { name: string; seconds: number }>): void {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const family = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, parent] of parents) {
      if (family.has(parent) && !family.has(child)) {
        family.add(child);
        grew = true;
      }
    }
  }
  for (const member of family) {
    try {
      const name = readFileSync(`/proc/${member}/cmdline`, 'utf8').split('\0').filter(Boolean).map((a) => path.basename(a)).slice(0, 2).join(' ');
      seen.set(member, { name: `${name.slice(0, 28)} (${member})`, seconds: processCpuSeconds(member) });
    } catch {
      // exited meanwhile
    }
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
