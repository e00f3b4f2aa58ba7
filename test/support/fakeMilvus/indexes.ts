import { Code, MilvusError, errors, ok } from './status';
import { type Collection, type IndexInfo, type KeyValue, collectionOf, rowCount } from './state';
import type { Handlers } from './handlers';
import { isVectorType, typeParam } from './fieldData';

function defaultMetric(dataType: string): string {
  if (dataType === 'SparseFloatVector') return 'IP';
  if (dataType === 'BinaryVector') return 'HAMMING';
  return 'COSINE';
}

/** Like datacoord.DescribeIndex: filtered by index name only (a field_name in the request is ignored). */
function matching(coll: Collection, req: { index_name?: string }): IndexInfo[] {
  return [...coll.indexes.values()].filter((i) => !req.index_name || i.index_name === req.index_name);
}

/**
 * The index params as DescribeIndex answers them (measured on milvus-lite 2.5): index_type, metric_type,
 * the keys of the `params` JSON flattened to strings, and `dim` for dense vector fields.
 */
function userIndexParams(field: any, extra: KeyValue[]): KeyValue[] {
  const map = new Map<string, string>();
  const get = (k: string) => extra.find((p) => p.key === k)?.value;
  const isVector = isVectorType(field.data_type);
  map.set('index_type', get('index_type') || (isVector ? 'AUTOINDEX' : 'INVERTED'));
  if (isVector) map.set('metric_type', get('metric_type') || defaultMetric(field.data_type));
  for (const p of extra) if (!['index_type', 'metric_type', 'params'].includes(p.key)) map.set(p.key, p.value);
  const json = get('params');
  if (json) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw errors.invalid(`index params is not a valid json: ${json}`);
    }
    for (const [k, v] of Object.entries(parsed)) map.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  const dim = typeParam(field, 'dim');
  if (isVector && dim) map.set('dim', dim);
  return [...map].map(([key, value]) => ({ key, value }));
}

function theIndex(coll: Collection, req: { field_name?: string; index_name?: string }): IndexInfo {
  const found = matching(coll, req);
  if (!found.length) throw errors.indexNotFound(coll.name);
  return found[0];
}

export const indexHandlers: Handlers = {
  CreateIndex(req, ctx) {
    const coll = collectionOf(ctx, req);
    const field = coll.schema.fields.find((f: any) => f.name === req.field_name);
    if (!field) throw errors.invalid(`cannot create index on non-exist field: ${req.field_name}`);
    const params = userIndexParams(field, req.extra_params ?? []);
    const indexName: string = req.index_name || field.name;
    const onField = [...coll.indexes.values()].find((i) => i.field_name === field.name);
    const same = (i: IndexInfo) => JSON.stringify(i.params) === JSON.stringify(params);
    if (onField) {
      if (onField.index_name === indexName && same(onField)) return ok();
      throw new MilvusError(Code.IndexDuplicate, 'CreateIndex failed: at most one distinct index is allowed per field');
    }
    if (coll.indexes.has(indexName)) throw new MilvusError(Code.IndexDuplicate, `index duplicates[indexName=${indexName}]`);
    coll.indexes.set(indexName, { indexID: ctx.state.nextId(), index_name: indexName, field_name: field.name, params });
    return ok();
  },
  DescribeIndex(req, ctx) {
    const coll = collectionOf(ctx, req);
    const found = matching(coll, req);
    if (!found.length) throw errors.indexNotFound(coll.name);
    const rows = String(rowCount(coll));
    return {
      status: ok(),
      index_descriptions: found.map((i) => ({
        index_name: i.index_name,
        indexID: i.indexID,
        params: i.params,
        field_name: i.field_name,
        indexed_rows: rows,
        total_rows: rows,
        state: 'Finished',
        index_state_fail_reason: '',
        pending_index_rows: '0',
        min_index_version: 0,
        max_index_version: 0,
      })),
    };
  },
  DropIndex(req, ctx) {
    const coll = collectionOf(ctx, req);
    if (coll.loadedReplicas !== null) throw errors.invalid('index cannot be dropped, collection is loaded, please release it first');
    const found = matching(coll, req);
    if (!found.length) throw errors.indexNotFound(coll.name);
    coll.indexes.delete(found[0].index_name);
    return ok();
  },
  GetIndexState(req, ctx) {
    theIndex(collectionOf(ctx, req), req);
    return { status: ok(), state: 'Finished', fail_reason: '' };
  },
  GetIndexBuildProgress(req, ctx) {
    const coll = collectionOf(ctx, req);
    theIndex(coll, req);
    const rows = String(rowCount(coll));
    return { status: ok(), indexed_rows: rows, total_rows: rows };
  },
};
