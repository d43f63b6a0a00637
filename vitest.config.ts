import { defineConfig } from 'vitest/config';

const shared = {
  // Each file starts its own servers on ephemeral ports; tests inside a file
  // run one after another.
  pool: 'forks' as const,
  testTimeout: 30_000,
  hookTimeout: 30_000,
  env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
};

export default defineConfig({
  test: {
    // Builds the dashboard once for the whole run; tests read its folder with inject('dashboardDir').
    globalSetup: ['test/support/globalSetup.ts'],
    // The suites mostly wait on sockets, not the CPU: vitest's default (one
    // worker per core but one) left a 2-core machine running files one by one
    // (80 s); four at a time take about 35 s there.
    maxWorkers: 4,
    projects: [
      {
        test: {
          ...shared,
          name: 'suites',
          include: ['test/**/*.test.ts'],
          exclude: ['test/hostile/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Floods and attacks against a server in a child process: after every
        // other suite, one file at a time, so they neither starve nor are
        // starved by other files on a 2-core machine.
        test: {
          ...shared,
          name: 'hostile',
          include: ['test/hostile/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
