import { defineConfig } from 'vitest/config';

/**
 * The unit tests only, without the global setup that starts DynamoDB Local: what mutation testing runs, since
 * none of these tests needs Java.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
  },
});
