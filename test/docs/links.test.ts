/**
 * The documentation a newcomer reads: the README stays a short first page, and
 * no link in it or in docs/ leads nowhere. A link inside the repository must
 * name a file or folder that exists; a link out of it may only go to the
 * upstream projects the agent builds on or talks to (never to a registry page
 * of a package that is not published, nor outside the repository's own tree).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

/** Upstream projects a page may send a reader to. */
const UPSTREAM_HOSTS = new Set([
  'koffi.dev',
  'www.home-assistant.io',
  'developers.home-assistant.io',
  'nodered.org',
  'flows.nodered.org',
  'docs.kernel.org',
  'www.kernel.org',
  'mosquitto.org',
  'docs.nats.io',
  'nodejs.org',
  'github.com',
  'www.raspberrypi.com',
  'deb.nodesource.com',
  'docs.ansible.com',
  'www.freedesktop.org',
  'typescript-eslint.io',
  'prettier.io',
  'vitest.dev',
]);

function markdownFiles(): string[] {
  const out = ['README.md', 'SECURITY.md', 'CHANGELOG.md', 'bench/README.md', 'src/devices/tape/README.md'];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.md')) out.push(rel);
    }
  };
  walk('docs');
  return out.filter((f) => existsSync(path.join(root, f)));
}

/** `[text](target)` links outside code blocks and code spans. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? '');
}

describe('documentation', () => {
  it('the README is a newcomer page of at most 12 KiB that opens with the two commands', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toContain('npm ci && npm start');
    expect(firstBlock).toContain('npm ci && npm test');
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n## '));
  });

  for (const file of markdownFiles()) {
    it(`${file}: every link resolves`, () => {
      const text = readFileSync(path.join(root, file), 'utf8');
      const bad: string[] = [];
      for (const target of links(text)) {
        if (target.startsWith('#') || target.startsWith('mailto:')) continue;
        if (/^[a-z]+:/i.test(target)) {
          const url = new URL(target);
          if (url.protocol !== 'https:' || !UPSTREAM_HOSTS.has(url.host)) bad.push(`${target}: not an upstream project's page`);
          continue;
        }
        const resolved = path.resolve(path.dirname(path.join(root, file)), decodeURI(target.split('#')[0] ?? ''));
        if (!resolved.startsWith(root + path.sep)) bad.push(`${target}: outside the repository`);
        else if (!existsSync(resolved)) bad.push(`${target}: no such file`);
        else if (target.endsWith('/') && !statSync(resolved).isDirectory()) bad.push(`${target}: not a folder`);
      }
      expect(bad).toEqual([]);
    });
  }
});
