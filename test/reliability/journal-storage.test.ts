/**
 * The command journal on storage that fails, each case on a real filesystem:
 *  - a corrupt line in the middle of the journal (a damaged block, not a torn
 *    tail): the file is moved aside as journal.corrupt-<time>.jsonl and
 *    reported, the readable lines are used, and start-up goes on;
 *  - a journal that cannot be read at all (read(2) answers EIO): moved aside
 *    under the same corrupt name and reported, start goes on with a fresh one;
 *    on a failing card where even the rename fails, it stays and the journal degrades;
 *  - a full disk (a small tmpfs): redeliveries are still recognised, in memory;
 *  - a journal a degraded run could not keep up to date: the next start runs
 *    none of its commands again (they may have run since), it answers them;
 *  - an unwritable journal directory at start: degraded, never a throw;
 *  - a read-only journal at start: commands it shows pending are answered,
 *    not run, since a run could not be recorded and every start would repeat it.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { CommandJournal } from '../../src/agent/journal.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { dup, key, line, message, result, TOPIC } from './helpers/journal-lines.js';
import { probes } from '../helpers/test-kinds.js';
import { LogCapture } from './helpers/log-capture.js';
import { canFailExt4, Ext4Image } from './helpers/ext4.js';
import { canMountTmpfs, Tmpfs } from './helpers/tmpfs.js';

let agent: Agent | undefined;
let client: TestClient | undefined;
const mounts: Array<{ cleanup(): void }> = [];
afterEach(async () => {
  await client?.end();
  await agent?.stop();
  agent = undefined;
  client = undefined;
  for (const m of mounts.splice(0)) m.cleanup();
});

describe('a corrupt journal', () => {
  it('a corrupt line in the middle: moved aside and reported, the readable lines used on both sides of it, start goes on', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    mkdirSync(stateDir, { recursive: true });
    const file = path.join(stateDir, 'journal.jsonl');
    const text = [
      line({ t: 'r', k: key('done1'), r: result('done1', 7), p: 1 }),
      line({ t: 'a', k: key('before'), m: message('before') }),
      // A damaged block: half a line, then bytes that are no JSON at all.
      '{"t":"a","k":"u:dev2mqtt/t1/p1/cm\u0000\u0000\u00ff\u00fe garbage\n',
      line({ t: 'a', k: key('after'), m: message('after') }),
      // Valid JSON, not a journal line.
      line({ t: 'a', k: key('nomessage') }),
      line({ t: 'r', k: key('done2'), r: result('done2', 8), p: 1 }),
      // And the torn tail a crash leaves: dropped without fuss.
      '{"t":"p","k":"u:dev2',
    ].join('');
    appendFileSync(file, text);
    const log = new LogCapture();
    agent = await startAgent({ config: { node: { stateDir } }, logStream: log });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    // Queued behind the recovered commands: its result means they ran.
    await client.command('dev2mqtt/t1/p1/cmd/echo', {}, 'sync');
    expect(probes.get('p1')?.count).toBe(2);

    const aside = readdirSync(stateDir).filter((f) => /^journal\.corrupt-.+\.jsonl$/.test(f));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(stateDir, aside[0] ?? ''), 'utf8')).toBe(text);
    const warning = await log.waitFor(/unreadable line/);
    expect(warning).toContain('"lines":[3,5]');
    expect(warning).toContain(aside[0]);
    expect(log.messages().some((m) => /cut short/.test(m))).toBe(true);
    // The journal that replaced it reads back whole.
    for (const l of readFileSync(file, 'utf8').split('\n').filter(Boolean)) expect(() => JSON.parse(l) as unknown).not.toThrow();

    // Lines after the damage count too: a redelivery of done2 is answered from them, not run.
    agent.dispatcher.handle(dup('done2'));
    const r = await client.result('dev2mqtt/t1/p1/result', 'done2');
    expect(r).toMatchObject({ ok: true, result: { count: 8 } });
    expect(probes.get('p1')?.count).toBe(2);
  });

  it('a journal read(2) answers with EIO: moved aside as journal.corrupt-*, reported with the errno, start goes on with a fresh journal', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    mkdirSync(stateDir, { recursive: true });
    // A real EIO from the kernel on a writable directory: /proc/self/mem at offset 0 is never mapped,
    // so read(2) fails as on a bad block, while the name itself can still be renamed.
    symlinkSync('/proc/self/mem', path.join(stateDir, 'journal.jsonl'));
    const log = new LogCapture();
    agent = await startAgent({ config: { node: { stateDir } }, logStream: log });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    expect(await client.command(TOPIC, {}, 'after-eio')).toMatchObject({ ok: true });

    const names = readdirSync(stateDir);
    const aside = names.filter((f) => /^journal\.corrupt-.+\.jsonl$/.test(f));
    expect(aside).toHaveLength(1);
    expect(readlinkSync(path.join(stateDir, aside[0] ?? ''))).toBe('/proc/self/mem');
    expect(names).not.toContain('journal.stale.jsonl');
    const warning = await log.waitFor(/could not be read/);
    expect(warning).toContain('EIO');
    expect(warning).toContain(aside[0]);
    // Not degraded: the fresh journal is a file of its own, written and read back whole.
    expect(agent.journalHealth).toEqual({ state: 'ok' });
    await agent.stop();
    const file = path.join(stateDir, 'journal.jsonl');
    expect(lstatSync(file).isFile()).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('after-eio');
  });
});

describe.skipIf(!canMountTmpfs())('the journal on a full or read-only tmpfs', () => {
  it('full: commands run, a redelivery is still recognised (in memory), and the health says why', async () => {
    const mount = Tmpfs.mount(256);
    mounts.push(mount);
    agent = await startAgent({ config: { node: { stateDir: mount.dir, journalRetryMaxMs: 1000 } } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/t1/p1/result');
    mount.fill();
    for (let i = 0; i < 40; i++) await client.command(TOPIC, {}, `full-${i}`);
    expect(agent.journalHealth).toMatchObject({ state: 'degraded', errno: 'ENOSPC' });
    expect(agent.journalHealth?.reason).toContain(path.join(mount.dir, 'journal.jsonl'));
    agent.dispatcher.handle(dup('full-3'));
    await client.next(() => client!.on('dev2mqtt/t1/p1/result').filter((m) => m.payload.includes('"id":"full-3"')).length === 2);
    expect(probes.get('p1')?.count).toBe(40);
    expect(agent.dispatcher.stats.duplicates).toBe(1);
  });

  it('a journal a degraded run could not keep up to date: its accepted commands are answered at the next start, never run again', async () => {
    const mount = Tmpfs.mount(256);
    mounts.push(mount);
    const first = new CommandJournal(mount.dir, 100, { retryMaxMs: 1000 });
    first.recover();
    first.accepted(key('queued'), message('queued'));
    // Its accepted line is written by the end of the turn (before MQTT.js would acknowledge it).
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path.join(mount.dir, 'journal.jsonl'), 'utf8')).toContain('queued');
    mount.fill();
    // Other commands go on until the journal's last page is used up too, and it degrades.
    for (let i = 0; i < 500 && first.health.state === 'ok'; i++) {
      first.accepted(key(`pad-${i}`), message(`pad-${i}`));
      first.started(key(`pad-${i}`));
    }
    expect(first.health).toMatchObject({ state: 'degraded', errno: 'ENOSPC' });
    // Then "queued" starts, runs and finishes, in memory only.
    first.started(key('queued'));
    first.finished(key('queued'), result('queued', 1));
    first.close();

    // The next start, still on a full disk: it must not run "queued" again.
    const second = new CommandJournal(mount.dir, 100, { retryMaxMs: 1000 });
    const r = second.recover();
    second.close();
    expect(r.pending).toEqual([]);
    expect(r.interrupted.find((i) => i.key === key('queued'))?.why).toBe('stale');

    // Space back: the stale journal is superseded by a whole one.
    mount.unfill();
    const third = new CommandJournal(mount.dir, 100);
    const again = third.recover();
    expect(third.health.state).toBe('ok');
    expect(again.interrupted.find((i) => i.key === key('queued'))?.why).toBe('stale');
    for (const i of again.interrupted) third.finished(i.key, result(i.key, 0));
    third.close();
    expect(readdirSync(mount.dir).sort()).toEqual(['journal.jsonl']);
    expect(new CommandJournal(mount.dir, 100).recover()).toMatchObject({ pending: [], interrupted: [] });
  });

  it('unwritable at start (an immutable directory, which even root cannot write): degraded with the errno, never a throw', () => {
    const mount = Tmpfs.mount(256);
    mounts.push(mount);
    const dir = path.join(mount.dir, 'journal');
    mkdirSync(dir);
    const chattr = (flag: string): void => {
      const r = spawnSync('chattr', [flag, dir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`chattr ${flag} ${dir}: ${r.stderr}`);
    };
    chattr('+i');
    try {
      const j = new CommandJournal(dir, 100);
      expect(j.recover()).toMatchObject({ pending: [], interrupted: [] });
      expect(j.health).toMatchObject({ state: 'degraded', errno: 'EPERM' });
      expect(j.health.reason).toContain(dir);
      j.accepted(key('x'), message('x'));
      j.started(key('x'));
      j.finished(key('x'), result('x', 1));
      expect(j.result(key('x'))).toMatchObject({ id: 'x', ok: true });
      j.close();
    } finally {
      chattr('-i');
    }
    const again = new CommandJournal(dir, 100);
    again.recover();
    expect(again.health.state).toBe('ok');
    again.close();
  });

  it('read-only at start: a command the journal shows pending is answered, not run (a run could not be recorded)', async () => {
    const mount = Tmpfs.mount(256);
    mounts.push(mount);
    const first = new CommandJournal(mount.dir, 100);
    first.recover();
    first.accepted(key('left'), message('left'));
    first.close();
    await mount.remount('ro');
    const second = new CommandJournal(mount.dir, 100);
    const r = second.recover();
    second.close();
    expect(second.health).toMatchObject({ state: 'degraded', errno: 'EROFS' });
    expect(r.pending).toEqual([]);
    expect(r.interrupted.map((i) => [i.key, i.why])).toEqual([[key('left'), 'unrecordable']]);
    // Writable again: it runs, as any command left unstarted by a crash does.
    await mount.remount('rw');
    const third = new CommandJournal(mount.dir, 100);
    expect(third.recover().pending.map((p) => p.key)).toEqual([key('left')]);
    third.close();
  });
});

describe.skipIf(!canMountTmpfs() || !canFailExt4())('the journal on a failing card', () => {
  it('unreadable (EIO) and not even renamable at start: left where it is, degraded with EIO, read whole again from a replaced card', () => {
    const card = Ext4Image.create(16);
    mounts.push(card);
    const first = new CommandJournal(card.dir, 100);
    first.recover();
    first.accepted(key('left'), message('left'));
    first.close();
    // On the card for good before it fails (the shutdown drops what is only in ext4's journal).
    expect(spawnSync('sync', ['-f', path.join(card.dir, 'journal.jsonl')]).status).toBe(0);
    card.shutDown();
    const second = new CommandJournal(card.dir, 100);
    const r = second.recover();
    second.close();
    expect(second.health).toMatchObject({ state: 'degraded', errno: 'EIO' });
    expect(r.corrupt?.[0]?.unreadable).toMatch(/^EIO .*journal\.jsonl$/);
    expect(r.corrupt?.[0]?.error).toMatch(/EIO/);
    expect(r.pending).toEqual([]);
    // The card comes back (here: the same image mounted again): the journal is there, under its own name.
    card.unmount();
    card.mount();
    expect(readdirSync(card.dir).filter((f) => f.startsWith('journal'))).toEqual(['journal.jsonl']);
    const third = new CommandJournal(card.dir, 100);
    expect(third.recover().pending.map((p) => p.key)).toEqual([key('left')]);
    third.close();
  });
});
