#!/usr/bin/env node
/**
 * The `dev2mqtt` binary. CommonJS on purpose: it must size libuv's thread pool
 * before Node's ES module loader starts that pool (see kernel/threadpool.cts),
 * then it hands over to the ES module CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { devicesThatMayBlock, planThreadPool } from './kernel/threadpool.cjs';

/** The same lookup order as config/load.ts: --config/-c, DEV2MQTT_CONFIG, config/default.json. */
function configPathFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-c' || a === '--config') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return process.env.DEV2MQTT_CONFIG ?? path.join(__dirname, '..', 'config', 'default.json');
}

function sizePool(): void {
  const file = configPathFromArgv(process.argv.slice(2));
  let devices = 0;
  try {
    if (file && existsSync(file)) devices = devicesThatMayBlock(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    // A broken file is reported by the CLI itself, with every problem named.
  }
  planThreadPool(devices);
}

/** Node 18 (Raspberry Pi OS bookworm's) lacks what the agent uses; say so instead of failing somewhere deep. */
function refuseOldNode(): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 20) return false;
  process.stderr.write(
    `dev2mqtt: needs Node.js 20 or later, this is ${process.version}. ` +
      'On Raspberry Pi OS bookworm install nodejs 20 or 22 from NodeSource (docs/deploy.md), or use trixie.\n',
  );
  process.exitCode = 1;
  return true;
}

if (!refuseOldNode()) {
  sizePool();
  import('./cli.js').catch((e: unknown) => {
    process.stderr.write(`dev2mqtt: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
