import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { startRuntimeApi, type InvocationOutcome, type RuntimeApi } from './runtimeApi';

/**
 * One Lambda execution environment: a Node 22 process running AWS's runtime interface client over
 * a function's asset, with the Lambda Runtime API it polls. Like a Lambda container it handles one
 * invocation at a time and stays warm between them; it dies on a timeout, on using more memory
 * than the function has, or when its process exits, and the function then cold-starts another.
 */

/** What the synthesized template and the local account say about a function. */
export interface FunctionConfig {
  /** The function name, as Lambda sets AWS_LAMBDA_FUNCTION_NAME. */
  name: string;
  arn: string;
  /** The handler string of the template (`index.handler`). */
  handler: string;
  memoryMiB: number;
  timeoutSeconds: number;
  /** The function's code: a copy of its asset directory (LAMBDA_TASK_ROOT). */
  taskDir: string;
  /** Environment variables of the template (resolved), plus local endpoints and the role's credentials. */
  environment: Record<string, string>;
  logGroupName: string;
  region: string;
}

/** Where the sandbox processes find Node 22 and the runtime interface client. */
export interface RuntimeFiles {
  node: string;
  /** Directory holding the runtime interface client (index.mjs), the native client stand-in and its placeholder. */
  runtimeDir: string;
  shim: string;
}

/** A function error as Lambda returns it (and Step Functions turns into Error and Cause). */
interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export type InvokeResult = { ok: true; payload: unknown } | { ok: false; error: FunctionError };

export type LogSink = (functionName: string, line: string) => void;

/** Lambda's synchronous invocation limit on request and response payloads. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** How often the resident memory of a busy environment is compared with its function's memory. */
const MEMORY_POLL_MS = 200;

export class ExecutionEnvironment {
  busy = false;
  dead = false;
  /** Process start to the runtime's first request for an invocation (the init phase). */
  initMs?: number;
  /** Largest resident set seen, in MiB. */
  peakRssMiB = 0;

  private exitReason?: string;
  private readonly exited: Promise<string>;

  private constructor(
    private readonly config: FunctionConfig,
    private readonly api: RuntimeApi,
    private readonly child: ChildProcess,
    startedAt: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.dead = true;
        this.exitReason ??= signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`;
        void api.close();
        resolve(this.exitReason);
      });
    });
    void api.initialized.then(() => (this.initMs ??= Date.now() - startedAt));
  }

  /** Starts the process; its init phase runs until the first invocation is asked for. */
  static async start(config: FunctionConfig, files: RuntimeFiles, log: LogSink): Promise<ExecutionEnvironment> {
    const api = await startRuntimeApi();
    // The runtime's bootstrap gives V8 a heap sized from the function's memory: a tenth for the
    // young generation, the rest for the old one.
    const newSpace = Math.floor(config.memoryMiB / 10);
    const args = [
      '--expose-gc',
      '--max-http-header-size',
      '81920',
      `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
      `--max-old-space-size=${config.memoryMiB - newSpace}`,
      '--require',
      files.shim,
      join(files.runtimeDir, 'index.mjs'),
    ];
    const startedAt = Date.now();
    const child = spawn(files.node, args, { cwd: config.taskDir, env: lambdaEnvironment(config, files, api.address), stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => log(config.name, line));
    }
    return new ExecutionEnvironment(config, api, child, startedAt);
  }

  /** Runs one invocation: the event goes in as JSON, the answer or the function error comes back. */
  async invoke(event: unknown): Promise<InvokeResult> {
    if (this.busy || this.dead) throw new Error(`execution environment of ${this.config.name} is ${this.dead ? 'dead' : 'busy'}`);
    this.busy = true;
    const requestId = randomUUID();
    const stopWatchingMemory = this.watchMemory();
    let timer: NodeJS.Timeout | undefined;
    try {
      const eventJson = JSON.stringify(event ?? null);
      if (Buffer.byteLength(eventJson) > MAX_PAYLOAD_BYTES) {
        return failure('RequestEntityTooLargeException', `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`);
      }
      // A cold start's init counts toward the invocation's timeout here (Lambda gives init 10 s of
      // its own; this is stricter, never laxer).
      const timeoutMs = this.config.timeoutSeconds * 1000;
      const deadlineMs = Date.now() + timeoutMs;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const outcome = await Promise.race([
        this.api.invoke({ requestId, event: eventJson, deadlineMs, functionArn: this.config.arn, traceId: traceHeader() }),
        this.api.initError.then((initError) => ({ kind: 'init' as const, ...initError })),
        this.exited.then((reason) => ({ kind: 'exit' as const, reason })),
        timedOut,
      ]);
      if (outcome === 'timeout') {
        this.kill();
        return failure('Sandbox.Timedout', `RequestId: ${requestId} Error: Task timed out after ${this.config.timeoutSeconds.toFixed(2)} seconds`);
      }
      if (outcome.kind === 'exit') return failure('Runtime.ExitError', `RequestId: ${requestId} Error: Runtime exited with error: ${outcome.reason}`);
      if (outcome.kind === 'init') {
        // Lambda discards an environment whose init failed and answers with the init error.
        this.kill();
        return { ok: false, error: parseError(outcome.body, outcome.errorType) };
      }
      return settle(outcome);
    } finally {
      clearTimeout(timer);
      stopWatchingMemory();
      this.busy = false;
    }
  }

  kill(reason?: string): void {
    if (reason) this.exitReason = reason;
    // Dead from now on, not only once the exit arrives: it must never take another invocation.
    if (!this.dead) this.child.kill('SIGKILL');
    this.dead = true;
  }

  /** Ends the process (the runtime is stopping) and waits for it. */
  async stop(): Promise<void> {
    this.kill();
    await this.exited;
  }

  /** Kills the environment when its process uses more memory than the function has, as Lambda does. */
  private watchMemory(): () => void {
    const check = () => {
      const rssMiB = residentMiB(this.child.pid);
      if (rssMiB === undefined) return;
      this.peakRssMiB = Math.max(this.peakRssMiB, rssMiB);
      if (rssMiB > this.config.memoryMiB) this.kill('signal: killed');
    };
    const interval = setInterval(check, MEMORY_POLL_MS);
    return () => {
      check();
      clearInterval(interval);
    };
  }
}

