import { DataType, type MilvusClient } from '@zilliz/milvus2-sdk-node';
import type { MigrationService } from '../../lib/api/service';
import { preflight } from '../../lib/migration/preflight';
import type { Services } from '../../lib/services';
import { client } from '../support/rows';
import { copyAll } from '../support/steps';

export { startCapture, type CaptureProcess } from '../../local/captureProcess';

const DIM = 8;

export function vector(seed: number): number[] {
  return Array.from({ length: DIM }, (_, i) => Math.round(Math.sin(seed * 7 + i) * 1000) / 1000);
}

/** An explicit-key collection (id Int64, tag VarChar, n Int64, vec) holding `rows` rows. */
export async function createKeyed(uri: string, name: string, rows: number, options: { autoId?: boolean } = {}): Promise<void> {
  const c = client(uri);
  try {
    await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: options.autoId ?? false },
        { name: 'tag', data_type: DataType.VarChar, max_length: 64 },
        { name: 'n', data_type: DataType.Int64 },
        { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      ],
      index_params: [{ field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' }],
    } as never);
    await c.loadCollection({ collection_name: name });
    if (rows > 0) {
      const data = Array.from({ length: rows }, (_, i) => ({ ...(options.autoId ? {} : { id: i + 1 }), tag: i % 2 ? 'odd' : 'even', n: i, vec: vector(i) }));
      await c.insert({ collection_name: name, data } as never);
    }
  } finally {
    await c.closeConnection();
  }
}

/** A Milvus client of the capture endpoint (or any address). */
export function appClient(address: string): MilvusClient {
  return client(address);
}

/** The `tag` of each of these keys that `uri` holds (a read with Strong consistency), by key. */
export async function tagsById(uri: string, collection: string, ids: readonly number[]): Promise<Record<string, unknown>> {
  const c = client(uri);
  try {
    const rows = await c.query({ collection_name: collection, filter: `id in [${ids.join(', ')}]`, output_fields: ['id', 'tag'], consistency_level: 'Strong' } as never);
    return Object.fromEntries(rows.data.map((r: Record<string, unknown>) => [String(r.id), r.tag]));
  } finally {
    await c.closeConnection();
  }
}

/**
 * An online job over one keyed collection of `rows` rows on `sourceUri`, created through the
 * service and driven through Preflight and the full copy step by step (no state machine): what
 * the sync steps' tests start from.
 */
export async function copiedOnlineJob(
  { services, service }: { services: Services; service: MigrationService },
  { sourceUri, targetUri, name, rows, options }: { sourceUri: string; targetUri: string; name: string; rows: number; options: Record<string, unknown> },
): Promise<string> {
  await createKeyed(sourceUri, name, rows);
  const { jobId } = (await service.create({
    type: 'online',
    source: { uri: sourceUri },
    target: { uri: targetUri },
    databases: [{ name: 'default', collections: [{ name }] }],
    options,
  })) as unknown as { jobId: string };
  await preflight(services, { jobId });
  await copyAll(services, jobId);
  return jobId;
}
