import { fromJSON } from '@grpc/proto-loader';
import { buildFieldDataMap, DEFAULT_DYNAMIC_FIELD, LOADER_OPTIONS, type MilvusClient } from '@zilliz/milvus2-sdk-node';
// A static import, so the bundler carries the file into every Lambda asset (a createRequire()
// call is invisible to it, and the deployed functions failed at import).
import * as milvusProtoModule from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import { rawChannel, RawMilvusChannel } from './columnar';
import type { MilvusStatus } from './status';

/**
 * The SDK's `query()` without its per-call overhead: the same request, sent on the raw channel
 * (lib/milvus/columnar.ts), decoded with the SDK's own proto definitions and loader options, and
 * turned into rows by the SDK's own `buildFieldDataMap`, so the rows are the ones `query()` gives.
 *
 * Why: the SDK's retry interceptor JSON-stringifies every decoded reply (even with logging off),
 * which cost the sync's row reads about a third of their CPU (measured on 128-d rows).
 */

type Row = Record<string, unknown>;

interface QueryRows {
  status: MilvusStatus;
  data: Row[];
}

export interface RowQuery {
  collection_name: string;
  filter: string;
  output_fields: string[];
  partition_names?: string[];
  limit: number;
  offset?: number;
  transformers?: unknown;
}

const QUERY = '/milvus.proto.milvus.MilvusService/Query';

// The SDK's bundled Milvus protos, loaded as its client loads them. The file is CommonJS with an
// `exports.default`: Node and tsx hand it over as module.exports or as that default, depending on
// interop, so take whichever holds the proto root.
const milvusProtoJson = (() => {
  const imported = (milvusProtoModule as { default?: { nested?: unknown; default?: unknown } }).default;
  return imported && 'nested' in imported ? imported : imported?.default;
})() as Parameters<typeof fromJSON>[0];
let query: { serialize(value: object): Buffer; deserialize(bytes: Buffer): Record<string, unknown> } | undefined;
function queryMethod() {
  if (!query) {
    const method = (fromJSON(milvusProtoJson, LOADER_OPTIONS)['milvus.proto.milvus.MilvusService'] as Record<string, { requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): Record<string, unknown> }>).Query!;
    query = { serialize: (v) => method.requestSerialize(v), deserialize: (b) => method.responseDeserialize(b) };
  }
  return query;
}

/** Whether queryRows can serve this client (otherwise call the SDK's query). */
export function rowQuerySupported(client: MilvusClient): boolean {
  return RawMilvusChannel.supports(client);
}

/** A Strong-consistency query of rows, as `client.query()` returns them. */
export async function queryRows(client: MilvusClient, q: RowQuery, timeoutMs: number): Promise<QueryRows> {
  const { serialize, deserialize } = queryMethod();
  const params = [{ key: 'limit', value: String(q.limit) }, ...(q.offset ? [{ key: 'offset', value: String(q.offset) }] : [])];
  const request = serialize({
    collection_name: q.collection_name,
    expr: q.filter,
    output_fields: q.output_fields,
    partition_names: q.partition_names ?? [],
    query_params: params,
    consistency_level: 'Strong',
  });
  const reply = deserialize(await rawChannel(client).call(QUERY, request, timeoutMs)) as { status: MilvusStatus; fields_data: Array<{ field_name: string }> };
  if (!reply.fields_data?.length) return { status: reply.status, data: [] };
  // As the SDK's query(): columns by field name, dynamic keys asked by name read out of $meta.
  const columns = buildFieldDataMap(reply.fields_data as never, q.transformers as never) as Map<string, unknown[]>;
  const names = reply.fields_data.map((f) => f.field_name);
  const data: Row[] = [];
  for (const name of names) {
    const fixed = columns.has(name);
    const column = (fixed ? columns.get(name) : columns.get(DEFAULT_DYNAMIC_FIELD)) ?? [];
    for (let i = 0; i < column.length; i++) (data[i] ??= {})[name] = fixed ? column[i] : (column[i] as Row)?.[name];
  }
  return { status: reply.status, data };
}
