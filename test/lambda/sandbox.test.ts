import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaSandbox, type SandboxFunction } from '../../local/lambda/sandbox';

// Handlers written as a bundle would be: one index.mjs per function, nothing beside it.
const HANDLERS: Record<string, string> = {
  echo: `export const handler = async (event, context) => ({
    event,
    pid: process.pid,
    node: process.version,
    functionName: context.functionName,
    memoryLimitInMB: context.memoryLimitInMB,
    remainingMs: context.getRemainingTimeInMillis(),
    requestId: context.awsRequestId,
    env: { JOBS_TABLE: process.env.JOBS_TABLE, LEAK: process.env.SANDBOX_TEST_LEAK ?? null, TASK_ROOT: process.env.LAMBDA_TASK_ROOT, HANDLER: process.env._HANDLER },
  });`,
  throws: `class TransientError extends Error { constructor(m) { super(m); this.name = 'TransientError'; } }
    export const handler = async () => { throw new TransientError('[MILVUS_UNAVAILABLE] the source did not answer'); };`,
  timesOut: `export const handler = async (event) => { await new Promise((r) => setTimeout(r, event.ms)); return { pid: process.pid }; };`,
  sleeps: `export const handler = async (event) => { await new Promise((r) => setTimeout(r, event.ms)); return { pid: process.pid }; };`,
  exits: `export const handler = async (event) => { if (event.exit) process.exit(3); return { pid: process.pid }; };`,
  hogs: `const kept = []; export const handler = async (event) => { for (let i = 0; i < event.mib; i++) kept.push(Buffer.alloc(1024 * 1024, 1)); return { pid: process.pid }; };`,
  badImport: `import 'a-package-the-bundle-left-out'; export const handler = async () => 'never';`,
};

let root: string;
let sandbox: LambdaSandbox;
const logs: string[] = [];

beforeAll(() => {
  process.env.SANDBOX_TEST_LEAK = 'parent environment';
  root = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
  const functions: SandboxFunction[] = Object.entries(HANDLERS).map(([name, code]) => {
    const assetDir = join(root, name);
    mkdirSync(assetDir);
    writeFileSync(join(assetDir, 'index.mjs'), code);
    return {
      name,
      arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
      handler: 'index.handler',
      memoryMiB: name === 'hogs' ? 128 : 256,
      timeoutSeconds: name === 'timesOut' ? 2 : 30,
      environment: { JOBS_TABLE: 'jobs-table' },
      logGroupName: `/aws/lambda/${name}`,
      region: 'us-east-1',
      assetDir,
    };
  });
  sandbox = new LambdaSandbox(functions, (name, line) => logs.push(`${name}: ${line}`));
});

afterAll(async () => {
  delete process.env.SANDBOX_TEST_LEAK;
  await sandbox?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the Lambda sandbox', () => {
  it('runs a handler on Node 22 with the Lambda context and only the function environment', async () => {
    const result = await sandbox.get('echo').invoke({ jobId: 'j-1' });
    expect(result.ok).toBe(true);
    const payload = (result as { payload: any }).payload;
    expect(payload.event).toEqual({ jobId: 'j-1' });
    expect(payload.node).toMatch(/^v22\./);
    expect(payload.functionName).toBe('echo');
    expect(payload.memoryLimitInMB).toBe('256');
    expect(payload.remainingMs).toBeGreaterThan(25_000);
    expect(payload.remainingMs).toBeLessThanOrEqual(30_000);
    expect(payload.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.env).toMatchObject({ JOBS_TABLE: 'jobs-table', LEAK: null, HANDLER: 'index.handler' });
    expect(payload.env.TASK_ROOT).not.toBe(join(root, 'echo'));
  });

  it('keeps an environment warm between invocations and starts another for a concurrent one', async () => {
    const fn = sandbox.get('sleeps');
    const first = (await fn.invoke({ ms: 0 })) as { payload: { pid: number } };
    const second = (await fn.invoke({ ms: 0 })) as { payload: { pid: number } };
    expect(second.payload.pid).toBe(first.payload.pid);
    const [a, b] = (await Promise.all([fn.invoke({ ms: 300 }), fn.invoke({ ms: 300 })])) as Array<{ payload: { pid: number }; coldStart: boolean }>;
    expect(a.payload.pid).not.toBe(b.payload.pid);
    expect([a.coldStart, b.coldStart].filter(Boolean)).toHaveLength(1);
  });

  it("returns a handler's error as Lambda does: errorType is the error's name, the message kept", async () => {
    const result = await sandbox.get('throws').invoke({});
    expect(result).toMatchObject({ ok: false, error: { errorType: 'TransientError', errorMessage: '[MILVUS_UNAVAILABLE] the source did not answer' } });
    expect((result as { error: { trace: string[] } }).error.trace[0]).toContain('TransientError');
  });

  it('times an invocation out as Sandbox.Timedout and cold-starts the next one', async () => {
    const fn = sandbox.get('timesOut');
    const warm = (await fn.invoke({ ms: 0 })) as { payload: { pid: number } };
    const timedOut = await fn.invoke({ ms: 5_000 });
    expect(timedOut).toMatchObject({ ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: expect.stringContaining('Task timed out after 2.00 seconds') } });
    const next = (await fn.invoke({ ms: 0 })) as { payload: { pid: number }; coldStart: boolean };
    expect(next.coldStart).toBe(true);
    expect(next.payload.pid).not.toBe(warm.payload.pid);
  });

  it('reports a process that exits as Runtime.ExitError and replaces it', async () => {
    const fn = sandbox.get('exits');
    const exited = await fn.invoke({ exit: true });
    expect(exited).toMatchObject({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('exit status 3') } });
    expect(await fn.invoke({ exit: false })).toMatchObject({ ok: true, coldStart: true });
  });

  it('kills an environment that uses more memory than the function has', async () => {
    const result = await sandbox.get('hogs').invoke({ mib: 400 });
    expect(result).toMatchObject({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('signal: killed') } });
  });

  it('answers with the init error when the bundle cannot be imported, as the runtime client reports it', async () => {
    // For an ES module, AWS's runtime interface client passes Node's own error on (errorType Error);
    // Runtime.ImportModuleError is what it makes of a CommonJS MODULE_NOT_FOUND.
    const fn = sandbox.get('badImport');
    const result = await fn.invoke({});
    expect(result).toMatchObject({ ok: false, error: { errorType: 'Error', errorMessage: expect.stringContaining("Cannot find package 'a-package-the-bundle-left-out'") } });
    expect(await fn.invoke({})).toMatchObject({ ok: false, coldStart: true });
  });
});
