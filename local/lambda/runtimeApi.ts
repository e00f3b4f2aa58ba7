import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The Lambda Runtime API of one execution environment (the HTTP interface a runtime polls:
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), served on 127.0.0.1 for one
 * sandbox process. The runtime interface client inside the process asks for the next invocation,
 * runs the handler and posts its response or error; an init error is posted once when the handler
 * cannot be loaded.
 */

const PREFIX = '/2018-06-01/runtime';

/** What the function returned for one invocation, as the runtime posted it. */
export type InvocationOutcome =
  | { kind: 'response'; body: string }
  | { kind: 'error'; body: string; errorType: string };

interface Invocation {
  requestId: string;
  /** The event, as JSON text. */
  event: string;
  deadlineMs: number;
  functionArn: string;
  traceId: string;
}

export interface RuntimeApi {
  /** host:port, for AWS_LAMBDA_RUNTIME_API. */
  address: string;
  /** Resolves when the runtime first asks for an invocation: its init phase is over. */
  initialized: Promise<void>;
  /** Resolves with the init error the runtime posts when the handler cannot be loaded (pending otherwise). */
  initError: Promise<{ errorType: string; body: string }>;
  /** Hands one invocation to the runtime and resolves with what it posts back. */
  invoke(invocation: Invocation): Promise<InvocationOutcome>;
  close(): Promise<void>;
}

export async function startRuntimeApi(): Promise<RuntimeApi> {
  let markInitialized!: () => void;
  const initialized = new Promise<void>((resolve) => (markInitialized = resolve));
  let reportInitError!: (error: { errorType: string; body: string }) => void;
  const initError = new Promise<{ errorType: string; body: string }>((resolve) => (reportInitError = resolve));

  const queued: Invocation[] = [];
  const waitingForNext: ServerResponse[] = [];
  const inFlight = new Map<string, (outcome: InvocationOutcome) => void>();

  const deliver = () => {
    while (queued.length > 0 && waitingForNext.length > 0) {
      const invocation = queued.shift()!;
      const res = waitingForNext.shift()!;
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Lambda-Runtime-Aws-Request-Id': invocation.requestId,
        'Lambda-Runtime-Deadline-Ms': String(invocation.deadlineMs),
        'Lambda-Runtime-Invoked-Function-Arn': invocation.functionArn,
        'Lambda-Runtime-Trace-Id': invocation.traceId,
      });
      res.end(invocation.event);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '';
    if (req.method === 'GET' && path === `${PREFIX}/invocation/next`) {
      markInitialized();
      waitingForNext.push(res);
      res.on('close', () => {
        const index = waitingForNext.indexOf(res);
        if (index >= 0) waitingForNext.splice(index, 1);
      });
      deliver();
      return;
    }
    const body = await readText(req);
    if (req.method === 'POST' && path === `${PREFIX}/init/error`) {
      reportInitError({ errorType: header(req, 'lambda-runtime-function-error-type') ?? 'Runtime.Unknown', body });
      return accepted(res);
    }
    const posted = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    if (req.method === 'POST' && posted) {
      const requestId = decodeURIComponent(posted[1]!);
      const settle = inFlight.get(requestId);
      if (!settle) return void res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errorType: 'InvalidRequestID', errorMessage: `no invocation ${requestId} in flight` }));
      inFlight.delete(requestId);
      settle(posted[2] === 'response' ? { kind: 'response', body } : { kind: 'error', body, errorType: header(req, 'lambda-runtime-function-error-type') ?? 'Unhandled' });
      return accepted(res);
    }
    res.writeHead(404).end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    initialized,
    initError,
    invoke(invocation) {
      const outcome = new Promise<InvocationOutcome>((resolve) => inFlight.set(invocation.requestId, resolve));
      queued.push(invocation);
      deliver();
      return outcome;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of waitingForNext.splice(0)) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function accepted(res: ServerResponse): void {
  res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
