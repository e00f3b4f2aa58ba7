import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { MAX_BODY_BYTES, matchResource } from '../lib/api/requests';

export interface ApiServerOptions {
  /** The same handler Lambda runs (functions/api.ts). */
  handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  maxBodyBytes?: number;
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the API locally: every request becomes the APIGatewayProxyEvent API Gateway would send
 * (resource template, path parameters, query, headers, body) and goes to the Lambda handler.
 */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { handler, port, host = '127.0.0.1', maxBodyBytes = MAX_BODY_BYTES } = options;
  const server = createServer((req, res) => {
    serve(req, res, handler, maxBodyBytes).catch((error: unknown) => {
      console.error('local API server failed to answer', error instanceof Error ? error.message : error);
      if (!res.headersSent) send(res, { statusCode: 500, body: JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, handler: ApiServerOptions['handler'], maxBodyBytes: number): Promise<void> {
  const body = await readBody(req, maxBodyBytes);
  if (body === TOO_LARGE) {
    send(res, {
      statusCode: 413,
      headers: { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' },
      body: JSON.stringify({ error: { code: 'PAYLOAD_TOO_LARGE', message: `the request body is larger than ${maxBodyBytes} bytes` } }),
    });
    return;
  }
  const result = await handler(toEvent(req, body), localContext());
  send(res, result);
}

const TOO_LARGE = Symbol('too large');

/** Reads the body up to the limit; past it, reads on (discarding) so the client gets the 413. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | null | typeof TOO_LARGE> {
  const declared = Number(req.headers['content-length']);
  let size = 0;
  let tooLarge = Number.isFinite(declared) && declared > limit;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
    // Do not swallow an endless upload.
    if (size > limit * 16) {
      req.destroy();
      break;
    }
  }
  if (tooLarge) return TOO_LARGE;
  return size === 0 ? null : Buffer.concat(chunks).toString('utf8');
}

function toEvent(req: IncomingMessage, body: string | null): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = safeDecode(url.pathname);
  const matched = matchResource(url.pathname);
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    (multiQuery[name] ??= []).push(value);
  }
  const method = req.method ?? 'GET';
  const resource = matched?.resource ?? path;
  const hasQuery = Object.keys(query).length > 0;
  return {
    resource,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: matched && Object.keys(matched.pathParameters).length > 0 ? matched.pathParameters : null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: undefined,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: resource,
    },
  };
}

function safeDecode(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}

function localContext(): Context {
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'milvus-migrate-api',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:milvus-migrate-api',
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => 29_000, // API Gateway's integration timeout
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function send(res: ServerResponse, result: Pick<APIGatewayProxyResult, 'statusCode' | 'body'> & Partial<APIGatewayProxyResult>): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) headers[name] = values.map(String);
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  res.writeHead(result.statusCode, { ...headers, 'Content-Length': String(body.length) });
  res.end(body);
}
