import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run by .ci/emulated-abi.mjs (vitest.emulated.config.ts): they drive an armhf or arm64 Node under qemu-user.
    // Booted machines, as root: a suite of its own (vitest.machines.config.ts, npm run test:machines).
    exclude: [...configDefaults.exclude, 'test/emulated/**', 'test/machines/**'],
    globalSetup: ['test/global-setup.ts'],
    // Each test file removes the temp dirs it made (helpers/temp.ts).
    setupFiles: ['test/setup-cleanup.ts'],
    // The default report, then one line per suite skipped for a missing tool and why.
    reporters: ['default', './test/skip-summary.ts'],
    // koffi is a native addon with process-wide state: run test files in child processes.
    pool: 'forks',
    // Bounds, not waits: only a hung test gets near them. A loaded 2-core CI machine runs a test
    // many times slower than an idle one (see test/helpers/deadline.ts for the waits inside tests).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Tests that start brokers and agents are I/O bound; two cores are enough for four files at once.
    maxWorkers: 4,
  },
});
