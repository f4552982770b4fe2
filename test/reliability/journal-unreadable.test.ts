/**
 * A journal start-up cannot read, each with the real errno the kernel gives:
 *  - not the card's fault (EACCES: a root-owned journal read by the agent's
 *    user; EISDIR; ELOOP): left exactly where it is, never renamed or written
 *    over; the journal degrades with the errno, the path and what to do, and
 *    once a person has put it right, a retry reads it, merges it beneath what
 *    this run did since, and the journal is back to ok by itself;
 *  - a stale journal beside an unreadable live one: its entries still answer
 *    redeliveries, and its unfinished commands are answered, never run;
 *  - a damaged medium (EIO) with a stale journal beside it: the live one is
 *    moved aside as before, the stale one is still read.
 * Tests run as root, which reads anything: the EACCES case reads as uid 65534
 * (seteuid, in this test process: a real EACCES from the kernel).
 */
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { CommandJournal, type JournalHealth } from '../../src/agent/journal.js';
import type { Recovery } from '../../src/agent/recovery.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { deadline } from '../helpers/deadline.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { inCI, noteSkip } from '../helpers/tools.js';
import { dup, key, line, message, result } from './helpers/journal-lines.js';
import { probes } from '../helpers/test-kinds.js';
import { canFailExt4, Ext4Image } from './helpers/ext4.js';

const RESULTS = 'dev2mqtt/t1/p1/result';
const NOBODY = 65534;
/** What a previous run left: a finished command, one acknowledged but never started. */
const previousRun = (done: string, left: string): string =>
  line({ t: 'h', v: 1 }) + line({ t: 'r', k: key(done), r: result(done, 7), p: 1 }) + line({ t: 'a', k: key(left), m: message(left) });

let agent: Agent | undefined;
let client: TestClient | undefined;
const cards: Ext4Image[] = [];
afterEach(async () => {
  if (process.geteuid?.() !== 0) process.seteuid?.(0);
  await client?.end();
  await agent?.stop();
  agent = undefined;
  client = undefined;
  for (const c of cards.splice(0)) c.cleanup();
});

/** Reading as another uid (seteuid) needs root; elsewhere those cases skip, and fail under CI=true. */
function canReadAsAnotherUser(): boolean {
  if (process.geteuid?.() === 0) return true;
  const why = 'not root: reading as another uid (seteuid) needs root';
  if (inCI) throw new Error(`CI=true and ${why}`);
  noteSkip('journal tests as a user that may not read it (EACCES)', why);
  return false;
}
const asOtherUser = canReadAsAnotherUser();

/** `p`, or a failure saying what never came (the deadline is for an idle machine, see deadline.ts). */
function within<T>(p: Promise<T>, idleMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), deadline(idleMs));
    p.then(resolve, reject).finally(() => clearTimeout(t));
  });
}

/** A journal whose health changes and late recoveries can be waited for. */
function watched(
  dir: string,
  each?: (r: Recovery) => void,
): {
  journal: CommandJournal;
  health: (state: JournalHealth['state']) => Promise<void>;
  late: Promise<Recovery>;
} {
  const waiters: Array<{ state: JournalHealth['state']; resolve: () => void }> = [];
  let late!: (r: Recovery) => void;
  const journal = new CommandJournal(dir, 100, {
    retryMaxMs: 1000,
    onHealth: (h) => {
      for (const w of waiters.filter((x) => x.state === h.state)) w.resolve();
    },
    onLateRecovery: (r) => {
      each?.(r);
      late(r);
    },
  });
  return {
    journal,
    health: (state) => (journal.health.state === state ? Promise.resolve() : new Promise((resolve) => waiters.push({ state, resolve }))),
    late: new Promise((resolve) => (late = resolve)),
  };
}

