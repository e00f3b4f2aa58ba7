import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The AWS CLI checks need Debian's awscli: vitest.awscli.config.ts (npm run test:aws-cli).
    exclude: ['**/node_modules/**', 'test/awsCli/**'],
    globalSetup: ['test/support/globalSetup.ts'],
    setupFiles: ['test/support/polyfills.ts'],
    // The end-to-end tests take seconds to tens of seconds alone; with three files at a time on two
    // shared cores they may take several times that.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is the number of cores minus one: 1 on a 2-core machine, where the files
    // then run one after another although most of their time is spent waiting (on servers, Wait
    // states, polls). Files keep out of each other's way with unique collection, table and job
    // names; those that need servers to themselves (online jobs move every collection) start their
    // own. Two at a time, not more: the heaviest files run first, and three of them together on a
    // machine busy with other work ran into their timeouts (`--maxWorkers 3` on a quiet one).
    maxWorkers: 2,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
