/**
 * The Milvus gateway: the only code that talks to Milvus. The SDK client, the raw channel, the
 * wire codecs and the retry of single calls stay inside this folder (dependency-cruiser checks it).
 */
export { MilvusGateway, openCluster, type DescribedCollection, type RangeQuery } from './gateway';
export { setCallRetryPolicy } from './calls';
export { primaryKeyColumn, type RawFieldData } from './protoWire';
export { decodeColumnRows, fieldRows, type FieldRows } from './columnRows';
export type { Row } from './rowCodec';
export { toFieldType } from './schemaRequest';
export { startCaptureProxy, WriteRefused, type CaptureHooks, type CapturedWrite, type ForwardedReply } from './captureProxy';
export type { TargetNames } from './nameRewrite';
