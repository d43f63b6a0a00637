import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts its own servers on ephemeral ports; files run in parallel
    // processes, tests inside a file run one after another.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  },
});
