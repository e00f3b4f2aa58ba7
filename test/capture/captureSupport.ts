import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import { client } from '../support/rows';

const bin = path.resolve('bin/milvus-migrate.mjs');

export interface CaptureProcess {
  child: ChildProcess;
  /** host:port it listens on. */
  address: string;
  stderr: () => string;
  /** Resolves with the exit signal or code once the process ended. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** `milvus-migrate capture JOB --api URL --listen 127.0.0.1:0` as a user runs it; resolves once it printed its address. */
export function startCapture(jobId: string, api: string, env: NodeJS.ProcessEnv): Promise<CaptureProcess> {
  const child = spawn(process.execPath, [bin, 'capture', jobId, '--api', api, '--listen', '127.0.0.1:0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`capture did not start within 120 s: ${stderr}`)), 120_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      const m = /listening on (\S+),/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        address: m[1]!,
        stderr: () => stderr,
        exited,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`capture exited (${how}) before listening: ${stderr}`));
    });
  });
}

const DIM = 8;

export function vector(seed: number): number[] {
  return Array.from({ length: DIM }, (_, i) => Math.round(Math.sin(seed * 7 + i) * 1000) / 1000);
}

/** An explicit-key collection (id Int64, tag VarChar, n Int64, vec) holding `rows` rows. */
export async function createKeyed(uri: string, name: string, rows: number, options: { autoId?: boolean } = {}): Promise<void> {
  const c = client(uri);
  try {
    await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: options.autoId ?? false },
        { name: 'tag', data_type: DataType.VarChar, max_length: 64 },
        { name: 'n', data_type: DataType.Int64 },
        { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      ],
      index_params: [{ field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }],
    } as never);
    await c.loadCollection({ collection_name: name });
    if (rows > 0) {
      const data = Array.from({ length: rows }, (_, i) => ({ ...(options.autoId ? {} : { id: i + 1 }), tag: i % 2 ? 'odd' : 'even', n: i, vec: vector(i) }));
      await c.insert({ collection_name: name, data } as never);
    }
  } finally {
    await c.closeConnection();
  }
}

/** A Milvus client of the capture endpoint (or any address). */
export function appClient(address: string): MilvusClient {
  return client(address);
}
