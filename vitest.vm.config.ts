import { defineConfig } from 'vitest/config';

// The VM lab (`npm run test:vm`): builds (or reuses) a cached Debian image, boots it once under
// QEMU and asserts on what the in-guest suite recorded. Needs root, qemu-system-x86, debootstrap.
// Its files end in .vm.ts so neither the default nor the lab suite picks them up.
export default defineConfig({
  test: {
    include: ['test/vm/**/*.vm.ts'],
    testTimeout: 60_000,
    hookTimeout: 40 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
