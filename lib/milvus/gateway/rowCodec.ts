import { fromJSON } from '@grpc/proto-loader';
import { buildFieldDataMap, DataType, DEFAULT_DYNAMIC_FIELD, LOADER_OPTIONS } from '@zilliz/milvus2-sdk-node';
// A static import, so the bundler carries the file into every Lambda asset (a createRequire()
// call is invisible to it, and the deployed functions failed at import).
import * as milvusProtoModule from '@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js';
import type { MilvusStatus } from '../status';

/**
 * Row queries without the SDK's per-call overhead: the request `query()` sends, on the raw channel
 * (channel.ts), decoded with the SDK's own proto definitions and loader options, turned into rows
 * by the SDK's own `buildFieldDataMap`, so the rows are the ones `query()` gives.
 *
 * Why: the SDK's retry interceptor JSON-stringifies every decoded reply (even with logging off),
 * which cost the sync's row reads about a third of their CPU (measured on 128-d rows).
 */

export type Row = Record<string, unknown>;

// Float16/BFloat16 vectors travel as plain arrays of their raw bytes: the SDK would otherwise
// convert them to float32 and back, and JSON-clone them (destroying Buffers) on dynamic collections.
export const readTransformers = {
  [DataType.Float16Vector]: (bytes: Uint8Array) => Array.from(bytes),
  [DataType.BFloat16Vector]: (bytes: Uint8Array) => Array.from(bytes),
};
export const writeTransformers = {
  [DataType.Float16Vector]: (bytes: number[]) => Buffer.from(bytes),
  [DataType.BFloat16Vector]: (bytes: number[]) => Buffer.from(bytes),
};

// The SDK's bundled Milvus protos, loaded as its client loads them. The file is CommonJS with an
// `exports.default`: Node and tsx hand it over as module.exports or as that default, depending on
// interop, so take whichever holds the proto root.
export const milvusProtoJson = (() => {
  const imported = (milvusProtoModule as { default?: { nested?: unknown; default?: unknown } }).default;
  return imported && 'nested' in imported ? imported : imported?.default;
})() as Parameters<typeof fromJSON>[0];

interface QueryCodec {
  serialize(value: object): Buffer;
  deserialize(bytes: Buffer): Record<string, unknown>;
}
let query: QueryCodec | undefined;
function queryCodec(): QueryCodec {
  if (!query) {
    const method = (fromJSON(milvusProtoJson, LOADER_OPTIONS)['milvus.proto.milvus.MilvusService'] as Record<string, { requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): Record<string, unknown> }>).Query!;
    query = { serialize: (v) => method.requestSerialize(v), deserialize: (b) => method.responseDeserialize(b) };
  }
  return query;
}

export interface RowQueryRequest {
  collection: string;
  filter: string;
  outputFields: string[];
  partition?: string;
  limit: number;
  offset?: number;
}

/** A Strong-consistency QueryRequest, encoded. */
export function encodeRowQuery(q: RowQueryRequest): Buffer {
  const params = [{ key: 'limit', value: String(q.limit) }, ...(q.offset ? [{ key: 'offset', value: String(q.offset) }] : [])];
  return queryCodec().serialize({
    collection_name: q.collection,
    expr: q.filter,
    output_fields: q.outputFields,
    partition_names: q.partition ? [q.partition] : [],
    query_params: params,
    consistency_level: 'Strong',
  });
}

/** A QueryResults reply as `client.query()` returns it: its status and its rows. */
export function decodeRows(reply: Buffer): { status: MilvusStatus; data: Row[] } {
  const decoded = queryCodec().deserialize(reply) as { status: MilvusStatus; fields_data: Array<{ field_name: string }> };
  if (!decoded.fields_data?.length) return { status: decoded.status, data: [] };
  // As the SDK's query(): columns by field name, dynamic keys asked by name read out of $meta.
  const columns = buildFieldDataMap(decoded.fields_data as never, readTransformers as never) as Map<string, unknown[]>;
  const names = decoded.fields_data.map((f) => f.field_name);
  const data: Row[] = [];
  for (const name of names) {
    const fixed = columns.has(name);
    const column = (fixed ? columns.get(name) : columns.get(DEFAULT_DYNAMIC_FIELD)) ?? [];
    for (let i = 0; i < column.length; i++) (data[i] ??= {})[name] = fixed ? column[i] : (column[i] as Row)?.[name];
  }
  return { status: decoded.status, data };
}
