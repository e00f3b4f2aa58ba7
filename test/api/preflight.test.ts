import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';
import { startApiFixture, type ApiFixture } from './support/apiFixture';

/**
 * POST /migrations/preflight over HTTP (local server -> Lambda handler -> service), against
 * in-memory Milvus servers: it answers what a job would meet and writes nothing anywhere.
 */
let api: ApiFixture;
let source: FakeMilvus;
let target: FakeMilvus;
let oldTarget: FakeMilvus;
const clients: MilvusClient[] = [];

function client(uri: string, database?: string): MilvusClient {
  const c = new MilvusClient({ address: uri, database, telemetry: { enabled: false } } as never);
  clients.push(c);
  return c;
}

async function collection(uri: string, db: string, name: string, nullable: boolean, rows: number): Promise<void> {
  const c = client(uri, db);
  await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: 8 },
      { name: 'note', data_type: DataType.VarChar, max_length: 100, ...(nullable ? { nullable: true } : {}) },
    ],
  } as never);
  await c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' } as never);
  await c.loadCollection({ collection_name: name });
  if (rows > 0) await c.insert({ collection_name: name, data: Array.from({ length: rows }, (_, i) => ({ id: i, vec: Array(8).fill(i), note: `n${i}` })) } as never);
}

/** Databases and collections of a server, to prove nothing was created. */
const inventory = (server: FakeMilvus) =>
  JSON.stringify([...server.state.databases.values()].map((d: any) => [d.name, [...d.collections.keys()].sort(), [...d.aliases.keys()]]));

beforeAll(async () => {
  api = await startApiFixture('preflight');
  [source, target, oldTarget] = await Promise.all([startFakeMilvus({ version: 'v2.6.1' }), startFakeMilvus({ version: 'v2.6.1' }), startFakeMilvus({ version: 'v2.4.9' })]);
  await client(source.uri).createDatabase({ db_name: 'cat' });
  await collection(source.uri, 'cat', 'a', true, 120);
  await collection(source.uri, 'cat', 'b', false, 30);
  await client(target.uri).createDatabase({ db_name: 'cat' });
  await collection(target.uri, 'cat', 'b', false, 0);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.closeConnection()));
  await Promise.all([source?.stop(), target?.stop(), oldTarget?.stop()]);
  await api?.close();
});

const body = (targetUri: string, extra: Record<string, unknown> = {}) => ({
  type: 'offline',
  source: { uri: source.uri, token: 'root:Milvus' },
  target: { uri: targetUri, token: 'root:Milvus' },
  databases: [{ name: 'cat' }],
  ...extra,
});

describe('POST /migrations/preflight', () => {
  it('answers 200 with reachable: false and the reason for an unreachable source, and writes nothing', async () => {
    const before = [inventory(target), await api.scanTable()];
    const answer = await api.call('POST', '/migrations/preflight', { ...body(target.uri), source: { uri: '127.0.0.1:1', token: 'user:secret-pw' } });
    expect(answer.status).toBe(200);
    expect(answer.body.ok).toBe(false);
    expect(answer.body.source).toMatchObject({ uri: '127.0.0.1:1', reachable: false });
    expect(answer.body.source.reason).toMatch(/\S/);
    expect(answer.body.target).toMatchObject({ reachable: true, version: 'v2.6.1' });
    expect(answer.body.problems.map((p: any) => p.code)).toEqual(['SOURCE_UNREACHABLE']);
    expect(answer.body.estimate).toBeUndefined();
    expect(answer.text).not.toContain('secret-pw');
    expect([inventory(target), await api.scanTable()]).toEqual(before);
    expect(api.credentials.saved).toBe(0);
  });

  it('lists collections with rows and bytes, the database to create, existing targets, and estimates duration and cost', async () => {
    const before = [inventory(source), inventory(target), await api.scanTable()];
    const answer = await api.call('POST', '/migrations/preflight', body(target.uri, { databases: [{ name: 'cat' }, { name: 'default' }].slice(0, 1) }));
    expect(answer.status).toBe(200);
    expect(answer.body.ok).toBe(false);
    expect(answer.body.collections).toEqual([expect.objectContaining({ source: 'cat.a', target: 'cat.a', action: 'create', rows: 120 })]);
    expect(answer.body.collections[0].estimatedBytes).toBeGreaterThan(120 * 32);
    expect(answer.body.problems).toEqual([
      { code: 'TARGET_COLLECTION_EXISTS', message: expect.stringContaining('collection b already exists in database cat on the target') },
    ]);
    expect(answer.body.estimate).toMatchObject({ rows: 120, shards: 1 });
    expect(answer.body.estimate.durationSeconds).toBeGreaterThan(0);
    expect(answer.body.estimate.costUsd.total).toBeGreaterThan(0);
    expect(answer.body.estimate.assumptions.join(' ')).toContain('rows/s');
    expect([inventory(source), inventory(target), await api.scanTable()]).toEqual(before);

    const renamed = await api.call('POST', '/migrations/preflight', body(target.uri, { databases: [{ name: 'cat', targetName: 'fresh' }], options: { existingTarget: 'skip' } }));
    expect(renamed.body).toMatchObject({ ok: true, problems: [], target: { databasesToCreate: ['fresh'] } });
    expect(renamed.body.collections.map((c: any) => [c.target, c.action])).toEqual([['fresh.a', 'create'], ['fresh.b', 'create']]);
    expect(inventory(target)).toEqual(before[1]);
  });

  it('names what the target cannot hold and missing collections, all at once; a name collision is a 400', async () => {
    const answer = await api.call('POST', '/migrations/preflight', body(oldTarget.uri, { databases: [{ name: 'cat', collections: [{ name: 'a' }, { name: 'b', targetName: 'b2' }, { name: 'nope' }] }] }));
    expect(answer.status).toBe(200);
    expect(answer.body.ok).toBe(false);
    expect(answer.body.collections.map((c: any) => c.target)).toEqual(['cat.b2']);
    expect(answer.body.problems.map((p: any) => p.code)).toEqual(['TARGET_UNSUPPORTED_FEATURE', 'COLLECTION_NOT_FOUND']);
    expect(answer.body.problems[0].message).toContain('nullable field note needs Milvus 2.5');
    expect(inventory(oldTarget)).toEqual(JSON.stringify([['default', [], []]]));
    const collision = await api.call('POST', '/migrations/preflight', body(target.uri, { databases: [{ name: 'cat', collections: [{ name: 'a' }, { name: 'b', targetName: 'a' }] }] }));
    expect(collision.status).toBe(400);
    expect(JSON.stringify(collision.body)).toContain('target collection a is named twice');
  });

  it('refuses an invalid body with 400 naming the field, as POST /migrations does', async () => {
    const answer = await api.call('POST', '/migrations/preflight', { ...body(target.uri), options: { existingTarget: 'overwrite' } });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain('options.existingTarget');
    const secret = await api.call('POST', '/migrations/preflight', { ...body(target.uri), source: { uri: source.uri, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mine-AbCdEf' } });
    expect(secret.status).toBe(400);
    expect(JSON.stringify(secret.body)).toContain('source.secretArn');
    expect(api.credentials.saved).toBe(0);
  });
});
