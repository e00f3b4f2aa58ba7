import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { LocalAccount } from './account';
import { AwsError } from './awsErrors';
import { callContext, listen, readBody, sendError, type RunningServer } from './awsJsonServer';
import { verifySignature } from './sigv4';

/**
 * A permission proxy in front of DynamoDB Local: checks the signature, authorizes each call as IAM
 * does (the IAM action per table or index), then forwards the request bytes unchanged (DynamoDB
 * Local accepts any signature) and streams the answer back. Not authorized here: condition keys
 * (dynamodb:LeadingKeys, dynamodb:Attributes...; the template uses none), Streams API calls.
 */

const CONTENT_TYPE = 'application/x-amz-json-1.0';

interface Check {
  action: string;
  tableName: string;
  indexName?: string;
}

/** The IAM checks a DynamoDB call needs: one action on one table for most, one per table and item kind for batches and transactions. */
export function requiredChecks(operation: string, input: Record<string, any>): Check[] | 'account' {
  switch (operation) {
    case 'ListTables':
    case 'DescribeLimits':
    case 'DescribeEndpoints':
      return 'account';
    case 'BatchGetItem':
    case 'BatchWriteItem':
      return Object.keys(input.RequestItems ?? {}).map((tableName) => ({ action: `dynamodb:${operation}`, tableName }));
    case 'TransactWriteItems': {
      // Not an IAM action itself: IAM checks each underlying write on its table.
      const actions: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
      return ((input.TransactItems ?? []) as Record<string, { TableName: string }>[]).map((item) => {
        const [kind, body] = Object.entries(item)[0] ?? [];
        if (!kind || !actions[kind] || !body) throw new AwsError('ValidationException', `TransactItems holds an unknown item ${JSON.stringify(Object.keys(item))}`);
        return { action: `dynamodb:${actions[kind]}`, tableName: body.TableName };
      });
    }
    case 'TransactGetItems':
      return ((input.TransactItems ?? []) as { Get: { TableName: string } }[]).map((item) => ({ action: 'dynamodb:GetItem', tableName: item.Get?.TableName }));
    case 'ListTagsOfResource':
    case 'TagResource':
    case 'UntagResource':
      return [{ action: `dynamodb:${operation}`, tableName: String(input.ResourceArn ?? '') }];
    default:
      if (typeof input.TableName !== 'string') throw new AwsError('ValidationException', "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
      return [{ action: `dynamodb:${operation}`, tableName: input.TableName, ...(typeof input.IndexName === 'string' ? { indexName: input.IndexName } : {}) }];
  }
}

export async function startDynamoProxy(options: { account: LocalAccount; target: string; port?: number }): Promise<RunningServer> {
  const { account } = options;
  const target = new URL(options.target);
  const tableArn = (tableName: string): string =>
    tableName.startsWith('arn:') ? tableName : `arn:aws:dynamodb:${account.region}:${account.accountId}:table/${tableName}`;

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      const answer = error instanceof AwsError ? error : new AwsError('InternalFailure', error instanceof Error ? error.message : String(error), 500);
      if (!response.headersSent) sendError(response, answer, CONTENT_TYPE);
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const signed = await verifySignature(account, { method: request.method ?? 'POST', url: request.url ?? '/', headers: request.headers, body });
    const operation = /^DynamoDB_20120810\.(\w+)$/.exec(String(request.headers['x-amz-target'] ?? ''))?.[1];
    if (!operation) throw new AwsError('UnknownOperationException', `unknown X-Amz-Target ${String(request.headers['x-amz-target'])}`);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
    }
    const call = callContext(account, signed.caller, signed.accessKeyId);
    const checks = requiredChecks(operation, input);
    if (checks === 'account') call.authorize(`dynamodb:${operation}`, '*');
    else {
      for (const check of checks) {
        const resource = `${tableArn(check.tableName)}${check.indexName ? `/index/${check.indexName}` : ''}`;
        call.authorize(check.action, resource);
      }
    }
    await forward(request, body, response);
  }

  function forward(incoming: IncomingMessage, body: Buffer, response: ServerResponse): Promise<void> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: target.host } },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          answer.on('end', resolve);
          answer.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  return listen(server, options.port);
}
