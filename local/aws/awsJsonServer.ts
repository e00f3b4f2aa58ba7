import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Caller, LocalAccount } from './account';
import { AwsError, accessDenied } from './awsErrors';
import type { RequestContext } from './iamPolicy';
import { verifySignature } from './sigv4';

/**
 * The shared base of the emulators: an AWS JSON protocol (awsJson1.0 / 1.1) server on 127.0.0.1.
 * It checks the SigV4 signature, dispatches on X-Amz-Target and answers errors with AWS's
 * `__type` / `message` / status, so the real SDK clients raise their own exception classes.
 */

export interface CallContext {
  caller: Caller;
  accessKeyId: string;
  /** Authorizes the caller for action on resource (identity policies), recording the decision; throws AccessDeniedException when denied. */
  authorize(action: string, resource: string, context?: RequestContext): void;
}

type OperationHandler = (input: Record<string, unknown>, call: CallContext) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface AwsJsonServerOptions {
  account: LocalAccount;
  /** "secretsmanager", "AWSEvents", "AWSStepFunctions": the X-Amz-Target prefix before the dot. */
  targetPrefix: string;
  jsonVersion: '1.0' | '1.1';
  operations: Record<string, OperationHandler>;
  port?: number;
}

export interface RunningServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendError(response: ServerResponse, error: AwsError, contentType: string): void {
  response.writeHead(error.status, { 'content-type': contentType, 'x-amzn-errortype': error.type, 'x-amzn-requestid': randomUUID() });
  response.end(JSON.stringify({ __type: error.type, message: error.message }));
}

export function callContext(account: LocalAccount, caller: Caller, accessKeyId: string): CallContext {
  return {
    caller,
    accessKeyId,
    authorize(action, resource, context) {
      const decision = account.authorize({ accessKeyId, action, resource, context });
      if (!decision.allowed) throw accessDenied(caller, action, resource, decision.reason);
    },
  };
}

export async function listen(server: Server, port = 0): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export async function startAwsJsonServer(options: AwsJsonServerOptions): Promise<RunningServer> {
  const contentType = `application/x-amz-json-${options.jsonVersion}`;
  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      const answer = error instanceof AwsError ? error : new AwsError('InternalFailure', error instanceof Error ? error.message : String(error), 500);
      sendError(response, answer, contentType);
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const signed = await verifySignature(options.account, { method: request.method ?? 'POST', url: request.url ?? '/', headers: request.headers, body });
    const target = String(request.headers['x-amz-target'] ?? '');
    const [prefix, operation = ''] = target.split('.', 2);
    const handler = prefix === options.targetPrefix ? options.operations[operation] : undefined;
    if (!handler) throw new AwsError('UnknownOperationException', `Operation ${target || '(no X-Amz-Target)'} is not emulated locally`, 400);
    let input: unknown;
    try {
      input = body.length ? JSON.parse(body.toString('utf8')) : {};
    } catch {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.', 400);
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new AwsError('SerializationException', 'The request body must be a JSON object.', 400);
    const output = await handler(input as Record<string, unknown>, callContext(options.account, signed.caller, signed.accessKeyId));
    response.writeHead(200, { 'content-type': contentType, 'x-amzn-requestid': randomUUID() });
    response.end(JSON.stringify(output));
  }

  return listen(server, options.port);
}