describe('a journal start-up cannot read, not through the card’s fault', () => {
  it.skipIf(!asOtherUser)(
    'owned by root, read by the agent’s user (EACCES): left untouched, degraded with what to do; once chowned, merged by itself and ok',
    async () => {
      const dir = tempDir('dev2mqtt-journal-');
      const file = path.join(dir, 'journal.jsonl');
      const text = previousRun('done', 'left');
      // A run as root left it: root's, mode 0600, in the agent user's directory.
      writeFileSync(file, text, { mode: 0o600 });
      chownSync(dir, NOBODY, NOBODY);
      process.seteuid?.(NOBODY);
      expect(process.geteuid?.()).toBe(NOBODY);
      const { journal, health, late } = watched(dir);
      const r = journal.recover();
      expect(journal.health).toMatchObject({ state: 'degraded', errno: 'EACCES' });
      expect(journal.health.reason).toContain(`reading ${file}`);
      expect(journal.health.reason).toMatch(new RegExp(`chown -R \\S+: ${dir}\\)`));
      // Nothing of it is known, nothing of it is run, and it is no corrupt journal.
      expect(r).toEqual({ pending: [], interrupted: [], undelivered: [], tornTail: false });
      expect(journal.result(key('done'))).toBeUndefined();
      // This run goes on, in memory, with duplicate detection for its own commands.
      journal.accepted(key('new'), message('new'));
      journal.started(key('new'));
      journal.finished(key('new'), result('new', 1));
      expect(journal.result(key('new'))).toMatchObject({ result: { count: 1 } });
      // Untouched: same name, owner and bytes; nothing renamed, nothing written beside it.
      const untouched = (): void => {
        expect(readdirSync(dir)).toEqual(['journal.jsonl']);
        expect(lstatSync(file)).toMatchObject({ uid: 0, mode: 0o100600 });
      };
      untouched();

      // A person gives it to the agent's user; the next retry (as that user) reads it.
      process.seteuid?.(0);
      expect(readFileSync(file, 'utf8')).toBe(text);
      chownSync(file, NOBODY, NOBODY);
      process.seteuid?.(NOBODY);
      const found = await within(late, 20_000, 'the journal left unread to be read and merged');
      await within(health('ok'), 20_000, 'the journal back to ok');
      process.seteuid?.(0);
      expect(found.interrupted.map((i) => [i.key, i.why])).toEqual([[key('left'), 'late']]);
      expect(found.pending).toEqual([]);
      // Both runs' records count now: the previous run's result answers a redelivery, this run's is kept.
      expect(journal.result(key('done'))).toMatchObject({ result: { count: 7 } });
      expect(journal.result(key('new'))).toMatchObject({ result: { count: 1 } });
      journal.close();
      expect(readdirSync(dir)).toEqual(['journal.jsonl']);
      const merged = readFileSync(file, 'utf8');
      for (const id of ['done', 'left', 'new']) expect(merged).toContain(`"k":${JSON.stringify(key(id))}`);
    },
  );

  it.skipIf(!asOtherUser)(
    'the agent as a user that may not read the journal (EACCES): node state says what to do; once chowned, what it left undone is answered, not run',
    async () => {
      const stateDir = tempDir('dev2mqtt-state-');
      const file = path.join(stateDir, 'journal.jsonl');
      writeFileSync(file, previousRun('done', 'left'), { mode: 0o600 });
      chownSync(stateDir, NOBODY, NOBODY);
      // An installed agent's own files are readable by its user; this checkout may sit in root's
      // 0700 home (it does in the fresh-machine rehearsal). So an agent and a client run first as
      // root, to read what they read of themselves on their way up (package.json, modules loaded
      // lazily) into this process's caches; then only the journal is left to refuse the other user.
      const warm = await startAgent({ config: { node: { stateDir: tempDir('dev2mqtt-state-') } } });
      await (await TestClient.connect(`mqtt://127.0.0.1:${warm.brokerPort}`)).end();
      await warm.stop();
      process.seteuid?.(NOBODY);
      agent = await startAgent({ config: { node: { stateDir, journalRetryMaxMs: 1000 } } });
      client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
      await client.subscribe([RESULTS, 'dev2mqtt/t1/state']);
      const state = JSON.parse((await client.next((m) => m.topic === 'dev2mqtt/t1/state')).payload) as Record<string, unknown>;
      expect(state).toMatchObject({ journal: 'degraded' });
      expect(state.journalReason).toMatch(new RegExp(`^EACCES .* reading ${file}: .*chown -R \\S+: ${stateDir}\\)`));
      // Without the journal, a redelivery of what the previous run finished is not recognised: it runs.
      agent.dispatcher.handle(dup('done'));
      expect(await client.result(RESULTS, 'done')).toMatchObject({ ok: true, result: { count: 1 } });

      process.seteuid?.(0);
      chownSync(file, NOBODY, NOBODY);
      process.seteuid?.(NOBODY);
      const left = await client.result(RESULTS, 'left');
      expect(left).toMatchObject({ ok: false, error: { code: 'canceled' } });
      expect(JSON.stringify(left)).toMatch(/found only once that could be read/);
      await client.next((m) => m.topic === 'dev2mqtt/t1/state' && (JSON.parse(m.payload) as { journal?: string }).journal === 'ok');
      expect(probes.get('p1')?.count).toBe(1);
      process.seteuid?.(0);
    },
  );

  it.skipIf(!asOtherUser)(
    'readable at last, but its directory still cannot be written: what it left undone is answered only once a whole journal records the answer',
    async () => {
      const dir = tempDir('dev2mqtt-journal-');
      const file = path.join(dir, 'journal.jsonl');
      // A run as root left it, in a directory of root's that the agent's user may enter but not write.
      writeFileSync(file, previousRun('done', 'left'), { mode: 0o600 });
      chmodSync(dir, 0o755);
      const healths: JournalHealth[] = [];
      let answered: { recovery: Recovery; health: JournalHealth } | undefined;
      let onAnswered = (): void => undefined;
      let onHealth = (): void => undefined;
      process.seteuid?.(NOBODY);
      const journal = new CommandJournal(dir, 100, {
        retryMaxMs: 1000,
        onHealth: (h) => {
          healths.push(h);
          onHealth();
        },
        onLateRecovery: (recovery) => {
          answered = { recovery, health: journal.health };
          onAnswered();
        },
      });
      journal.recover();
      expect(journal.health).toMatchObject({ state: 'degraded', errno: 'EACCES' });

      // A person makes it readable, not the directory writable: the retry reads and merges it, and cannot write.
      process.seteuid?.(0);
      chmodSync(file, 0o644);
      process.seteuid?.(NOBODY);
      const creating = (): boolean => healths.some((h) => h.errno === 'EACCES' && h.reason?.includes(`creating ${file}.tmp`));
      await within(
        new Promise<void>((resolve) => {
          onHealth = () => creating() && resolve();
          if (creating()) resolve();
        }),
        20_000,
        'the retry that reads the journal and cannot write the merged one',
      );
      await new Promise((resolve) => setImmediate(resolve));
      // Answered now, the command would be canceled here while the file still shows it waiting: a later start runs it.
      expect(answered).toBeUndefined();
      expect(journal.result(key('done'))).toMatchObject({ result: { count: 7 } });

      process.seteuid?.(0);
      chownSync(dir, NOBODY, NOBODY);
      process.seteuid?.(NOBODY);
      const late = await within(
        new Promise<NonNullable<typeof answered>>((resolve) => {
          onAnswered = () => answered && resolve(answered);
        }),
        20_000,
        'the late recovery once the journal is written',
      );
      process.seteuid?.(0);
      journal.close();
      expect(late.health).toEqual({ state: 'ok' });
      expect(late.recovery.interrupted.map((i) => [i.key, i.why])).toEqual([[key('left'), 'late']]);
      expect(readFileSync(file, 'utf8')).toContain(`"k":${JSON.stringify(key('left'))}`);
    },
  );

  it('a directory where the journal should be (EISDIR), beside a stale journal: node state says so, the stale one still answers; moved away, ok again', async () => {
    const stateDir = tempDir('dev2mqtt-state-');
    const file = path.join(stateDir, 'journal.jsonl');
    const stale = path.join(stateDir, 'journal.stale.jsonl');
    mkdirSync(file);
    writeFileSync(path.join(file, 'kept'), 'a person’s file');
    writeFileSync(stale, previousRun('done', 'left'));
    agent = await startAgent({ config: { node: { stateDir, journalRetryMaxMs: 1000 } } });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe([RESULTS, 'dev2mqtt/t1/state']);
    expect(agent.journalHealth).toMatchObject({ state: 'degraded', errno: 'EISDIR' });
    const state = JSON.parse((await client.next((m) => m.topic === 'dev2mqtt/t1/state')).payload) as Record<string, unknown>;
    expect(state).toMatchObject({ journal: 'degraded' });
    expect(state.journalReason).toMatch(new RegExp(`^EISDIR .* reading ${file}: .*a directory, not a journal: move it out of the way`));

    // The stale journal's result answers a redelivery; its unfinished command was answered at start, never run.
    agent.dispatcher.handle(dup('done'));
    expect(await client.result(RESULTS, 'done')).toMatchObject({ ok: true, result: { count: 7 } });
    agent.dispatcher.handle(dup('left'));
    expect(await client.result(RESULTS, 'left')).toMatchObject({ ok: false, error: { code: 'canceled' } });
    expect(probes.get('p1')?.count).toBe(0);
    expect(agent.dispatcher.stats.duplicates).toBe(2);
    // Left as it was: no rename, nothing removed (the stale one too: nothing whole has replaced it yet).
    const journals = (): string[] =>
      readdirSync(stateDir)
        .filter((f) => f.includes('journal'))
        .sort();
    expect(journals()).toEqual(['journal.jsonl', 'journal.stale.jsonl']);
    expect(readdirSync(file)).toEqual(['kept']);

    // A person moves it out of the way: the journal is written whole again by itself, the stale one merged in.
    renameSync(file, path.join(stateDir, 'moved-away'));
    await client.next((m) => m.topic === 'dev2mqtt/t1/state' && (JSON.parse(m.payload) as { journal?: string }).journal === 'ok');
    expect(journals()).toEqual(['journal.jsonl']);
    expect(readFileSync(file, 'utf8')).toContain(`"k":${JSON.stringify(key('done'))}`);
  });

  it('a live and a stale journal both unreadable (ELOOP), then put right: the live one, newer, is merged above the stale one', async () => {
    const dir = tempDir('dev2mqtt-journal-');
    const live = path.join(dir, 'journal.jsonl');
    const stale = path.join(dir, 'journal.stale.jsonl');
    symlinkSync('journal.jsonl', live);
    symlinkSync('journal.stale.jsonl', stale);
    const recoveries: Recovery[] = [];
    const { journal, health } = watched(dir, (r) => recoveries.push(r));
    journal.recover();
    expect(journal.health).toMatchObject({ state: 'degraded', errno: 'ELOOP' });
    // The stale one is older: it shows `x` accepted; the live one, written after, shows it finished.
    const header = line({ t: 'h', v: 1 });
    rmSync(stale);
    writeFileSync(stale, header + line({ t: 'a', k: key('x'), m: message('x') }));
    rmSync(live);
    writeFileSync(live, header + line({ t: 'r', k: key('x'), r: result('x', 7), p: 1 }));
    await within(health('ok'), 20_000, 'the journals merged and written');
    await new Promise((resolve) => setImmediate(resolve));
    journal.close();
    expect(journal.result(key('x'))).toMatchObject({ result: { count: 7 } });
    expect(recoveries.flatMap((r) => r.interrupted.map((i) => i.key))).toEqual([]);
  });

  it('a symbolic link that loops (ELOOP): left as it is, degraded with the errno, never renamed', () => {
    const dir = tempDir('dev2mqtt-journal-');
    const file = path.join(dir, 'journal.jsonl');
    symlinkSync('journal.jsonl', file);
    const j = new CommandJournal(dir, 100);
    expect(j.recover().corrupt).toBeUndefined();
    j.close();
    expect(j.health).toMatchObject({ state: 'degraded', errno: 'ELOOP' });
    expect(j.health.reason).toMatch(/symbolic link that loops/);
    expect(readdirSync(dir)).toEqual(['journal.jsonl']);
    expect(readlinkSync(file)).toBe('journal.jsonl');
  });
});

