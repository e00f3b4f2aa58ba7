import { createRequire } from 'node:module';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * The Milvus proto definitions bundled with @zilliz/milvus2-sdk-node (dist/milvus/proto-json),
 * loaded with the same options the SDK uses (see GrpcClient.LOADER_OPTIONS).
 */
const require = createRequire(import.meta.url);
const milvusJson = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus').default as protobuf.INamespace;

const LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

export const packageDefinition = protoLoader.fromJSON(milvusJson, LOADER_OPTIONS);
export const SERVICE_NAME = 'milvus.proto.milvus.MilvusService';

const root = protobuf.Root.fromJSON(milvusJson);
const collectionSchemaType = root.lookupType('milvus.proto.schema.CollectionSchema');

/** Decodes the CollectionSchema bytes a CreateCollection request carries, as proto-loader would. */
export function decodeCollectionSchema(bytes: Buffer): Record<string, any> {
  const msg = collectionSchemaType.decode(bytes);
  return collectionSchemaType.toObject(msg, { ...LOADER_OPTIONS, bytes: Buffer }) as Record<string, any>;
}
