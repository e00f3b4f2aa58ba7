import { decodeCollectionSchema } from './proto';
import { Code, MilvusError, errors, ok } from './status';
import {
  type CallContext,
  type Collection,
  type Database,
  type KeyValue,
  aliasesOf,
  collectionOf,
  dbOf,
  mergeProperties,
  rowCount,
} from './state';
import type { Handlers } from './handlers';
import { isVectorType } from './fieldData';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const DEFAULT_PARTITION = '_default';
const DEFAULT_PARTITION_KEY_PARTITIONS = 16;
const COLLECTION_DESCRIPTION = 'collection.description';

function checkName(name: string, what = 'collection name') {
  if (!NAME.test(name)) throw errors.invalid(`Invalid ${what}: ${name}`);
}

/** Validates the schema like the proxy's createCollectionTask and assigns field and function IDs. */
function prepareSchema(schema: Record<string, any>, name: string, db: Database): Record<string, any> {
  const fields: any[] = schema.fields ?? [];
  const pks = fields.filter((f) => f.is_primary_key);
  if (pks.length !== 1) throw errors.invalid(`there should be exactly one primary key, found ${pks.length}`);
  if (!['Int64', 'VarChar'].includes(pks[0].data_type))
    throw errors.invalid('the data type of primary key should be Int64 or VarChar');
  if (!fields.some((f) => isVectorType(f.data_type))) throw errors.invalid('schema does not contain vector field');
  const names = new Set<string>();
  for (const f of fields) {
    checkName(f.name, 'field name');
    if (names.has(f.name)) throw errors.invalid(`duplicated field name ${f.name} found`);
    names.add(f.name);
  }
  const partitionKeys = fields.filter((f) => f.is_partition_key);
  if (partitionKeys.length > 1) throw errors.invalid('there are more than one partition key');
  for (const f of partitionKeys) {
    if (!['Int64', 'VarChar'].includes(f.data_type))
      throw errors.invalid('the data type of partition key should be Int64 or VarChar');
    if (f.is_primary_key) throw errors.invalid('the partition key field must not be primary field');
    if (f.nullable) throw errors.invalid('partition key field not support nullable');
  }
  if (fields.filter((f) => f.is_clustering_key).length > 1) throw errors.invalid('there are more than one clustering key');
  for (const f of fields) {
    if (f.is_primary_key && f.nullable) throw errors.invalid('primary field not support null');
  }
  const outputs = new Set<string>((schema.functions ?? []).flatMap((fn: any) => fn.output_field_names ?? []));
  fields.forEach((f, i) => {
    f.fieldID = String(100 + i);
    f.state = 'FieldCreated';
    if (outputs.has(f.name)) f.is_function_output = true;
  });
  const idOf = new Map(fields.map((f) => [f.name, f.fieldID]));
  (schema.functions ?? []).forEach((fn: any, i: number) => {
    fn.id = String(100 + fields.length + i);
    fn.input_field_ids = (fn.input_field_names ?? []).map((n: string) => idOf.get(n) ?? '0');
    fn.output_field_ids = (fn.output_field_names ?? []).map((n: string) => idOf.get(n) ?? '0');
  });
  schema.name = name;
  schema.autoID = Boolean(pks[0].autoID);
  schema.dbName = db.name;
  schema.properties = [];
  return schema;
}

function describe(db: Database, coll: Collection) {
  const vchannels = Array.from({ length: coll.shards_num }, (_, i) => `by-dev-rootcoord-dml_${i}_${coll.id}v${i}`);
  return {
    status: ok(),
    schema: { ...coll.schema, dbName: db.name },
    collectionID: coll.id,
    virtual_channel_names: vchannels,
    physical_channel_names: vchannels.map((_, i) => `by-dev-rootcoord-dml_${i}`),
    created_timestamp: String(BigInt(coll.createdAt) << 18n),
    created_utc_timestamp: String(coll.createdAt),
    shards_num: coll.shards_num,
    aliases: aliasesOf(db, coll.name),
    start_positions: [],
    consistency_level: coll.consistency_level,
    collection_name: coll.name,
    properties: coll.properties,
    db_name: db.name,
    num_partitions: String(coll.num_partitions),
    db_id: db.id,
    update_timestamp: String(BigInt(coll.createdAt) << 18n),
    update_timestamp_str: String(BigInt(coll.createdAt) << 18n),
  };
}

