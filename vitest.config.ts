import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the dashboard once for the whole run; tests read its folder with inject('dashboardDir').
    globalSetup: ['test/support/globalSetup.ts'],
    // Each file starts its own servers on ephemeral ports; files run in parallel
    // processes, tests inside a file run one after another.
    pool: 'forks',
    // The suites mostly wait on sockets, not the CPU: vitest's default (one
    // worker per core but one) left a 2-core machine running files one by one
    // (80 s); four at a time take about 35 s there.
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  },
});
