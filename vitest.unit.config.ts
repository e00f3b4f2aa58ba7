import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the test files that need no server, listed one by one: no DynamoDB Local,
 * no milvus-lite (nothing from `inject()`), no fake Milvus gRPC server, no `cdk synth`, no child
 * process. No globalSetup, so they run on their own in seconds. The main config
 * (vitest.config.ts, `npm test`) still runs them with everything else. A new test file that needs
 * nothing of the kind belongs here.
 */
export const UNIT_TESTS = [
  'test/api/handler.test.ts',
  'test/api/requests.test.ts',
  'test/api/service.test.ts',
  'test/api/sfnWorkflowStarter.test.ts',
  'test/capture/changes.test.ts',
  'test/capture/nameRewrite.test.ts',
  'test/cli/watch.test.ts',
  'test/jobs/credentialStores.test.ts',
  'test/localAws/eventPattern.test.ts',
  'test/migration/copyBatches.test.ts',
  'test/migration/shardPlan.test.ts',
  'test/milvus/batch.test.ts',
  'test/milvus/batchSize.test.ts',
  'test/milvus/callRetry.test.ts',
  'test/milvus/estimate.test.ts',
  'test/milvus/mapping.test.ts',
  'test/milvus/status-filter.test.ts',
  'test/milvus/translate.test.ts',
  'test/notifications/notifier.test.ts',
  'test/sync/columnHash.test.ts',
];

export default defineConfig({
  test: {
    include: UNIT_TESTS,
    setupFiles: ['test/support/polyfills.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    // Plain modules, no server: sharing one module graph per worker saves most of the run (the imports of the AWS SDK and zod).
    isolate: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
