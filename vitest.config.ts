import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Checks dist/ is built and makes it runnable by the unprivileged test user (see test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn the CLI and touch crontab; keep files isolated but not oversubscribed on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
  },
});
