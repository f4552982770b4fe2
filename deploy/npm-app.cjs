#!/usr/bin/env node
/**
 * Prepares a directory where `npm ci` installs dev2mqtt from its tarball with
 * exactly the dependency versions the tarball's npm-shrinkwrap.json (the
 * project's lockfile) names:
 *
 *   node npm-app.cjs dev2mqtt-X.Y.Z.tgz /usr/local/lib/dev2mqtt
 *   npm ci --omit=dev --prefix /usr/local/lib/dev2mqtt
 *
 * It copies the tarball in and writes a package.json that depends on it and a
 * package-lock.json made of the shrinkwrap's production entries plus one for
 * the tarball (with its sha512). Why not `npm install -g tarball`: that
 * resolves every dependency again from full registry documents, while `npm ci`
 * with a lockfile asks only for what the project's own `npm ci` fetched — so a
 * Pi behind a warm npm cache, or a CI machine, installs with --offline too.
 * Plain Node, no dependencies: it runs before anything is installed.
 */
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

function fromTarball(tarball, file) {
  return JSON.parse(execFileSync('tar', ['-xzOf', tarball, `package/${file}`], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

function main([tarball, appDir]) {
  if (!tarball || !appDir) {
    process.stderr.write('usage: node npm-app.cjs TARBALL APPDIR\n');
    return 2;
  }
  const pkg = fromTarball(tarball, 'package.json');
  let shrinkwrap;
  try {
    shrinkwrap = fromTarball(tarball, 'npm-shrinkwrap.json');
  } catch {
    process.stderr.write(`${tarball} has no npm-shrinkwrap.json: make it with npm pack (its prepack script adds one)\n`);
    return 1;
  }
  fs.mkdirSync(appDir, { recursive: true });
  const file = `dev2mqtt-${pkg.version}.tgz`;
  const bytes = fs.readFileSync(tarball);
  fs.writeFileSync(path.join(appDir, file), bytes);
  // Tarballs of earlier versions are no longer needed.
  for (const f of fs.readdirSync(appDir)) if (/^dev2mqtt-.*\.tgz$/.test(f) && f !== file) fs.rmSync(path.join(appDir, f));

  const root = { name: 'dev2mqtt-app', version: pkg.version, private: true, dependencies: { dev2mqtt: `file:${file}` } };
  const packages = {
    '': { name: root.name, version: root.version, dependencies: root.dependencies },
    'node_modules/dev2mqtt': {
      version: pkg.version,
      resolved: `file:${file}`,
      integrity: `sha512-${crypto.createHash('sha512').update(bytes).digest('base64')}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: typeof pkg.bin === 'string' ? { dev2mqtt: pkg.bin } : pkg.bin,
      engines: pkg.engines,
    },
  };
  // The shrinkwrap's root is dev2mqtt's own checkout: its dependencies sit at node_modules/…, as they will here.
  for (const [key, entry] of Object.entries(shrinkwrap.packages ?? {})) {
    if (key === '' || entry.dev || !key.startsWith('node_modules/')) continue;
    packages[key] = entry;
  }
  fs.writeFileSync(path.join(appDir, 'package.json'), `${JSON.stringify(root, null, 2)}\n`);
  fs.writeFileSync(
    path.join(appDir, 'package-lock.json'),
    `${JSON.stringify({ name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  process.stdout.write(`${pkg.version}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
