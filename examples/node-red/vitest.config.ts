// The Node-RED suite: run from examples/node-red after its own `npm ci`
// (`npm test` there, or `npm run test:node-red` at the top). Its root is the
// repository's, so the tests share test/helpers with the agent's suite.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['examples/node-red/test/**/*.test.ts'],
    // Node-RED's runtime is a process-wide singleton: one test file per process.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
