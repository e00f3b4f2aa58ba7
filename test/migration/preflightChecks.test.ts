import { DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobOptions } from '../../lib/jobs/model';
import { checkCollections, type JobScope } from '../../lib/migration/preflight';
import { openCluster, type MilvusGateway } from '../../lib/milvus';
import { type FakeMilvus, startFakeMilvus } from '../support/fakeMilvus';
import { type FaultProxy, startFaultProxy } from '../support/faultProxy';
import { ok, trackedClients } from '../support/milvusClients';

/**
 * Preflight's checks run concurrently (collections checked several at a time) and answer what
 * checking them one by one answers, in the same order. The source sits behind a proxy that delays
 * every call by 30 ms, so checks that run at once are seen at once by the proxy.
 */
let source: FakeMilvus;
let target: FakeMilvus;
let proxy: FaultProxy;
let clusters: { source: MilvusGateway; target: MilvusGateway };
const { client, closeAll } = trackedClients();
const NAMES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];

async function collection(uri: string, name: string, rows: number): Promise<void> {
  const c = client(uri);
  await ok(c.createCollection({ collection_name: name, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'vec', data_type: DataType.FloatVector, dim: 4 }] } as never));
  await ok(c.createIndex({ collection_name: name, field_name: 'vec', index_type: 'AUTOINDEX', metric_type: 'L2' } as never));
  await ok(c.loadCollection({ collection_name: name }));
  if (rows > 0) await ok(c.insert({ collection_name: name, data: Array.from({ length: rows }, (_, i) => ({ id: i, vec: [i, 1, 2, 3] })) } as never));
}

beforeAll(async () => {
  [source, target] = await Promise.all([startFakeMilvus({ version: 'v2.6.1' }), startFakeMilvus({ version: 'v2.6.1' })]);
  for (const [i, name] of NAMES.entries()) await collection(source.uri, name, 10 * (i + 1));
  await collection(target.uri, 'c4', 0);
  proxy = await startFaultProxy({ upstream: source.uri.replace(/^https?:\/\//, ''), seed: 1, latency: { rate: 1, minMs: 30, maxMs: 30 } });
  clusters = { source: openCluster({ uri: proxy.uri }, { logLevel: 'error' }), target: openCluster({ uri: target.uri }, { logLevel: 'error' }) };
});

afterAll(async () => {
  await Promise.all([clusters?.source.close(), clusters?.target.close()]);
  await closeAll();
  await proxy?.stop();
  await Promise.all([source?.stop(), target?.stop()]);
});

const scope = (collections: Array<{ name: string; targetName?: string }>): JobScope => ({
  databases: [{ name: 'default', collections }, { name: 'nowhere', collections: undefined }] as JobScope['databases'],
  options: JobOptions.parse({}),
});

describe('checkCollections', () => {
  it('checks collections at once and reports them, and every problem, in the order asked', async () => {
    const asked = [{ name: 'c6' }, { name: 'c1' }, { name: 'missing' }, { name: 'c4' }, { name: 'c2', targetName: 'c6' }, { name: 'c3' }, { name: 'c5' }];
    const check = await checkCollections(scope(asked), clusters, 'collect');
    expect(check.plans.map((p) => [p.source, p.target, p.action, p.rows])).toEqual([
      ['default.c6', 'default.c6', 'create', 60],
      ['default.c1', 'default.c1', 'create', 10],
      ['default.c3', 'default.c3', 'create', 30],
      ['default.c5', 'default.c5', 'create', 50],
    ]);
    expect(check.collections.map((c) => [c.key, c.rowsTotal])).toEqual([['default.c6', 60], ['default.c1', 10], ['default.c3', 30], ['default.c5', 50]]);
    expect(check.problems.map((p) => p.code)).toEqual(['COLLECTION_NOT_FOUND', 'TARGET_COLLECTION_EXISTS', 'TARGET_NAME_COLLISION', 'DATABASE_NOT_FOUND']);
    expect(check.problems[0]!.message).toBe('collection missing does not exist in database default on the source');
    // One by one, no two calls of a kind would meet in the proxy.
    const concurrent = Math.max(...Object.values(proxy.maxInFlightByMethod));
    expect(concurrent).toBeGreaterThanOrEqual(2);
  });

  it('throws, in throw mode, the problem met first in the order asked', async () => {
    await expect(checkCollections(scope([{ name: 'c1' }, { name: 'c4' }, { name: 'missing' }]), clusters, 'throw')).rejects.toMatchObject({ code: 'TARGET_COLLECTION_EXISTS' });
    await expect(checkCollections(scope([{ name: 'missing' }, { name: 'c4' }]), clusters, 'throw')).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' });
  });
});
