import { defineConfig } from 'vitest/config';

// Two suites: the default one runs anywhere; the lab suite needs root, network namespaces and
// Debian peers (pptpd, nmap, ...) and is run by `npm run test:lab`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/lab/**', 'node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    setupFiles: ['test/setup/network-guard.ts', 'test/setup/secret-scan-collect.ts'],
    // The suite-wide secrets scan: collects in every test process, scans after the last file (fails the run on a leak).
    globalSetup: ['test/setup/secret-scan-global.ts'],
  },
});
