/** The Milvus layer: catalog, schema translation, collection lifecycle, shard planning and copy. */
export { openCluster, type MilvusCluster } from './cluster';
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
export { translateSchema, appendMismatch, ALLOW_INSERT_AUTO_ID } from './translate';
export { createCollection, createPartitions, createAliases, dropAliasesOf, dropCollection, ensureLoaded, buildIndexes, countRows, toFieldType } from './collections';
export { planShards } from './shards';
export { applyMapping, type SchemaMapping } from './mapping';
export { copyShard, type PkRange, type RangePair } from './copy';
export {
  RowBatchSource,
  RowBatchSink,
  estimateRowBytes,
  type Batch,
  type BatchSource,
  type BatchSink,
  type ReadRequest,
} from './batch';
export { stringLiteral, pkRangeFilter, pkRangeDeleteFilter, expressibleBound, comparePks } from './filter';
export { statusToError, toMigrationError, TlsCertificateError } from './status';
export * from './spec';
