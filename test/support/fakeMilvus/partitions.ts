import { errors, ok } from './status';
import { type Collection, collectionOf } from './state';
import type { Handlers } from './handlers';

const MAX_PARTITIONS = 1024;

export function hasPartitionKey(coll: Collection): boolean {
  return coll.schema.fields.some((f: any) => f.is_partition_key);
}

export const partitionHandlers: Handlers = {
  CreatePartition(req, ctx) {
    const coll = collectionOf(ctx, req);
    const name: string = req.partition_name;
    if (hasPartitionKey(coll)) throw errors.invalid('disable create partition if partition key mode is used');
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,254}$/.test(name)) throw errors.invalid(`Invalid partition name: ${name}`);
    if (coll.partitions.has(name)) return ok(); // rootcoord treats a duplicate partition as done
    if (coll.partitions.size >= MAX_PARTITIONS)
      throw errors.invalid(`partition number (${coll.partitions.size}) exceeds max configuration (${MAX_PARTITIONS})`);
    coll.partitions.set(name, { id: ctx.state.nextId(), name, createdAt: Date.now(), rows: new Map() });
    return ok();
  },
  ShowPartitions(req, ctx) {
    const coll = collectionOf(ctx, req);
    let parts = [...coll.partitions.values()];
    if (req.partition_names?.length) {
      parts = req.partition_names.map((n: string) => {
        const p = coll.partitions.get(n);
        if (!p) throw errors.partitionNotFound(n);
        return p;
      });
    }
    const loaded = coll.loadedReplicas !== null ? '100' : '0';
    return {
      status: ok(),
      partition_names: parts.map((p) => p.name),
      partitionIDs: parts.map((p) => p.id),
      created_timestamps: parts.map((p) => String(BigInt(p.createdAt) << 18n)),
      created_utc_timestamps: parts.map((p) => String(p.createdAt)),
      inMemory_percentages: parts.map(() => loaded),
    };
  },
  HasPartition(req, ctx) {
    const coll = collectionOf(ctx, req);
    return { status: ok(), value: coll.partitions.has(req.partition_name) };
  },
  DropPartition(req, ctx) {
    const coll = collectionOf(ctx, req);
    const name: string = req.partition_name;
    if (hasPartitionKey(coll)) throw errors.invalid('disable drop partition if partition key mode is used');
    if (name === '_default') throw errors.invalid('default partition cannot be deleted');
    if (!coll.partitions.has(name)) return ok();
    if (coll.loadedReplicas !== null)
      throw errors.invalid('partition cannot be dropped, partition is loaded, please release it first');
    coll.partitions.delete(name);
    return ok();
  },
};
