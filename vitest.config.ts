import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run by .ci/emulated-abi.mjs (vitest.emulated.config.ts): they drive an armhf or arm64 Node under qemu-user.
    // Booted machines, as root: a suite of its own (vitest.machines.config.ts, npm run test:machines).
    exclude: [...configDefaults.exclude, 'test/emulated/**', 'test/machines/**'],
    globalSetup: ['test/global-setup.ts'],
    // koffi is a native addon with process-wide state: run test files in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests that start brokers and agents are I/O bound; two cores are enough for four files at once.
    maxWorkers: 4,
  },
});