function findById(ctx: CallContext, db: Database, id: string): Collection {
  for (const c of db.collections.values()) if (c.id === id) return c;
  throw errors.collectionNotFound(db.name, id);
}

export const collectionHandlers: Handlers = {
  CreateCollection(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const name: string = req.collection_name;
    checkName(name);
    const schema = prepareSchema(decodeCollectionSchema(req.schema), name, db);
    if (db.aliases.has(name)) throw errors.invalid(`collection name [${name}] conflicts with an existing alias`);
    const existing = db.collections.get(name);
    if (existing) {
      if (JSON.stringify(existing.schema.fields) === JSON.stringify(schema.fields)) return ok();
      throw errors.invalid(`create duplicate collection with different parameters, collection: ${name}`);
    }
    const hasPartitionKey = schema.fields.some((f: any) => f.is_partition_key);
    let numPartitions = Number(req.num_partitions ?? 0);
    if (hasPartitionKey) {
      if (numPartitions <= 0) numPartitions = DEFAULT_PARTITION_KEY_PARTITIONS;
      if (numPartitions > 1024) throw errors.invalid('partition number (1024) exceeds max configuration');
    } else if (numPartitions > 0) {
      throw errors.invalid('num_partitions should only be specified with partition key field enabled');
    }
    const now = Date.now();
    const coll: Collection = {
      id: ctx.state.nextId(),
      name,
      schema,
      shards_num: Number(req.shards_num) > 0 ? Number(req.shards_num) : 1,
      consistency_level: req.consistency_level ?? 'Bounded',
      properties: req.properties ?? [],
      num_partitions: numPartitions,
      createdAt: now,
      partitions: new Map(),
      indexes: new Map(),
      loadedReplicas: null,
      nextAutoId: BigInt(now) << 18n,
    };
    const partitionNames = hasPartitionKey
      ? Array.from({ length: numPartitions }, (_, i) => `${DEFAULT_PARTITION}_${i}`)
      : [DEFAULT_PARTITION];
    for (const p of partitionNames) coll.partitions.set(p, { id: ctx.state.nextId(), name: p, createdAt: now, rows: new Map() });
    db.collections.set(name, coll);
    return ok();
  },
  DescribeCollection(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const coll =
      !req.collection_name && req.collectionID && req.collectionID !== '0'
        ? findById(ctx, db, req.collectionID)
        : collectionOf(ctx, req);
    return describe(db, coll);
  },
  HasCollection(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    return { status: ok(), value: db.collections.has(req.collection_name) || db.aliases.has(req.collection_name) };
  },
  ShowCollections(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    let colls = [...db.collections.values()];
    if (req.collection_names?.length) colls = req.collection_names.map((n: string) => collectionOf(ctx, { ...req, collection_name: n }));
    if (req.type === 'InMemory') colls = colls.filter((c) => c.loadedReplicas !== null);
    return {
      status: ok(),
      collection_names: colls.map((c) => c.name),
      collection_ids: colls.map((c) => c.id),
      created_timestamps: colls.map((c) => String(BigInt(c.createdAt) << 18n)),
      created_utc_timestamps: colls.map((c) => String(c.createdAt)),
      inMemory_percentages: colls.map((c) => (c.loadedReplicas !== null ? '100' : '0')),
      query_service_available: colls.map((c) => c.loadedReplicas !== null),
      shards_num: colls.map((c) => c.shards_num),
    };
  },
  DropCollection(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const name: string = req.collection_name;
    if (db.aliases.has(name)) throw errors.invalid(`cannot drop the collection via alias = ${name}`);
    const coll = db.collections.get(name);
    if (!coll) return ok(); // dropping a missing collection succeeds (idempotent), as in Milvus 2.4+
    const aliases = aliasesOf(db, name);
    if (aliases.length)
      throw errors.unexpected(
        `unable to drop the collection [${name}] because it has associated aliases [${aliases.join(', ')}], please remove all aliases before dropping the collection`,
      );
    db.collections.delete(name);
    return ok();
  },
  AlterCollection(req, ctx) {
    const coll = collectionOf(ctx, req);
    // Milvus 2.6 changes the description through this key; it is not kept as a property.
    const set: KeyValue[] = req.properties ?? [];
    const description = set.find((p) => p.key === COLLECTION_DESCRIPTION);
    if (description) coll.schema.description = description.value;
    coll.properties = mergeProperties(
      coll.properties,
      set.filter((p) => p.key !== COLLECTION_DESCRIPTION),
      req.delete_keys ?? [],
    );
    return ok();
  },
  /**
   * The proxy's alterCollectionFieldTask: only max_length (VarChar, Array of VarChar), max_capacity
   * (Array) and mmap.enabled may change; they live in the field's type_params.
   */
  AlterCollectionField(req, ctx) {
    const coll = collectionOf(ctx, req);
    const field = (coll.schema.fields ?? []).find((f: any) => f.name === req.field_name);
    if (!field) throw new MilvusError(Code.FieldNotFound, `field not found[field=${req.field_name}]`);
    const set: KeyValue[] = req.properties ?? [];
    const deleteKeys: string[] = req.delete_keys ?? [];
    if (set.length === 0 && deleteKeys.length === 0) throw errors.invalid('no properties or delete keys provided');
    const isString = field.data_type === 'VarChar' || (field.data_type === 'Array' && field.element_type === 'VarChar');
    for (const { key, value } of set) {
      if (key === 'max_length') {
        if (!isString) throw errors.invalid(`${field.name} can not modify the maxlength for non-string types`);
        const n = Number(value);
        if (!Number.isInteger(n) || n <= 0 || n > 65535) throw errors.invalid(`the maximum length specified for ${field.name} should be in (0, 65535]`);
      } else if (key === 'max_capacity') {
        if (field.data_type !== 'Array') throw errors.invalid(`${field.name} can not modify the max_capacity for non-array types`);
        const n = Number(value);
        if (!Number.isInteger(n) || n <= 0 || n > 4096) throw errors.invalid(`the maximum capacity specified for ${field.name} should be in (0, 4096]`);
      } else if (key === 'mmap.enabled') {
        if (value !== 'true' && value !== 'false') throw errors.invalid(`invalid mmap.enabled value: ${value}`);
      } else {
        throw errors.invalid(`${key} does not support update`);
      }
    }
    for (const key of deleteKeys) if (key !== 'mmap.enabled') throw errors.invalid(`${key} does not support delete`);
    field.type_params = mergeProperties(field.type_params ?? [], set, deleteKeys);
    return ok();
  },
  RenameCollection(req, ctx) {
    const db = dbOf(ctx, req.db_name);
    const coll = db.collections.get(req.oldName);
    if (!coll) throw errors.collectionNotFound(db.name, req.oldName);
    const target = dbOf(ctx, req.newDBName || db.name);
    checkName(req.newName);
    if (target.collections.has(req.newName) || target.aliases.has(req.newName))
      throw errors.invalid(`duplicated new collection name ${req.newName} in database ${target.name} with other collection name or alias`);
    if (target !== db && aliasesOf(db, coll.name).length)
      throw errors.invalid(`fail to rename collection to different database, must drop all aliases of collection ${coll.name} before rename`);
    db.collections.delete(coll.name);
    for (const [alias, c] of db.aliases) if (c === coll.name) db.aliases.set(alias, req.newName);
    coll.name = req.newName;
    coll.schema.name = req.newName;
    target.collections.set(coll.name, coll);
    return ok();
  },
  GetCollectionStatistics(req, ctx) {
    const coll = collectionOf(ctx, req);
    return { status: ok(), stats: [{ key: 'row_count', value: String(rowCount(coll)) }] };
  },
};
