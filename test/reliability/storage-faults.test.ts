/**
 * The Raspberry Pi's classic failure, on a real filesystem: node.stateDir on
 * a small tmpfs of its own (test/reliability/helpers/tmpfs.ts) under the real
 * `dev2mqtt run` in a child process, on a real mosquitto, with an LED whose
 * sysfs tree lives elsewhere (the devices are fine; only the storage fails):
 *  - filled to the last byte in the middle of a stream of QoS 1 commands;
 *  - full before the agent starts;
 *  - remounted read-only in the middle of a stream, and back;
 *  - read-only before the agent starts;
 *  - a failing card: ext4 shut down under the stream (every write EIO), then
 *    replaced (helpers/ext4.ts);
 *  - stdout redirected to a log file on the card that fills up: log lines are
 *    dropped and counted (node state `log: degraded`), the log tells the gap
 *    once space is back, and SIGTERM on a full card still exits 0.
 * Each time: every command is answered exactly once, the agent never exits
 * (and its crash policy never fires), the node state says `journal:
 * degraded` with the errno and the path, and `ok` again once the storage is
 * back, without a restart. A simulated tape whose image lives on the full
 * disk fails the one write that needed space with device_error ENOSPC, and
 * nothing else.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { requireTools } from '../helpers/tools.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { parseDiscovery } from '../helpers/ha-discovered.js';
import { stateProblems } from '../helpers/ha-state.js';
import { HaTemplates, haveJinja } from '../helpers/ha-templates.js';
import { CRASH_POLICY_LINE, spawnAgent, writeConfig, type ChildAgent } from './helpers/child-agent.js';
import { canFailExt4, Ext4Image } from './helpers/ext4.js';
import { canMountTmpfs, Tmpfs } from './helpers/tmpfs.js';

const ok = canMountTmpfs() && requireTools('storage faults under a running agent', 'mosquitto');
const ext4 = ok && canFailExt4();
/**
 * Each command's own timeout (queue wait included): a burst of 80 on a loaded 2-core machine can keep an
 * LED's queue busy past its 5 s default, and `busy` or `timeout` there would say nothing about storage.
 */
const SLOW_MACHINE_MS = 120_000;
const FAST_TAPE = { rewindMs: 0, spaceMs: 0, eomMs: 0, eraseMs: 0, retensionMs: 0, loadMs: 0, unloadMs: 0, weofMs: 0, bytesPerS: 1 << 30 };

interface NodeState {
  journal?: string;
  journalReason?: string;
  log?: string;
  logReason?: string;
  logDropped?: number;
}

interface Result {
  id: string;
  ok: boolean;
  error?: { code: string; errno?: string; message: string };
  result?: Record<string, unknown>;
}

/** An LED of the LED class as sysfs shows it, outside the filesystem under test. */
function fakeLed(): string {
  const root = tempDir('dev2mqtt-storage-sys-');
  const dir = path.join(root, 'class', 'leds', 'test0');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'brightness'), '0\n');
  writeFileSync(path.join(dir, 'max_brightness'), '255\n');
  writeFileSync(path.join(dir, 'trigger'), '[none] timer heartbeat\n');
  return root;
}

