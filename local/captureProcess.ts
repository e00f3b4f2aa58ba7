import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The capture endpoint as its own process: what the capture tests and `npm run bench:online -- --strategy capture` run. */

const bin = fileURLToPath(new URL('../bin/milvus-migrate.mjs', import.meta.url));

export interface CaptureProcess {
  child: ChildProcess;
  /** host:port it listens on. */
  address: string;
  stderr: () => string;
  /** Resolves with the exit signal or code once the process ended. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

/** `milvus-migrate capture JOB --api URL --listen 127.0.0.1:0` as a user runs it, in a process of its own; resolves once it printed its address. */
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

