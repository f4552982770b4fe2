#!/usr/bin/env node
/** The `dev2mqtt` binary. */
import { main } from './cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    // Everything is flushed and closed by now; a stray handle (a thread blocked in a
    // kernel call, a plug-in's timer) must not keep a stopped agent alive.
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`dev2mqtt: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
