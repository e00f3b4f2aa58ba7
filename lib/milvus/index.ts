/** The Milvus layer: the gateway, catalog, schema translation, collection lifecycle, shard planning, the key-range engine and the copy. */
export { openCluster, setCallRetryPolicy, type MilvusGateway, type DescribedCollection } from './gateway';
export { ClusterPool } from './pool';
export { listDatabases, listCollections, describeCollection, describeIndexes, collectionExists, targetCapabilities, describeDatabase, ensureDatabase } from './catalog';
export { versionAtLeast } from './version';
export { translateSchema, appendMismatch } from './translate';
export { createCollection, createPartitions, createAliases, dropAliasesOf, dropCollection, ensureLoaded, buildIndexes, countRows } from './collections';
export { toFieldType } from './gateway';
export { planShards } from './shards';
export { applyMapping, type SchemaMapping } from './mapping';
export { copyShard, type PkRange, type RangePair } from './copy';
export { estimateRowBytes } from './keyRange/rowSize';
export { stringLiteral, pkRangeFilter, pkRangeDeleteFilter, expressibleBound, comparePks } from './filter';
export { statusToError, toMigrationError, TlsCertificateError } from './status';
export * from './spec';
