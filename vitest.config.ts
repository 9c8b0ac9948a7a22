import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql realm: type-graphql and Apollo load the CommonJS build, so must the tests.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
