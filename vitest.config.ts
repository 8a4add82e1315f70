import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime sessions and model training are CPU-bound: give tests room, run files in forks.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
