import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports';

export interface LocalMilvus {
  /** host:port, usable as a cluster uri. */
  uri: string;
  port: number;
  /** The server's process id (for CPU measurements). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a milvus-lite server (a real Milvus engine serving the gRPC API) on 127.0.0.1.
 * milvus-lite is a development dependency: it backs the demo and the tests, never a Lambda.
 */
export async function startMilvusLite(options: { port?: number; dataDir?: string } = {}): Promise<LocalMilvus> {
  const require = createRequire(import.meta.url);
  const { binPath, libDir } = require('@lyyyuna/milvus-lite-linux-x64') as { binPath: string; libDir: string };
  const port = options.port ?? (await freePort());
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'milvus-lite-'));
  const child: ChildProcess = spawn(binPath, [path.join(dataDir, 'milvus.db'), `127.0.0.1:${port}`, 'ERROR'], {
    env: { ...process.env, LD_LIBRARY_PATH: libDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await Promise.race([
      waitForPort(port, 30_000),
      exited.then((code) => {
        throw new Error(`milvus-lite exited with code ${code} before listening: ${stderr}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    uri: `127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killTimer);
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
