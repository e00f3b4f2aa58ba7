/**
 * npm run bench:capture-latency [-- --writes 200 --dim 128]
 *
 * The write latency the capture endpoint adds, and where it goes. One milvus-lite server and one
 * DynamoDB Local; one writer upserting one row at a time (each call waits for the previous), so
 * every figure is a round trip, not a queue:
 *   direct          straight to the source
 *   endpoint, log answering at once   the proxy's own hop: decode the keys, forward, reply
 *   endpoint, DynamoDB Local log      what a user gets: the change durable in the job table first
 *   change log append alone           one group commit's BatchWriteItem to DynamoDB Local
 * Each endpoint row is run twice (the first warms the connections), and DynamoDB Local (a JVM,
 * whose JIT warms over its first thousands of calls: before this warm-up the same endpoint row
 * measured 8.3 to 8.8 ms at p50, after it 5.8 to 6.5) first takes 3,000 appends. p50 / p99 in ms.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { DynamoChangeLog } from '../lib/capture/dynamoChangeLog';
import type { ChangeLog } from '../lib/capture/changes';
import { WriteCapture } from '../lib/capture/writeCapture';
import { createDocumentClient } from '../lib/jobs/dynamoJobStore';
import { createJobTable } from '../lib/jobs/table';
import { startCaptureProxy } from '../lib/milvus/gateway';
import { startDynamoLocal } from '../local/dynamoLocal';
import { startMilvusLite } from '../local/milvusLite';

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}
const WRITES = flag('writes', 200);
const DIM = flag('dim', 128);

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.floor((p / 100) * (values.length - 1))]!;
const line = (label: string, ms: number[]) => console.log(`${label.padEnd(40)} p50 ${percentile(ms, 50).toFixed(1).padStart(6)}  p99 ${percentile(ms, 99).toFixed(1).padStart(6)}  (${ms.length} calls)`);

/** A change log that answers at once: what the proxy costs without the log's round trip. */
const instantLog: ChangeLog = { append: async () => undefined, read: async () => [], heartbeat: async () => undefined, heartbeats: async () => [] };

async function main(): Promise<void> {
  const [source, dynamo] = await Promise.all([startMilvusLite(), startDynamoLocal()]);
  try {
    const raw = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await createJobTable(raw, 'bench-capture');
    const log = new DynamoChangeLog(createDocumentClient(raw), 'bench-capture');
    const admin = new MilvusClient({ address: source.uri, telemetry: { enabled: false } } as never);
    await admin.createCollection({ collection_name: 'c', fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: DIM }] } as never);
    await admin.createIndex({ collection_name: 'c', field_name: 'v', index_type: 'AUTOINDEX', metric_type: 'L2' });
    await admin.loadCollection({ collection_name: 'c' });

    let id = 0;
    const upserts = async (address: string): Promise<number[]> => {
      const c = new MilvusClient({ address, telemetry: { enabled: false } } as never);
      const ms: number[] = [];
      for (let i = 0; i < WRITES; i++) {
        const row = { id: id++, v: Array.from({ length: DIM }, Math.random) };
        const t = performance.now();
        await c.upsert({ collection_name: 'c', data: [row] } as never);
        ms.push(performance.now() - t);
      }
      await c.closeConnection();
      return ms;
    };

    // DynamoDB Local is a JVM: its JIT warms over the first thousands of calls (a DynamoDB endpoint has no such phase).
    for (let i = 0; i < 3000; i++) {
      const at = Date.now();
      await log.append('warm-up', [{ id: `${at}-warm-${i}`, at, db: 'default', collection: 'c', kind: 'upsert-keys', keys: [String(i)] }], i % 2 ? [{ id: `${at}-warm-${i - 1}`, outcome: 'applied' }] : []);
    }
    console.log(`one row of ${DIM}-d per upsert, ${WRITES} upserts per row of the table, ms`);
    line('direct', await upserts(source.uri));
    for (const [label, changeLog] of [['endpoint, log answering at once', instantLog], ['endpoint, DynamoDB Local log', log]] as const) {
      const capture = new WriteCapture({ jobId: 'bench', log: changeLog, instanceId: 'bench', writeTimeoutMs: 30_000 });
      const proxy = await startCaptureProxy({ listen: '127.0.0.1:0', source: { uri: source.uri }, hooks: capture, writeTimeoutMs: 30_000 });
      await upserts(proxy.address);
      line(label, await upserts(proxy.address));
      await proxy.close();
    }
    const appends: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const at = Date.now();
      const t = performance.now();
      await log.append('bench', [{ id: `${at}-bench-${i}`, at, db: 'default', collection: 'c', kind: 'upsert-keys', keys: [String(i)] }], []);
      appends.push(performance.now() - t);
    }
    line('change log append alone', appends);
    line('direct, again', await upserts(source.uri));
    await admin.closeConnection();
  } finally {
    await Promise.all([source.stop(), dynamo.stop()]);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
