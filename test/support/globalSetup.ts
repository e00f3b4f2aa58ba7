import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startDynamoLocal } from '../../local/dynamoLocal';
import { startMilvusLite } from '../../local/milvusLite';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    milvusSourceUri: string;
    milvusTargetUri: string;
  }
}

/** Starts the real servers every test file shares: DynamoDB Local and two milvus-lite clusters. */
export default async function setup(project: TestProject) {
  const [dynamo, source, target] = await Promise.all([startDynamoLocal(), startMilvusLite(), startMilvusLite()]);
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('milvusSourceUri', source.uri);
  project.provide('milvusTargetUri', target.uri);
  return async () => {
    await Promise.all([dynamo.stop(), source.stop(), target.stop()]);
  };
}
