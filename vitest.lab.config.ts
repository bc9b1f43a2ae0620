import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    setupFiles: ['test/setup/network-guard.ts'],
    env: { CONNEXA_TEST_NETWORK: 'lab' },
  },
});
