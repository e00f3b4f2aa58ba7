import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The AWS CLI checks need Debian's awscli: vitest.awscli.config.ts (npm run test:aws-cli).
    exclude: ['**/node_modules/**', 'test/awsCli/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    setupFiles: ['test/support/polyfills.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
