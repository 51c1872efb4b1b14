import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.js'],
    // One platform server (standalone mode, real process) for the whole run.
    globalSetup: ['tests/support/globalSetup.js'],
    testTimeout: 30000,
    hookTimeout: 90000,
    teardownTimeout: 30000,
  },
});
