/**
 * How long `milvus-migrate run` takes to start a job, as a user sees it.
 *
 *   npm run bench:start [-- --runs 5 --rows 1000 --command 'node bin/milvus-migrate.mjs' [--command 'node OTHER/bin/milvus-migrate.mjs']]
 *
 * Starts two milvus-lite servers, seeds one small collection of 768-d vectors, then runs the CLI's
 * `run --json` --runs times, each in a fresh process, one after the other, into a new target
 * collection each time. For each run it prints, measured from the moment the process was spawned
 * (the clock of this machine, which the CLI's job record also uses):
 *   job created   the job's createdAt (POST /migrations answered: runtime started, request checked)
 *   job started   the job's startedAt (Preflight began: the job is IN_PROGRESS)
 *   SUCCESSFUL    the process exited, the job SUCCESSFUL
 *   CPU to job    CPU seconds of the CLI's process and its children (DynamoDB Local's JVM) when the
 *                 CLI printed its first progress line (the job created): on a busy machine the
 *                 wall times above wait for the cores, this counts what the start costs them
 * and the median of each. Two --command values (say, a checkout before a change) run turn by turn,
 * A B A B..., so a busy machine slows both alike. Figures only: nothing here asserts a timing.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startMilvusLite } from '../local/milvusLite';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    rows: { type: 'string', default: '1000' },
    command: { type: 'string', multiple: true },
  },
});
const RUNS = Number(values.runs);
const COMMANDS = values.command?.length ? values.command : ['node bin/milvus-migrate.mjs'];
const ROWS = Number(values.rows);
const DIM = 768;

interface Run {
  cpuToJobMs: number;
  createdMs: number;
  startedMs: number;
  endedMs: number;
  status: string;
}

/** CPU ms (user + system) of a process and its descendants, from /proc (Linux). */
function treeCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const own = ((Number(stat[11]) + Number(stat[12])) * 1000) / 100; // clock ticks of 10 ms
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return own + children.reduce((sum, child) => sum + treeCpuMs(child), 0);
  } catch {
    return 0;
  }
}

/** One `run --json` in a fresh process; times from its spawn. */
function runOnce(command: string, sourceUri: string, targetUri: string, targetName: string): Promise<Run> {
  const [bin, ...args] = command.split(' ');
  const spawnedAt = Date.now();
  const child = spawn(
    bin!,
    [...args, 'run', '--json', '--source-uri', sourceUri, '--target-uri', targetUri, '--collection', `bench_start:${targetName}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let cpuToJobMs = Number.NaN;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    // The first progress line: the job exists.
    if (Number.isNaN(cpuToJobMs) && stderr.includes(' phase=')) cpuToJobMs = treeCpuMs(child.pid!);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const endedMs = Date.now() - spawnedAt;
      try {
        const job = JSON.parse(stdout) as { status: string; createdAt: string; startedAt?: string };
        resolve({
          cpuToJobMs,
          createdMs: Date.parse(job.createdAt) - spawnedAt,
          startedMs: job.startedAt ? Date.parse(job.startedAt) - spawnedAt : Number.NaN,
          endedMs,
          status: job.status,
        });
      } catch {
        reject(new Error(`run exited with ${code}: ${stderr}`));
      }
    });
  });
}

const servers = await Promise.all([startMilvusLite(), startMilvusLite()]);
try {
  const [source, target] = servers as [Awaited<ReturnType<typeof startMilvusLite>>, Awaited<ReturnType<typeof startMilvusLite>>];
  const client = new MilvusClient({ address: source.uri, logLevel: 'error' } as never);
  await client.createCollection({
    collection_name: 'bench_start',
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'emb', data_type: DataType.FloatVector, dim: DIM },
    ],
  });
  for (let start = 0; start < ROWS; start += 500) {
    const data = Array.from({ length: Math.min(500, ROWS - start) }, (_, i) => ({ id: start + i, emb: Array.from({ length: DIM }, (_, k) => ((start + i) * 31 + k) % 97 / 97) }));
    await client.insert({ collection_name: 'bench_start', data });
  }
  await client.createIndex({ collection_name: 'bench_start', field_name: 'emb', index_type: 'FLAT', metric_type: 'COSINE' });
  await client.loadCollection({ collection_name: 'bench_start' });
  await client.closeConnection();

  console.log(`run start: ${ROWS} rows of ${DIM}-d vectors, ${RUNS} runs of each command; ms from the process's spawn`);
  const runs = new Map<string, Run[]>(COMMANDS.map((command) => [command, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const command of COMMANDS) {
      const run = await runOnce(command, source.uri, target.uri, `bench_start_${Date.now()}_${i}`);
      runs.get(command)!.push(run);
      console.log(`${command} run ${i + 1}: CPU to job ${run.cpuToJobMs} ms, job created ${run.createdMs} ms, job started ${run.startedMs} ms, ${run.status} ${run.endedMs} ms`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  for (const [command, of] of runs) {
    const range = (pick: (r: Run) => number) => {
      const xs = of.map(pick);
      return `${median(xs)} ms (min ${Math.min(...xs)}, max ${Math.max(...xs)})`;
    };
    console.log(`${command}, median: CPU to job ${range((r) => r.cpuToJobMs)}; job created ${range((r) => r.createdMs)}; job started ${range((r) => r.startedMs)}; process exit ${range((r) => r.endedMs)}`);
  }
  if ([...runs.values()].flat().some((r) => r.status !== 'SUCCESSFUL')) process.exitCode = 1;
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}