describe.skipIf(!ok)('storage faults: a full or read-only stateDir under a running agent', () => {
  let broker: Mosquitto;
  let client: TestClient;
  const mounts: Array<{ cleanup(): void }> = [];
  const children: ChildAgent[] = [];

  let templates: HaTemplates | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    client = await TestClient.connect(broker.url);
    // Home Assistant's view of the journal needs Jinja (python3-jinja2): under CI a must, elsewhere checked where there.
    if (haveJinja()) templates = HaTemplates.start();
  });
  // Cleaned up whatever the test did: no agent left running, no tmpfs left mounted.
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill('SIGKILL');
    for (const m of mounts.splice(0)) m.cleanup();
  });
  afterAll(async () => {
    await templates?.close();
    await client?.end();
    await broker?.stop();
  });

  /** One node's agent and what the test sees of it. */
  async function setUp<M extends { readonly dir: string; cleanup(): void }>(
    node: string,
    mount: M,
    o: { tape?: boolean; homeassistant?: boolean; logFile?: string } = {},
  ) {
    mounts.push(mount);
    const B = `dev2mqtt/${node}`;
    await client.subscribe(`${B}/#`);
    if (o.homeassistant) await client.subscribe(`homeassistant/device/${node}/config`);
    const config = writeConfig({
      // The journal on the filesystem under test (no $RUNTIME_DIRECTORY here), retried every second while it fails.
      node: { id: node, stateDir: mount.dir, journalRetryMaxMs: 1000 },
      mqtt: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 500 },
      devices: [
        { id: 'led1', kind: 'led', options: { name: 'test0', sysfsRoot: fakeLed(), pollMs: 0 } },
        ...(o.tape ? [{ id: 'tape0', kind: 'tape', sim: true, options: { pollMs: 0, sim: { timing: FAST_TAPE } } }] : []),
      ],
      security: { rateLimitPerS: 0 },
      telemetry: { stateThrottleMs: 0 },
      ...(o.homeassistant ? { homeassistant: { enabled: true } } : {}),
      log: { level: 'info' },
    });
    let seq = 0;
    const ids: string[] = [];
    let current: ChildAgent | undefined;
    /** `p`, unless the agent exits first: then the test fails at once, with what the agent said. */
    const whileAlive = <T>(p: Promise<T>): Promise<T> => {
      const c = current;
      if (!c) return p;
      const died = c.exited.then((code): never => {
        throw new Error(`the agent exited (${code}):\n${c.output().slice(-3000)}`);
      });
      return Promise.race([p, died]).catch((e: unknown) => {
        // A wait that timed out with the agent alive: what it said last is the place to start looking.
        if (e instanceof Error && c.proc.exitCode === null) e.message += `\nthe agent's last output:\n${c.output().slice(-4000)}`;
        throw e;
      });
    };
    const start = async (): Promise<ChildAgent> => {
      const seen = client.on(`${B}/status`).length;
      // As `dev2mqtt run >> FILE` would: the agent's stdout is the file itself, opened for appending.
      const logFd = o.logFile ? openSync(o.logFile, 'a') : undefined;
      const child = spawnAgent(config, [], { RUNTIME_DIRECTORY: '' }, logFd);
      if (logFd !== undefined) closeSync(logFd);
      children.push(child);
      current = child;
      await whileAlive(
        client.next(
          (m) => m.topic === `${B}/status` && m.payload === 'online' && client.on(`${B}/status`).indexOf(m) >= seen,
          60_000,
          `${node} online`,
        ),
      );
      return child;
    };
    /** The next node state (published after message number `since`) that satisfies `pred`. */
    const state = (pred: (s: NodeState) => boolean, since: number, what: string): Promise<Received> =>
      whileAlive(
        client.next(
          (m) => m.topic === `${B}/state` && client.messages.indexOf(m) >= since && pred(JSON.parse(m.payload) as NodeState),
          60_000,
          what,
        ),
      );
    /** `n` LED commands with ids, all published at once (QoS 1); resolves when each has its result. */
    const stream = async (n: number): Promise<void> => {
      const batch = Array.from({ length: n }, () => `${node}-${++seq}`);
      ids.push(...batch);
      await Promise.all(
        batch.map((id, i) =>
          client.publish(`${B}/led1/cmd/set`, JSON.stringify({ id, state: i % 2 ? 'ON' : 'OFF', timeoutMs: SLOW_MACHINE_MS })),
        ),
      );
      for (const id of batch) await whileAlive(client.result(`${B}/led1/result`, id, 60_000));
    };
    /** Every command sent so far answered exactly once, and ok (the LED is fine; only the storage is not). */
    const everyOneAnsweredOnce = async (): Promise<void> => {
      // A round trip through the same connection: any second result would be here by now.
      await client.command(`${B}/cmd/ping`, {}, `${node}-sync`);
      const results = client.on(`${B}/led1/result`).map((m) => JSON.parse(m.payload) as Result);
      const count = new Map<string, number>();
      for (const r of results) count.set(r.id, (count.get(r.id) ?? 0) + 1);
      expect(ids.filter((id) => count.get(id) !== 1).map((id) => `${id}: ${count.get(id) ?? 0} results`)).toEqual([]);
      expect(results.filter((r) => !r.ok)).toEqual([]);
    };
    const tape = (command: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> =>
      whileAlive(client.command(`${B}/tape0/cmd/${command}`, { ...args, timeoutMs: SLOW_MACHINE_MS }, `${node}-tape-${++seq}`));
    return { mount, B, start, state, stream, everyOneAnsweredOnce, tape, ids };
  }

  function stillRunning(child: ChildAgent): void {
    expect(child.proc.exitCode, child.output().slice(-3000)).toBeNull();
    expect(child.output()).not.toMatch(CRASH_POLICY_LINE);
  }

  /** The node's "Command journal" entity as HA reads its discovery config, and what it makes of a node state. */
  async function haJournalEntity(node: string, jinja: HaTemplates) {
    const topic = `homeassistant/device/${node}/config`;
    const config = await client.next((m) => m.topic === topic && m.payload !== '', 60_000, 'the node discovery config');
    const entity = parseDiscovery('homeassistant', topic, config.payload).components.find((c) => c.key === 'binary_sensor_journal');
    if (!entity) throw new Error(`no binary_sensor_journal in ${config.payload}`);
    expect(entity.config.state_topic).toBe(`dev2mqtt/${node}/state`);
    return {
      show: (payload: string) => stateProblems(jinja, 'binary_sensor', entity.config, payload),
      attributes: async (payload: string): Promise<unknown> => {
        const r = await jinja.render({ mode: 'attributes', template: entity.config.json_attributes_template as string, payload });
        return JSON.parse(r.output ?? 'null');
      },
    };
  }

  const logLines = (child: ChildAgent, re: RegExp): number =>
    child
      .output()
      .split('\n')
      .filter((l) => re.test(l)).length;

  it('filled to 100% mid-stream: 240 commands answered once each, degraded with ENOSPC, ok again once space is back; the tape fails only the write that needed space', async () => {
    const t = await setUp('sf-fill', Tmpfs.mount(512), { tape: true, homeassistant: true });
    const child = await t.start();
    await t.state((s) => s.journal === 'ok', 0, 'journal ok at start');
    const record = (c: string): string => c.repeat(8192);
    expect(await t.tape('write', { data: record('a') })).toMatchObject({ ok: true });
    await t.stream(80);

    const filledAt = client.messages.length;
    t.mount.fill();
    // A record needs new pages of the image file: only this command fails, with the errno.
    const refused = await t.tape('write', { data: record('b') });
    expect(refused).toMatchObject({ ok: false, error: { code: 'device_error', errno: 'ENOSPC' } });
    expect(await t.tape('status')).toMatchObject({ ok: true });
    await t.stream(100);
    const degraded = await t.state((s) => s.journal === 'degraded', filledAt, 'journal degraded');
    const reason = (JSON.parse(degraded.payload) as NodeState).journalReason ?? '';
    expect(reason).toMatch(/ENOSPC/);
    expect(reason).toContain(t.mount.dir);
    expect(client.on(`${t.B}/tape0/availability`).at(-1)?.payload).toBe('online');
    // Home Assistant's "Command journal" problem sensor, its templates rendered by Jinja on this node state.
    const journalEntity = templates ? await haJournalEntity('sf-fill', templates) : undefined;
    if (journalEntity) {
      expect(await journalEntity.show(degraded.payload)).toEqual({ value: 'ON', problems: [] });
      expect(await journalEntity.attributes(degraded.payload)).toEqual({ reason });
    }

    const freedAt = client.messages.length;
    t.mount.unfill();
    const okAgain = await t.state((s) => s.journal === 'ok', freedAt, 'journal ok again');
    if (journalEntity) expect(await journalEntity.show(okAgain.payload)).toEqual({ value: 'OFF', problems: [] });
    await t.stream(60);
    expect(await t.tape('write', { data: record('c') })).toMatchObject({ ok: true });
    // On the tape: the records written while there was space, not the refused one.
    expect(await t.tape('rewind')).toMatchObject({ ok: true });
    const read = async (): Promise<string> => {
      const r = await t.tape('read', { encoding: 'utf8' });
      return ((r.result as { data?: string } | undefined)?.data ?? '').slice(0, 1);
    };
    expect([await read(), await read()]).toEqual(['a', 'c']);

    await t.everyOneAnsweredOnce();
    expect(t.ids.length).toBeGreaterThanOrEqual(200);
    stillRunning(child);
    // Said once per change, not per command.
    expect(logLines(child, /command journal degraded/)).toBe(1);
    expect(logLines(child, /back to ok/)).toBe(1);
  }, 180_000);

  it('started on a full disk: starts degraded and says why, answers every command, ok once space is back', async () => {
    const t = await setUp('sf-startfull', Tmpfs.mount(256));
    // A previous run left a journal, as the measured failure had.
    const first = await t.start();
    await t.stream(20);
    expect(await first.kill('SIGTERM')).toBe(0);

    t.mount.fill();
    const startedAt = client.messages.length;
    const child = await t.start();
    const degraded = await t.state((s) => s.journal === 'degraded', startedAt, 'journal degraded at start');
    expect((JSON.parse(degraded.payload) as NodeState).journalReason).toMatch(/ENOSPC/);
    await t.stream(40);
    const freedAt = client.messages.length;
    t.mount.unfill();
    await t.state((s) => s.journal === 'ok', freedAt, 'journal ok again');
    await t.stream(20);
    await t.everyOneAnsweredOnce();
    stillRunning(child);
    expect(child.output()).toMatch(/command journal degraded: ENOSPC/);
  }, 180_000);

  it('remounted read-only mid-stream and back: 240 commands answered once each, degraded with EROFS, then ok', async () => {
    const t = await setUp('sf-ro', Tmpfs.mount(512));
    const child = await t.start();
    await t.state((s) => s.journal === 'ok', 0, 'journal ok at start');
    await t.stream(80);
    const roAt = client.messages.length;
    // The journal holds no file open between writes, so the remount goes through.
    await t.mount.remount('ro');
    await t.stream(80);
    const degraded = await t.state((s) => s.journal === 'degraded', roAt, 'journal degraded');
    expect((JSON.parse(degraded.payload) as NodeState).journalReason).toMatch(/EROFS/);
    const rwAt = client.messages.length;
    await t.mount.remount('rw');
    await t.state((s) => s.journal === 'ok', rwAt, 'journal ok again');
    await t.stream(80);
    await t.everyOneAnsweredOnce();
    stillRunning(child);
    expect(logLines(child, /command journal degraded/)).toBe(1);
  }, 180_000);

  it('started on a read-only stateDir: starts degraded with EROFS, answers, ok once it is writable', async () => {
    const t = await setUp('sf-startro', Tmpfs.mount(256));
    await t.mount.remount('ro');
    const child = await t.start();
    const degraded = await t.state((s) => s.journal === 'degraded', 0, 'journal degraded at start');
    expect((JSON.parse(degraded.payload) as NodeState).journalReason).toMatch(/EROFS/);
    await t.stream(40);
    const rwAt = client.messages.length;
    await t.mount.remount('rw');
    await t.state((s) => s.journal === 'ok', rwAt, 'journal ok again');
    await t.stream(20);
    await t.everyOneAnsweredOnce();
    stillRunning(child);
  }, 180_000);

  it.skipIf(!ext4)(
    'a failing card mid-stream (every write EIO), then replaced: 240 commands answered once each, degraded with EIO, then ok',
    async () => {
      const t = await setUp('sf-eio', Ext4Image.create(16));
      const child = await t.start();
      await t.state((s) => s.journal === 'ok', 0, 'journal ok at start');
      await t.stream(80);
      const failedAt = client.messages.length;
      t.mount.shutDown();
      await t.stream(80);
      const degraded = await t.state((s) => s.journal === 'degraded', failedAt, 'journal degraded');
      expect((JSON.parse(degraded.payload) as NodeState).journalReason).toMatch(/EIO/);
      // A new card where the old one was: the journal is written whole on it, by itself.
      t.mount.unmount();
      const replacedAt = client.messages.length;
      t.mount.mount();
      await t.state((s) => s.journal === 'ok', replacedAt, 'journal ok again');
      await t.stream(80);
      await t.everyOneAnsweredOnce();
      stillRunning(child);
    },
    180_000,
  );

  /**
   * Pads a log file to the end of its last page (a valid JSON line): a full tmpfs still takes writes
   * into a file's last page, and the test wants the next log line refused, not the tenth.
   */
  const fullPage = (file: string): void => {
    const PAGE = 4096;
    let n = PAGE - (statSync(file).size % PAGE);
    if (n < 16) n += PAGE;
    appendFileSync(file, `{"pad":"${'x'.repeat(n - 11)}"}\n`);
  };

  it('stdout redirected to a log file on the card, filled to 100%: the agent runs on, drops and counts log lines, tells the gap once space is back, and exits 0 on SIGTERM while full', async () => {
    const mount = Tmpfs.mount(512);
    const logFile = path.join(mount.dir, 'dev2mqtt.log');
    const t = await setUp('sf-log', mount, { logFile });
    const child = await t.start();
    await t.state((s) => s.journal === 'ok' && s.log === 'ok', 0, 'journal and log ok at start');
    await t.stream(40);
    expect(readFileSync(logFile, 'utf8')).toMatch(/"msg":"agent started"/);

    const filledAt = client.messages.length;
    fullPage(logFile);
    mount.fill();
    // The journal's "degraded" warning is a log line the full card refuses.
    await t.stream(80);
    const degraded = await t.state((s) => s.log === 'degraded', filledAt, 'log degraded');
    const during = JSON.parse(degraded.payload) as NodeState;
    expect(during.logReason).toMatch(/^ENOSPC .* stdout/);
    expect(during.logDropped).toBeGreaterThanOrEqual(1);
    stillRunning(child);

    const freedAt = client.messages.length;
    mount.unfill();
    // The journal's "back to ok" line is the first the card takes again; the gap is told right after it.
    await t.state((s) => s.journal === 'ok' && s.log === 'ok', freedAt, 'journal and log ok again');
    await t.stream(40);
    const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    const gap = lines.filter((l) => /log line\(s\) dropped: ENOSPC/.test(l));
    expect(gap).toHaveLength(1);
    expect((JSON.parse(gap[0] ?? '{}') as { dropped?: number }).dropped).toBeGreaterThanOrEqual(1);
    // At most the one line the filling disk cut short; every other line is whole JSON, the crash policy's none of them.
    expect(lines.filter((l) => !l.startsWith('{') || !l.endsWith('}')).length).toBeLessThanOrEqual(1);
    expect(lines.join('\n')).not.toMatch(CRASH_POLICY_LINE);
    await t.everyOneAnsweredOnce();
    stillRunning(child);

    // Full again, then stopped: nothing waits on a log line the card cannot take.
    fullPage(logFile);
    mount.fill();
    await t.stream(20);
    expect(await child.kill('SIGTERM')).toBe(0);
  }, 180_000);
});
