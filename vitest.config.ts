import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Temporal's native core crashes under worker threads; forks keep each file in its own process.
    pool: 'forks',
    // Two cores: one test file at a time keeps timings honest and avoids starving the servers.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
