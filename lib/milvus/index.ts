/** The Milvus layer: catalog, schema translation, collection lifecycle, shard planning and copy. */
export { openCluster, DEFAULT_TIMEOUT_MS, type MilvusCluster, type OpenClusterOptions } from './cluster';
export { ClusterPool } from './pool';
export {
  listDatabases,
  listCollections,
  describeCollection,
  describeIndexes,
  collectionExists,
  targetCapabilities,
  versionAtLeast,
  describeDatabase,
  ensureDatabase,
} from './catalog';
export { translateSchema, checkTargetSupports, appendMismatch, defaultMetric, ALLOW_INSERT_AUTO_ID, SERVICE_PROPERTIES, type TranslateOptions } from './translate';
export { createCollection, createPartitions, createAliases, dropAliasesOf, dropCollection, ensureLoaded, ensureReadable, buildIndexes, countRows, toFieldType, type CountOptions } from './collections';
export { planShards, type PlanShardsOptions } from './shards';
export { applyMapping, type SchemaMapping } from './mapping';
export { copyShard, type CopyShardArgs, type PkRange, type RangePair } from './copy';
export {
  RowBatchSource,
  RowBatchSink,
  estimateRowBytes,
  rowsForBudget,
  MAX_QUERY_ROWS,
  MAX_BATCH_BYTES,
  type Batch,
  type BatchSource,
  type BatchSink,
  type ReadRequest,
} from './batch';
export { stringLiteral, pkLiteral, pkRangeFilter, pkRangeDeleteFilter, expressibleBound, comparePks } from './filter';
export { statusToError, toMigrationError, assertOk, TlsCertificateError } from './status';
export * from './spec';
