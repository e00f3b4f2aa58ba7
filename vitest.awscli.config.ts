import { defineConfig } from 'vitest/config';

/**
 * The AWS CLI against the local AWS emulators (npm run test:aws-cli). Not part of `npm test`: it
 * needs Debian's awscli package (`apt-get install -y awscli`, AWS CLI v2 at /usr/bin/aws).
 */
export default defineConfig({
  test: {
    include: ['test/awsCli/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