describe('a damaged medium', () => {
  it('the live journal answers EIO, a stale one beside it: the live one moved aside, the stale one read and merged into a fresh journal', () => {
    const dir = tempDir('dev2mqtt-journal-');
    // A real EIO (see journal-storage.test.ts): /proc/self/mem at offset 0 is never mapped.
    symlinkSync('/proc/self/mem', path.join(dir, 'journal.jsonl'));
    writeFileSync(path.join(dir, 'journal.stale.jsonl'), previousRun('done', 'left'));
    const j = new CommandJournal(dir, 100);
    const r = j.recover();
    expect(j.health).toEqual({ state: 'ok' });
    expect(r.corrupt?.map((c) => c.unreadable)).toEqual([expect.stringMatching(/^EIO .*journal\.jsonl$/) as unknown]);
    expect(r.interrupted.map((i) => [i.key, i.why])).toEqual([[key('left'), 'stale']]);
    expect(j.result(key('done'))).toMatchObject({ result: { count: 7 } });
    j.close();
    const names = readdirSync(dir);
    expect(names.filter((f) => /^journal\.corrupt-.+\.jsonl$/.test(f))).toHaveLength(1);
    expect(names).not.toContain('journal.stale.jsonl');
    expect(readFileSync(path.join(dir, 'journal.jsonl'), 'utf8')).toContain(`"k":${JSON.stringify(key('done'))}`);
  });

  // Node (libuv) has no name for these two: its error says `Unknown system error -74`, and only the number tells.
  it.skipIf(!canFailExt4()).each([
    ['EBADMSG', 'checksum', '0x1234', 'its inode checksum does not match'],
    ['EUCLEAN', 'block[0]', '0', 'its extent header lost its magic'],
  ])('%s from ext4 (%s %s: %s): a damaged medium, not left for a person to fix; degraded with the errno', (errno, field, value) => {
    const card = Ext4Image.create(4);
    cards.push(card);
    writeFileSync(path.join(card.dir, 'journal.jsonl'), previousRun('done', 'left'));
    card.damageInode('journal.jsonl', field, value);
    const j = new CommandJournal(card.dir, 100);
    const r = j.recover();
    j.close();
    // ext4 refuses the rename of a broken inode too: it stays where it is, and the journal says why.
    expect(r.corrupt?.map((c) => c.unreadable)).toEqual([
      expect.stringMatching(new RegExp(`^${errno} \\(.+\\) reading .*journal\\.jsonl$`)) as unknown,
    ]);
    expect(j.health).toMatchObject({ state: 'degraded', errno });
    expect(j.health.reason).not.toMatch(/to fix:/);
    expect(r.pending).toEqual([]);
  });
});
