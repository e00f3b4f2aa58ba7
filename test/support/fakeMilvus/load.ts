import { Code, MilvusError, errors, ok } from './status';
import { type CallContext, type Collection, collectionOf, dbOf } from './state';
import type { Handlers } from './handlers';
import { isVectorType } from './fieldData';

function byIdOrName(ctx: CallContext, req: any): Collection {
  if (!req.collection_name && req.collectionID) {
    for (const c of dbOf(ctx, req.db_name).collections.values()) if (c.id === String(req.collectionID)) return c;
    throw errors.collectionNotFound(ctx.dbName, String(req.collectionID));
  }
  return collectionOf(ctx, req);
}

export const loadHandlers: Handlers = {
  LoadCollection(req, ctx) {
    const coll = collectionOf(ctx, req);
    for (const f of coll.schema.fields) {
      if (isVectorType(f.data_type) && ![...coll.indexes.values()].some((i) => i.field_name === f.name))
        throw errors.indexNotFound(coll.name);
    }
    const replicas = Number(req.replica_number) > 0 ? Number(req.replica_number) : 1;
    // Each replica needs a query node of its own (Milvus 2.4/2.5 answer merr 304).
    const nodes = ctx.state.queryNodes;
    if (nodes !== undefined && replicas > nodes)
      throw new MilvusError(
        Code.ResourceGroupNodeNotEnough,
        `resource group node not enough[rg=__default_resource_group][currentNodeNum=${nodes}][expectedNodeNum=${replicas}]`,
      );
    if (coll.loadedReplicas !== null && coll.loadedReplicas !== replicas)
      throw errors.invalid(`can't change the replica number for loaded collection: expected=${coll.loadedReplicas}, actual=${replicas}`);
    coll.loadedReplicas = replicas;
    return ok();
  },
  ReleaseCollection(req, ctx) {
    collectionOf(ctx, req).loadedReplicas = null;
    return ok();
  },
  GetLoadState(req, ctx) {
    // A missing collection answers LoadStateNotExist with a success status (measured on milvus-lite).
    const db = dbOf(ctx, req.db_name);
    if (!db.collections.has(req.collection_name) && !db.aliases.has(req.collection_name))
      return { status: ok(), state: 'LoadStateNotExist' };
    const coll = collectionOf(ctx, req);
    return { status: ok(), state: coll.loadedReplicas !== null ? 'LoadStateLoaded' : 'LoadStateNotLoad' };
  },
  GetLoadingProgress(req, ctx) {
    const coll = collectionOf(ctx, req);
    if (coll.loadedReplicas === null) throw errors.collectionNotLoaded(coll.name);
    return { status: ok(), progress: '100', refresh_progress: '100' };
  },
  GetReplicas(req, ctx) {
    const coll = byIdOrName(ctx, req);
    if (coll.loadedReplicas === null) throw errors.collectionNotLoaded(coll.name);
    const partitionIds = [...coll.partitions.values()].map((p) => p.id);
    return {
      status: ok(),
      replicas: Array.from({ length: coll.loadedReplicas }, (_, i) => ({
        replicaID: String(BigInt(coll.id) + BigInt(i + 1)),
        collectionID: coll.id,
        partition_ids: partitionIds,
        shard_replicas: [],
        node_ids: [String(i + 1)],
        resource_group_name: '__default_resource_group',
        num_outbound_node: {},
      })),
    };
  },
};
