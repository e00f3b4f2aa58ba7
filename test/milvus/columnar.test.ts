import * as grpc from '@grpc/grpc-js';
import { DataType } from '@zilliz/milvus2-sdk-node';
import protobuf from 'protobufjs/minimal.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TransientError } from '../../lib/errors';
import { copyShard, describeCollection, dropCollection, translateSchema, createCollection, type CollectionSpec, type PkRange } from '../../lib/milvus';
import { backoffMs } from '../../lib/milvus/backoff';
import { decodeStatus, parseMutationResult } from '../../lib/milvus/gateway/protoWire';
import { ColumnPages, type Page, type PageSource, type ReadRequest } from '../../lib/milvus/keyRange/pages';
import { rateLimitKind, type RateLimitPolicy } from '../../lib/milvus/keyRange/rateLimit';
import { KeyRangeWriter } from '../../lib/milvus/keyRange/writer';
import { statusToError, toMigrationError } from '../../lib/milvus/status';
import { testCluster } from '../support/testCluster';
import { clusters, count, createRichCollection, DB, indexAndLoad, insertRows, mustOk, NASTY_PKS, pks, readAll, RICH_INDEXES, richRows, uniqueName } from './helpers';

const { source, target } = clusters();
const created: Array<[typeof source, string]> = [];
const FAR = () => Date.now() + 10 * 60_000;
const ALL: PkRange = { lowerExclusive: null, upperInclusive: null };
/** A real backoff schedule, in milliseconds instead of seconds. */
const FAST: RateLimitPolicy = { baseMs: 2, maxMs: 20, budgetMs: 2_000 };

afterAll(async () => {
  for (const [cluster, name] of created) await dropCollection(cluster, DB, name);
  await Promise.all([source.close(), target.close()]);
});

async function newTarget(sourceSpec: CollectionSpec): Promise<CollectionSpec> {
  const targetName = uniqueName('col_dst');
  created.push([target, targetName]);
  const { spec } = translateSchema(sourceSpec, { targetName, indexPolicy: 'autoindex', targetAllowsExplicitAutoId: false });
  await createCollection(target, DB, spec);
  return spec;
}

async function sourceRich(ids: string[]): Promise<CollectionSpec> {
  const name = uniqueName('col_src');
  created.push([source, name]);
  await createRichCollection(source.client(DB), name);
  await insertRows(source.client(DB), name, richRows(ids));
  await indexAndLoad(source.client(DB), name, RICH_INDEXES);
  return describeCollection(source, DB, name);
}

const columnarIo = { path: 'columnar' } as const;
const rowIo = { path: 'rows' } as const;
const sourcePages = (spec: CollectionSpec) => new ColumnPages({ cluster: source, db: DB, spec });

async function copyAll(
  sourceSpec: CollectionSpec,
  targetSpec: CollectionSpec,
  io: Pick<Parameters<typeof copyShard>[0], 'path' | 'pages' | 'writer'> | undefined,
  batchBytes: number,
  extra: Partial<Parameters<typeof copyShard>[0]> = {},
  checkpoint: string | null = null,
) {
  const batches: Array<{ checkpoint: string; rows: number }> = [];
  let rowsCopied = 0;
  for (;;) {
    const r = await copyShard({
      source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint, batchBytes, deadline: FAR(), ...io,
      onBatch: async (p) => {
        batches.push(p);
        checkpoint = p.checkpoint;
      },
      ...extra,
    });
    rowsCopied += r.rowsCopied;
    if (r.done) return { batches, rowsCopied };
  }
}

