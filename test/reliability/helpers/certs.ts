/**
 * A throw-away PKI made with the real openssl for each test run: a CA, a
 * server certificate for 127.0.0.1/localhost, a client certificate, and a
 * second CA that signed nothing of ours (the "wrong CA"). Files are readable
 * by all: mosquitto, started as root, drops to its own user before reading them.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../../helpers/agent.js';

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing here. */
  readonly otherCaCert: string;
  /** Signed by the CA, but for a host name that is not this one. */
  readonly wrongNameCert: string;
  readonly wrongNameKey: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

/** An EC P-256 key and a certificate signed by `ca` (or self-signed when ca is undefined). */
function issue(dir: string, name: string, subject: string, ext: string, ca?: string): void {
  openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  writeFileSync(path.join(dir, `${name}.ext`), ext);
  const signer = ca ? ['-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial'] : ['-signkey', `${name}.key`];
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    ...signer,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function makePki(): TestPki {
  const dir = tempDir('dev2mqtt-pki-');
  chmodSync(dir, 0o755);
  const caExt = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n';
  issue(dir, 'ca', '/CN=dev2mqtt test CA', caExt);
  issue(dir, 'other-ca', '/CN=some other CA', caExt);
  issue(
    dir,
    'server',
    '/CN=localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
    'ca',
  );
  issue(
    dir,
    'wrong-name',
    '/CN=broker.invalid',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:broker.invalid\n',
    'ca',
  );
  issue(dir, 'client', '/CN=node-t1', 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n', 'ca');
  for (const f of readdirSync(dir)) chmodSync(path.join(dir, f), 0o644);
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    wrongNameCert: p('wrong-name.crt'),
    wrongNameKey: p('wrong-name.key'),
  };
}