function settle(outcome: InvocationOutcome): InvokeResult {
  if (outcome.kind === 'error') return { ok: false, error: parseError(outcome.body, outcome.errorType) };
  if (Buffer.byteLength(outcome.body) > MAX_PAYLOAD_BYTES) {
    return failure('Function.ResponseSizeTooLarge', `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`);
  }
  return { ok: true, payload: outcome.body === '' ? null : JSON.parse(outcome.body) };
}

function failure(errorType: string, errorMessage: string): InvokeResult {
  return { ok: false, error: { errorType, errorMessage } };
}

/** The error body the runtime posted ({errorType, errorMessage, trace}); the header names the type when the body does not. */
function parseError(body: string, headerType: string): FunctionError {
  try {
    const parsed = JSON.parse(body) as Partial<FunctionError>;
    return {
      errorType: typeof parsed.errorType === 'string' ? parsed.errorType : headerType,
      errorMessage: typeof parsed.errorMessage === 'string' ? parsed.errorMessage : '',
      ...(Array.isArray(parsed.trace) ? { trace: parsed.trace } : {}),
    };
  } catch {
    return { errorType: headerType, errorMessage: body };
  }
}

/**
 * The environment Lambda gives a nodejs22.x function: the template's variables, then the reserved
 * ones Lambda sets itself (a function cannot override them). Nothing of this process's environment
 * leaks in.
 */
function lambdaEnvironment(config: FunctionConfig, files: RuntimeFiles, runtimeApi: string): Record<string, string> {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    ...config.environment,
    PATH: `${dirname(files.node)}:/usr/local/bin:/usr/bin:/bin`,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: config.taskDir,
    LAMBDA_RUNTIME_DIR: files.runtimeDir,
    NODE_PATH: `${files.runtimeDir}/node_modules:${files.runtimeDir}:${config.taskDir}`,
    _HANDLER: config.handler,
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_FUNCTION_NAME: config.name,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMiB),
    AWS_LAMBDA_LOG_GROUP_NAME: config.logGroupName,
    AWS_LAMBDA_LOG_STREAM_NAME: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
  };
}

function traceHeader(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

/** VmRSS of a process in MiB, from /proc (undefined once it is gone). */
function residentMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}