describe('columnar pass-through', () => {
  it('is what copyShard uses by default on these clusters', () => {
    expect(source.supportsColumns()).toBe(true);
    expect(target.supportsColumns()).toBe(true);
  });

  it('writes exactly the rows the row path writes: every field type, dynamic keys, sparse, Float16/BFloat16/binary, nested JSON, defaults, BM25 regenerated', async () => {
    const ids = [...NASTY_PKS, ...Array.from({ length: 90 }, (_, i) => `row-${i}`)];
    const sourceSpec = await sourceRich(ids);
    const viaRows = await newTarget(sourceSpec);
    const viaColumns = await newTarget(sourceSpec);
    const slow = await copyAll(sourceSpec, viaRows, rowIo, 8 * 1024);
    const fast = await copyAll(sourceSpec, viaColumns, columnarIo, 8 * 1024);
    expect(fast.rowsCopied).toBe(ids.length);
    expect(slow.rowsCopied).toBe(ids.length);
    expect(fast.batches.length).toBeGreaterThan(2);
    // Checkpoints are the same keys in the same order, whatever the batch sizes were.
    expect(fast.batches.at(-1)!.checkpoint).toBe(slow.batches.at(-1)!.checkpoint);

    const [s, a, b] = await Promise.all([readAll(source.client(DB), sourceSpec.name), readAll(target.client(DB), viaRows.name), readAll(target.client(DB), viaColumns.name)]);
    expect(b).toEqual(a);
    expect(b).toEqual(s);
    const byId = new Map(b.map((r) => [r.id as string, r]));
    expect(byId.get('row-1')!.$meta).toEqual({ dyn_str: 'dyn 15', dyn_obj: { deep: { k: [15, 'x'] } } });
    expect(byId.get('a"quote')!.i64).toBe('9007199254740994');
    expect(byId.get('new\nline')!.j).toEqual({ n: 6, nested: { list: [1, 'two', { three: [6, null, true] }], text: 'é"\\\n' }, big: 12345678901 });

    // The BM25 output was regenerated by the target from the copied text: full-text search finds the rows.
    const hits = await mustOk(
      target.client(DB).search({ collection_name: viaColumns.name, data: ['milvus'], anns_field: 'bm', limit: 5, output_fields: ['txt'] } as never),
    );
    expect(hits.results.length).toBeGreaterThan(0);
    for (const h of hits.results) expect(h.txt).toContain('milvus');
  });

  it('decodes Int64 keys of every size (negative, beyond 2^53) for checkpoints, on a collection without a dynamic field', async () => {
    const name = uniqueName('col_i64');
    created.push([source, name]);
    const client = source.client(DB);
    await mustOk(
      client.createCollection({
        collection_name: name,
        fields: [
          { name: 'pk', data_type: DataType.Int64, is_primary_key: true },
          { name: 'v', data_type: DataType.FloatVector, dim: 4 },
          { name: 'n', data_type: DataType.Int32, default_value: 3 },
        ],
      }),
    );
    const keys = ['-9223372036854775807', '-4611686018427387904', '-1', '0', '1', '127', '128', '300', '9007199254740993', '4611686018427387904', '9223372036854775807'];
    await insertRows(client, name, keys.map((pk, i) => ({ pk, v: [i, -i, 0.5, 1], n: i })));
    await indexAndLoad(client, name, [['v', 'FLAT', 'L2']]);
    const sourceSpec = await describeCollection(source, DB, name);
    const targetSpec = await newTarget(sourceSpec);
    const reader = sourcePages(sourceSpec);
    const writer = new KeyRangeWriter({ cluster: target, db: DB, spec: targetSpec });
    const seen: string[] = [];
    const pageKeys: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await reader.read({ afterPk: after, upperInclusive: null, limit: 3 });
      if (page.rowCount === 0) break;
      expect(page.bytes).toBeGreaterThan(0);
      seen.push(page.lastPk!);
      pageKeys.push(...page.keys());
      after = page.lastPk;
      expect(await writer.insertPage(page)).toBe('written');
      if (page.rowCount < 3) break;
    }
    expect(seen).toEqual([keys[2], keys[5], keys[8], keys[10]]);
    // Every key of a page decodes too (the engine pages past keys no filter can hold with them).
    expect(pageKeys).toEqual(keys);
    expect(await readAll(target.client(DB), targetSpec.name, 'pk')).toEqual(await readAll(source.client(DB), sourceSpec.name, 'pk'));
  });

  it('resumes after a crash at any batch on the columnar path, exact row for row', async () => {
    const ids = Array.from({ length: 80 }, (_, i) => `k${String(i).padStart(3, '0')}${['"', '\\', '\n', '😀', ''][i % 5]}`);
    const sourceSpec = await sourceRich(ids);
    const probe = await newTarget(sourceSpec);
    const { batches } = await copyAll(sourceSpec, probe, columnarIo, 12 * 1024);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    const sourceRows = await readAll(source.client(DB), sourceSpec.name);

    for (let k = 1; k <= batches.length; k++) {
      const targetSpec = await newTarget(sourceSpec);
      let saved: string | null = null;
      let seen = 0;
      const crash = await copyShard({
        source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint: null, batchBytes: 12 * 1024, deadline: FAR(),
        ...columnarIo,
        onBatch: async (p) => {
          seen += 1;
          if (seen === k) throw new Error('crash between the write and the checkpoint');
          saved = p.checkpoint;
        },
      }).catch((e: Error) => e);
      expect(crash).toBeInstanceOf(Error);
      // The default path (columnar) resumes from the saved checkpoint.
      await copyAll(sourceSpec, targetSpec, undefined, 12 * 1024, {}, saved);
      expect(await count(target.client(DB), targetSpec.name)).toBe(ids.length);
      expect(await readAll(target.client(DB), targetSpec.name)).toEqual(sourceRows);
      await dropCollection(target, DB, targetSpec.name);
    }
  });
});

