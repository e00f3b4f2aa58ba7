import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, GetCommand, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { synthesizeTemplate } from '../../infra/synth';
import { createDocumentClient } from '../../lib/jobs/dynamoJobStore';
import { createJobTable, JOB_TABLE } from '../../lib/jobs/table';
import { createLocalAccount, type LocalAccount } from '../../local/aws/account';
import type { RunningServer } from '../../local/aws/awsJsonServer';
import { requiredChecks, startDynamoProxy } from '../../local/aws/dynamoProxy';
import { clientConfig, edited, fn, logicalIdOf } from './support';

// DynamoDB Local is the one test/support/globalSetup.ts starts with local/dynamoLocal.ts startDynamoLocal().
const template = synthesizeTemplate();
const tableName = `jobs-proxy-${process.pid}-${Date.now()}`;

async function proxied(account: LocalAccount) {
  const proxy = await startDynamoProxy({ account, target: inject('dynamoEndpoint') });
  const client = (credentials: LocalAccount['rootCredentials']) => new DynamoDBClient(clientConfig(proxy.endpoint, credentials));
  return { proxy, client, documents: (step: string) => createDocumentClient(client(fn(account, step).credentials)) };
}

const job = (id: string) => ({ pk: `JOB#${id}`, sk: 'JOB', [JOB_TABLE.entityAttribute]: 'JOB', createdAt: `2030-01-01T00:00:00.000Z#${id}` });

describe('DynamoDB permission proxy in front of DynamoDB Local', () => {
  const account = createLocalAccount(template, { tableName });
  let proxy: RunningServer;
  let documents: (step: string) => ReturnType<typeof createDocumentClient>;
  let client: (credentials: LocalAccount['rootCredentials']) => DynamoDBClient;
  beforeAll(async () => {
    ({ proxy, documents, client } = await proxied(account));
    await createJobTable(client(account.rootCredentials), tableName); // the runtime creates the table as the account
  });
  afterAll(() => proxy.stop());

  it('forwards what the roles allow: items, index queries, transactions, batches', async () => {
    const api = documents('Api');
    await api.send(new PutCommand({ TableName: tableName, Item: job('a') }));
    await api.send(new BatchWriteCommand({ RequestItems: { [tableName]: [{ PutRequest: { Item: job('c') } }] } }));
    await documents('copyShard').send(new TransactWriteCommand({
      TransactItems: [
        { Update: { TableName: tableName, Key: { pk: 'JOB#a', sk: 'JOB' }, UpdateExpression: 'SET phase = :p', ExpressionAttributeValues: { ':p': 'COPYING' } } },
        { Put: { TableName: tableName, Item: job('b') } },
        { ConditionCheck: { TableName: tableName, Key: { pk: 'JOB#c', sk: 'JOB' }, ConditionExpression: 'attribute_exists(pk)' } },
      ],
    }));
    expect((await api.send(new GetCommand({ TableName: tableName, Key: { pk: 'JOB#a', sk: 'JOB' } }))).Item).toMatchObject({ phase: 'COPYING' });
    const listed = await api.send(new QueryCommand({ TableName: tableName, IndexName: JOB_TABLE.byCreatedAt.indexName, KeyConditionExpression: 'entity = :e', ExpressionAttributeValues: { ':e': 'JOB' } }));
    expect(listed.Items?.map((i) => i.pk).sort()).toEqual(['JOB#a', 'JOB#b', 'JOB#c']);
    expect(account.deniedCalls()).toEqual([]);
    expect(account.permissionLog().map((e) => e.action)).toEqual(
      expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:Query']),
    );
    expect(account.permissionLog().find((e) => e.action === 'dynamodb:Query')!.resource).toBe(`${account.table.arn}/index/byCreatedAt`);
  });

  it('refuses what no role allows, with AWS wording, and logs it', async () => {
    account.clearPermissionLog();
    const api = fn(account, 'Api');
    const error = await client(api.credentials).send(new DeleteTableCommand({ TableName: tableName })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AccessDeniedException', message: `User: ${api.assumedRoleArn} is not authorized to perform: dynamodb:DeleteTable on resource: ${account.table.arn} because no identity-based policy allows the dynamodb:DeleteTable action` });
    // Another table than the template's.
    await expect(documents('Api').send(new PutCommand({ TableName: 'someone-elses', Item: job('x') }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(account.deniedCalls().map((d) => [d.functionLogicalId, d.action, d.resource])).toEqual([
      [api.logicalId, 'dynamodb:DeleteTable', account.table.arn],
      [api.logicalId, 'dynamodb:PutItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/someone-elses'],
    ]);
  });

  it('guard: a role without UpdateItem cannot run a transaction holding an Update; without the index ARN cannot query the index', async () => {
    const policyId = logicalIdOf(template, 'AWS::IAM::Policy', 'StepcopyShardRoleDefaultPolicy');
    const narrowed = createLocalAccount(edited(template, (r) => {
      for (const statement of r[policyId].Properties.PolicyDocument.Statement) {
        if (Array.isArray(statement.Action) && statement.Action.includes('dynamodb:UpdateItem')) {
          statement.Action = statement.Action.filter((a: string) => a !== 'dynamodb:UpdateItem');
          statement.Resource = [statement.Resource[0]]; // the table only, not /index/*
        }
      }
    }), { tableName });
    const narrow = await proxied(narrowed);
    try {
      const copyShard = narrow.documents('copyShard');
      await expect(copyShard.send(new TransactWriteCommand({
        TransactItems: [{ Update: { TableName: tableName, Key: { pk: 'JOB#a', sk: 'JOB' }, UpdateExpression: 'SET phase = :p', ExpressionAttributeValues: { ':p': 'X' } } }],
      }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      await expect(copyShard.send(new QueryCommand({ TableName: tableName, IndexName: 'byCreatedAt', KeyConditionExpression: 'entity = :e', ExpressionAttributeValues: { ':e': 'JOB' } }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(narrowed.deniedCalls().map((d) => [d.action, d.resource])).toEqual([
        ['dynamodb:UpdateItem', narrowed.table.arn],
        ['dynamodb:Query', `${narrowed.table.arn}/index/byCreatedAt`],
      ]);
      // The item did not change: the proxy did not forward the refused transaction.
      expect((await documents('Api').send(new GetCommand({ TableName: tableName, Key: { pk: 'JOB#a', sk: 'JOB' } }))).Item?.phase).toBe('COPYING');
    } finally {
      await narrow.proxy.stop();
    }
  });

  it('maps every multi-item call to the IAM actions AWS checks', () => {
    expect(requiredChecks('TransactGetItems', { TransactItems: [{ Get: { TableName: 't1' } }, { Get: { TableName: 't2' } }] })).toEqual([
      { action: 'dynamodb:GetItem', tableName: 't1' },
      { action: 'dynamodb:GetItem', tableName: 't2' },
    ]);
    expect(requiredChecks('BatchGetItem', { RequestItems: { t1: {}, t2: {} } })).toEqual([
      { action: 'dynamodb:BatchGetItem', tableName: 't1' },
      { action: 'dynamodb:BatchGetItem', tableName: 't2' },
    ]);
    expect(requiredChecks('TransactWriteItems', { TransactItems: [{ Delete: { TableName: 't' } }] })).toEqual([{ action: 'dynamodb:DeleteItem', tableName: 't' }]);
    expect(requiredChecks('ListTables', {})).toBe('account');
  });
});
