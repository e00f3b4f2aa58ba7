import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { synthesizeAssembly } from '../../local/artifacts/assembly';
import { startDynamoLocal } from '../../local/dynamoLocal';
import { startMilvusLite } from '../../local/milvusLite';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    milvusSourceUri: string;
    milvusTargetUri: string;
    /** The `cdk synth` output folder: the Lambda assets a deployment uploads. */
    assemblyDir: string;
  }
}

/** The alert topic's email subscription in the synthesized assembly the tests run. */
export const ALERT_EMAIL = 'operator@example.com';

/**
 * Starts the real servers every test file shares (DynamoDB Local and two milvus-lite clusters) and
 * synthesizes the CDK app with bundling, as a deployment would (reused while its sources are unchanged).
 */
export default async function setup(project: TestProject) {
  const [dynamo, source, target, assembly] = await Promise.all([startDynamoLocal(), startMilvusLite(), startMilvusLite(), synthesizeAssembly({ context: { alertEmails: ALERT_EMAIL } })]);
  project.provide('assemblyDir', assembly.dir);
  project.provide('dynamoEndpoint', dynamo.endpoint);
  project.provide('milvusSourceUri', source.uri);
  project.provide('milvusTargetUri', target.uri);
  return async () => {
    await Promise.all([dynamo.stop(), source.stop(), target.stop()]);
  };
}
