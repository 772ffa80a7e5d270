import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores: integration tests start nats-server processes, so keep file parallelism at two.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Every local send in the suite runs the full codec round trip (config.messageCheck), see test/fixtures.
    env: { TROUPE_MESSAGE_CHECK: 'roundtrip' },
  },
});
