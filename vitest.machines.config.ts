import { defineConfig } from 'vitest/config';

// The machine suite: booted Debian machines standing in for Pis (systemd-nspawn), install.sh and
// the Ansible playbook run for real. Root only; `npm run test:machines`, a step of its own in .ci/run.
export default defineConfig({
  test: {
    include: ['test/machines/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts', 'test/machines/setup.ts'],
    pool: 'forks',
    // Steps wait on systemd and the broker; a watchdog restart alone takes 35 s by design.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // The install file's machine and the fleet's three boot side by side.
    maxWorkers: 2,
  },
});