/**
 * A gRPC proxy in front of the target: forwards every Insert as bytes, but answers some with a
 * RateLimit status (ErrorCode 49, merr 8) or a RESOURCE_EXHAUSTED error instead.
 */
async function startThrottlingProxy(upstream: string, plan: Array<'rate-limit' | 'exhausted' | 'pass'>) {
  const identity = (b: Buffer) => b;
  const forward = new grpc.Client(upstream, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
  const answered: string[] = [];
  const rateLimited = (() => {
    const status = protobuf.Writer.create().uint32(8).int32(49).uint32(18).string('rate limit exceeded[rate=0.1]').uint32(24).int32(8).finish();
    return Buffer.from(protobuf.Writer.create().uint32(10).bytes(status).finish());
  })();
  const server = new grpc.Server();
  const path = '/milvus.proto.milvus.MilvusService/Insert';
  server.addService(
    { Insert: { path, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } } as never,
    {
      Insert: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const next = plan.shift() ?? 'pass';
        answered.push(next);
        if (next === 'rate-limit') return callback(null, rateLimited);
        if (next === 'exhausted') return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'grpc: received message larger than max' });
        forward.makeUnaryRequest(path, identity, identity, call.request, call.metadata, (error, reply) => callback(error, reply));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return {
    uri: `127.0.0.1:${port}`,
    answered,
    async stop() {
      forward.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

describe('rate limits', () => {
  let sourceSpec: CollectionSpec;
  const ids = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    sourceSpec = await sourceRich(ids);
  });

  it('maps RateLimit statuses and RESOURCE_EXHAUSTED to the two kinds the copy absorbs, and nothing else', () => {
    const status = decodeStatus(protobuf.Writer.create().uint32(8).int32(49).uint32(18).string('rate limit exceeded').finish());
    expect(status.error_code).toBe('RateLimit');
    expect(rateLimitKind(statusToError(status, 'write'))).toBe('rate-limit');
    expect(rateLimitKind(statusToError({ code: 8, reason: 'quota' }, 'write'))).toBe('rate-limit');
    expect(rateLimitKind(toMigrationError({ code: 8, details: 'exhausted' }, 'read'))).toBe('resource-exhausted');
    expect(rateLimitKind(toMigrationError({ code: 14, details: 'unavailable' }, 'read'))).toBeNull();
    expect(rateLimitKind(statusToError({ code: 100, reason: 'collection not found' }, 'read'))).toBeNull();
    const reply = parseMutationResult(Buffer.from(protobuf.Writer.create().uint32(10).fork().uint32(24).int32(8).ldelim().uint32(48).int64(7).finish()));
    expect(reply).toMatchObject({ status: { code: 8 }, insertCount: 7, errIndexCount: 0 });
    // Exponential with jitter, capped.
    const policy: RateLimitPolicy = { baseMs: 100, maxMs: 1_000, budgetMs: 10_000 };
    expect(backoffMs(policy.baseMs, policy.maxMs, 1, () => 1)).toBe(100);
    expect(backoffMs(policy.baseMs, policy.maxMs, 3, () => 1)).toBe(400);
    expect(backoffMs(policy.baseMs, policy.maxMs, 3, () => 0)).toBe(200);
    expect(backoffMs(policy.baseMs, policy.maxMs, 10, () => 1)).toBe(1_000);
  });

  it('slows down on RateLimit and RESOURCE_EXHAUSTED answers of the target, halves the batch, and still copies every row exactly once', async () => {
    const proxy = await startThrottlingProxy(inject('milvusTargetUri'), ['rate-limit', 'rate-limit', 'pass', 'exhausted', 'rate-limit', 'pass', 'rate-limit']);
    const throttled = testCluster({ uri: proxy.uri });
    try {
      const targetSpec = await newTarget(sourceSpec);
      const limited: string[] = [];
      const reads: number[] = [];
      const reader = sourcePages(sourceSpec);
      const io = {
        pages: { canDropRows: false, keysAfter: (...a) => reader.keysAfter(...a), read: (r: ReadRequest) => (reads.push(r.limit), reader.read(r)) } satisfies PageSource,
        // Only the inserts go through the proxy.
        writer: new KeyRangeWriter({ cluster: throttled, db: DB, spec: targetSpec }, { rateLimit: FAST, onRateLimited: (kind) => limited.push(kind) }),
      };
      const { rowsCopied, batches } = await copyAll(sourceSpec, targetSpec, io, 8 * 1024, { rateLimit: FAST, onRateLimited: (kind) => limited.push(kind) });
      expect(rowsCopied).toBe(ids.length);
      expect(batches.reduce((n, b) => n + b.rows, 0)).toBe(ids.length);
      expect(limited).toEqual(['rate-limit', 'rate-limit', 'resource-exhausted', 'rate-limit', 'rate-limit']);
      expect(proxy.answered.slice(0, 7)).toEqual(['rate-limit', 'rate-limit', 'pass', 'exhausted', 'rate-limit', 'pass', 'rate-limit']);
      // After RESOURCE_EXHAUSTED the same rows were read again in a smaller batch.
      expect(Math.min(...reads.slice(2))).toBeLessThan(reads[1]);
      expect(await readAll(target.client(DB), targetSpec.name)).toEqual(await readAll(source.client(DB), sourceSpec.name));
    } finally {
      await throttled.close();
      await proxy.stop();
    }
  });

  it('backs off rate-limited reads too, halving the batch on RESOURCE_EXHAUSTED', async () => {
    const targetSpec = await newTarget(sourceSpec);
    const real = sourcePages(sourceSpec);
    const refusals = [new TransientError('MILVUS_RATE_LIMITED', 'read: rate limit'), toMigrationError({ code: 8, details: 'result too large' }, 'read')];
    const limits: number[] = [];
    const reader: PageSource = {
      canDropRows: false,
      keysAfter: (...a) => real.keysAfter(...a),
      read: async (r: ReadRequest): Promise<Page> => {
        limits.push(r.limit);
        const refusal = refusals.shift();
        if (refusal) throw refusal;
        return real.read(r);
      },
    };
    const limited: string[] = [];
    const { rowsCopied } = await copyAll(sourceSpec, targetSpec, { pages: reader }, 64 * 1024, {
      rateLimit: FAST,
      onRateLimited: (kind) => limited.push(kind),
    });
    expect(rowsCopied).toBe(ids.length);
    expect(limited).toEqual(['rate-limit', 'resource-exhausted']);
    expect(limits[2]).toBeLessThan(limits[1]);
    expect((await pks(target.client(DB), targetSpec.name, 'id')).sort()).toEqual([...ids].sort());
  });

  it('gives up with a TransientError once the backoff budget is spent, saving no checkpoint past what was written', async () => {
    const targetSpec = await newTarget(sourceSpec);
    const proxy = await startThrottlingProxy(inject('milvusTargetUri'), Array.from({ length: 1_000 }, () => 'rate-limit' as const));
    const throttled = testCluster({ uri: proxy.uri });
    const checkpoints: string[] = [];
    let tries = 0;
    try {
      const error = await copyShard({
        source, sourceDb: DB, sourceSpec, target, targetDb: DB, targetSpec, range: ALL, checkpoint: null, batchBytes: 16 * 1024, deadline: FAR(),
        writer: new KeyRangeWriter({ cluster: throttled, db: DB, spec: targetSpec }, { rateLimit: { baseMs: 1, maxMs: 4, budgetMs: 40 }, onRateLimited: () => (tries += 1) }),
        onBatch: async (p) => void checkpoints.push(p.checkpoint),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as TransientError).code).toBe('MILVUS_RATE_LIMITED');
      expect(tries).toBeGreaterThan(3);
      expect(checkpoints).toEqual([]);
    } finally {
      await throttled.close();
      await proxy.stop();
    }
  });
});
