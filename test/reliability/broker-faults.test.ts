/**
 * mosquitto killed with SIGKILL and restarted ten times while a client sends
 * QoS 1 commands with ids at a steady rate. mosquitto persists every change
 * (the helper's `persistence: true`), so the agent's session and the
 * commands queued in it survive each crash; the sender has a persistent
 * session too and MQTT.js sends its unacknowledged publishes again.
 *
 * Proved: every command the broker acknowledged runs exactly once (a plug-in
 * device appends each run's id to a file), every command gets its result,
 * and the agent is back after every restart. "Online within 2 s" is a time,
 * and tests here assert no times: the test prints each measured
 * restart-to-online figure, and asserts what bounds it — every reconnect
 * delay the agent chose lies in [reconnectMinMs/2, reconnectMaxMs], so the
 * agent tries again within reconnectMaxMs (1 s by default) of any restart.
 *
 * What a crash may catch, and so when the test kills. mosquitto acknowledges
 * a PUBLISH as it handles it and saves its database at the end of that loop
 * turn; it writes the message on to a connected subscriber in the same turn
 * unless that subscriber's in-flight window is full (20 by default), when it
 * keeps it in memory only. With `max_inflight_messages 0` nothing waits in
 * memory for a connected agent. And QoS 1 is at least once: a crash between
 * mosquitto forwarding a command and acknowledging it to the sender makes
 * MQTT.js send it again, mosquitto forwards the copy as a new message, and
 * the agent rightly runs it (a fresh command may reuse an id). So the sender
 * pauses before each kill: its PUBACKs are all in, the agent's journal holds
 * every command, and mosquitto has saved once more; the stream resumes at the
 * kill, while the broker is down. On the agent's side every crash still lands
 * mid-flight: commands queued and running, results not yet confirmed (sent
 * again after the reconnect), commands delivered but not yet acknowledged
 * (redelivered with DUP and answered from the journal).
 *
 * A second case makes the crash window that a random kill only sometimes
 * hits: the agent has run a command and acknowledged it, the broker never got
 * the PUBACK (a proxy swallows it) and dies; after the restart it redelivers
 * the command with DUP, and the agent answers from its journal, not running
 * it again.
 */
import { readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent, tempDir } from '../helpers/agent.js';
import { Mosquitto, mosquittoItself } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { LogCapture } from './helpers/log-capture.js';
import { MqttProxy } from './helpers/mqtt-proxy.js';
import { runsPerId } from './helpers/runs.js';
import { deadline } from '../helpers/deadline.js';
import { until } from '../helpers/wait.js';

const ok = mosquittoItself('the broker-faults suite (mosquitto crashes with SIGKILL and restarts from its persistence)');
const COUNTER = fileURLToPath(new URL('../fixtures/counter-kind.js', import.meta.url));
const RESTARTS = 10;
/** The defaults of mqtt.reconnectMinMs / reconnectMaxMs: what a user gets. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 1000;

/**
 * A careful sender. MQTT.js keeps unacknowledged QoS 1 publishes in its store and sends them
 * again (DUP) after a reconnect, but fails with 'Connection closed' those it was holding back
 * while it replayed that store, when the connection drops again: they never left, so send them again.
 */
async function publishUntilTaken(c: TestClient, topic: string, payload: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      await c.publish(topic, payload);
      return true;
    } catch (e) {
      if ((e as Error).message !== 'Connection closed') throw e;
      await new Promise((r) => c.client.once('connect', r));
    }
  }
  return false;
}

/**
 * Resolves once mosquitto has saved its database after this call. mosquitto is single-threaded:
 * a save that ends after now began after everything it had sent before now. A retained message
 * makes sure there is a change to save.
 */
async function savedAfterNow(broker: Mosquitto, client: TestClient): Promise<void> {
  const watcher = watch(broker.dir);
  let timer: NodeJS.Timeout | undefined;
  try {
    const saved = new Promise<void>((resolve, reject) => {
      watcher.on('change', (event, name) => {
        if (event === 'rename' && String(name) === 'mosquitto.db') resolve();
      });
      // A broker that cannot write its dir (mosquitto drops to its own user) never saves: say so.
      timer = setTimeout(
        () => reject(new Error(`mosquitto did not save ${broker.dir}/mosquitto.db in ${deadline(30_000) / 1000} s`)),
        deadline(30_000),
      );
    });
    await client.publish('dev2mqtt-test/bf-save', String(Date.now()), { qos: 1, retain: true });
    await saved;
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}

interface LogLine {
  time: number;
  msg: string;
  delayMs?: number;
}
const logLines = (log: LogCapture): LogLine[] =>
  log.text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);

describe.skipIf(!ok)('broker faults', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it(
    `${RESTARTS} SIGKILLs of mosquitto under a steady QoS 1 stream: each acknowledged command runs once, each gets its result, the agent comes back every time`,
    async () => {
      const broker = await Mosquitto.start({ persistence: true, extra: ['max_inflight_messages 0'] });
      cleanup.push(() => broker.stop());
      const dir = tempDir('dev2mqtt-bf-');
      const runsFile = path.join(dir, 'runs.txt');
      const journal = path.join(dir, 'state', 'journal.jsonl');
      const log = new LogCapture();
      const agent: Agent = await startAgent({
        config: {
          node: { id: 'bf', stateDir: path.join(dir, 'state') },
          mqtt: { url: broker.url, reconnectMinMs: RECONNECT_MIN_MS, reconnectMaxMs: RECONNECT_MAX_MS },
          plugins: [COUNTER],
          devices: [{ id: 'c1', kind: 'counter', options: { file: runsFile } }],
        },
        logStream: log,
        logLevel: 'debug',
      });
      cleanup.push(() => agent.stop());
      const client = await TestClient.connect(broker.url, { clean: false, clientId: `bf-client-${process.pid}`, reconnectPeriod: 100 });
      cleanup.push(() => client.end());
      await client.subscribe('dev2mqtt/bf/c1/result');

      // A steady stream: one command every 15 ms, up or down; publishes made while the
      // broker is down wait in MQTT.js and go out after it reconnects.
      const acked = new Map<string, Promise<boolean>>();
      let n = 0;
      let paused = false;
      const send = (): void => {
        if (paused) return;
        const id = `bf-${n++}`;
        acked.set(id, publishUntilTaken(client, 'dev2mqtt/bf/c1/cmd/run', JSON.stringify({ id })));
      };
      /** Every command sent so far is in the agent's journal: none waits in the broker alone. */
      const agentHasAll = (): boolean => {
        const text = readFileSync(journal, 'utf8');
        return [...acked.keys()].every((id) => text.includes(`\\u0000${id}"`));
      };
      const timer = setInterval(send, 15);
      const restartedAt: number[] = [];
      const connectedBefore = (): number => logLines(log).filter((l) => l.msg === 'connected to broker').length;
      try {
        for (let i = 0; i < RESTARTS; i++) {
          // The stream runs; then the sender pauses for the kill (see the header).
          await new Promise((r) => setTimeout(r, 250));
          paused = true;
          await Promise.all(acked.values());
          await until(agentHasAll, `every command in the agent's journal before kill ${i + 1}`, 30_000);
          await savedAfterNow(broker, client);
          const connects = connectedBefore();
          await broker.stop('SIGKILL');
          paused = false;
          await new Promise((r) => setTimeout(r, 150));
          // From the moment mosquitto is started again (it listens a few ms later).
          restartedAt.push(Date.now());
          await broker.start();
          await until(
            () => connectedBefore() > connects && agent.connected && client.client.connected,
            `the agent and the sender connected again after restart ${i + 1}`,
            30_000,
          ).catch((e: Error) => {
            throw new Error(`${e.message}\n${log.text.slice(-3000)}`);
          });
        }
        await new Promise((r) => setTimeout(r, 250));
      } finally {
        clearInterval(timer);
      }

      const ids = [...acked.keys()];
      const ackedIds = (await Promise.all(ids.map(async (id) => ((await acked.get(id)) ? id : undefined)))).filter(
        (x): x is string => x !== undefined,
      );
      expect(ackedIds).toEqual(ids); // the broker took every one in the end

      // Every result arrives.
      const results = new Map<string, Array<{ ok: boolean; result?: { runs: number } }>>();
      await client
        .next(
          () => {
            results.clear();
            for (const m of client.on('dev2mqtt/bf/c1/result')) {
              const r = JSON.parse(m.payload) as { id: string; ok: boolean };
              results.set(r.id, [...(results.get(r.id) ?? []), r]);
            }
            return ids.every((id) => results.has(id));
          },
          60_000,
          'every result',
        )
        .catch((e: Error) => {
          const runs = runsPerId(runsFile);
          const missing = ids.filter((id) => !results.has(id));
          const journalLines = readFileSync(journal, 'utf8')
            .split('\n')
            .filter((l) => missing.some((id) => l.includes(`\\u0000${id}"`)));
          throw new Error(
            `${e.message}: missing ${missing.map((id) => `${id} (ran ${runs.get(id) ?? 0}×)`).join(', ')}\njournal:\n${journalLines.map((l) => l.slice(0, 120)).join('\n')}\nlog:\n${log.text
              .split('\n')
              .filter((l) => !l.includes('"level":20'))
              .join('\n')
              .slice(-5000)}`,
          );
        });
      for (const [id, rs] of results) {
        expect(
          rs.every((r) => r.ok),
          id,
        ).toBe(true);
        // A result may arrive twice (the broker died before confirming it), always the same one.
        expect(new Set(rs.map((r) => JSON.stringify(r))).size, `${id}: ${JSON.stringify(rs)}`).toBe(1);
      }

      // Exactly once.
      const runs = runsPerId(runsFile);
      expect(ids.filter((id) => runs.get(id) !== 1).map((id) => `${id}×${runs.get(id) ?? 0}`)).toEqual([]);
      expect([...runs.keys()].filter((id) => !acked.has(id))).toEqual([]);

      // Back every time, and never waiting longer than the configured cap between attempts.
      const lines = logLines(log);
      const connects = lines.filter((l) => l.msg === 'connected to broker');
      expect(connects).toHaveLength(RESTARTS + 1);
      const delays = lines.filter((l) => l.msg === 'reconnecting').map((l) => l.delayMs as number);
      expect(delays.length).toBeGreaterThanOrEqual(RESTARTS);
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(RECONNECT_MIN_MS / 2);
        expect(d).toBeLessThanOrEqual(RECONNECT_MAX_MS);
      }
      // One connect per restart (asserted above): the (i+1)-th follows the i-th restart.
      const onlineMs = restartedAt.map((t, i) => (connects[i + 1]?.time ?? Number.NaN) - t);
      console.log(
        `broker-faults: ${ids.length} commands over ${RESTARTS} SIGKILLs; restart → agent connected (ms): ${onlineMs.join(', ')}; ` +
          `reconnect delays chosen (ms): min ${Math.min(...delays)}, max ${Math.max(...delays)}, cap ${RECONNECT_MAX_MS}; duplicates answered from the journal: ${agent.dispatcher.stats.duplicates}`,
      );
    },
    deadline(600_000),
  );

  it('a command the broker redelivers (DUP) after a crash is answered from the journal, not run again', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    cleanup.push(() => broker.stop());
    const proxy = await MqttProxy.start(broker.port);
    cleanup.push(() => proxy.close());
    const dir = tempDir('dev2mqtt-bfdup-');
    const runsFile = path.join(dir, 'runs.txt');
    const agent = await startAgent({
      config: {
        node: { id: 'bd', stateDir: path.join(dir, 'state') },
        mqtt: { url: proxy.url, reconnectMinMs: 100, reconnectMaxMs: 300 },
        plugins: [COUNTER],
        devices: [{ id: 'c1', kind: 'counter', options: { file: runsFile } }],
      },
    });
    cleanup.push(() => agent.stop());
    const client = await TestClient.connect(broker.url, { clean: false, clientId: `bd-client-${process.pid}`, reconnectPeriod: 100 });
    cleanup.push(() => client.end());
    await client.subscribe('dev2mqtt/bd/c1/result');

    proxy.dropPubacks = true;
    const first = await client.command('dev2mqtt/bd/c1/cmd/run', {}, 'redelivered');
    expect(first).toMatchObject({ ok: true, result: { runs: 1 } });
    expect(proxy.dropped).toBeGreaterThanOrEqual(1);
    // mosquitto has saved the command as in flight to the agent, unacknowledged; now it dies.
    await broker.stop('SIGKILL');
    proxy.dropPubacks = false;
    await broker.start();
    // The redelivery is answered again from the journal: a second, identical result, and no second run.
    // (The agent may also resend its first result, unconfirmed when the broker died: same text again.)
    await until(() => agent.dispatcher.stats.duplicates === 1, 'the redelivery answered from the journal');
    await client.next(() => client.on('dev2mqtt/bd/c1/result').length >= 2, 30_000, 'the answer to the redelivery');
    for (const m of client.on('dev2mqtt/bd/c1/result')) expect(JSON.parse(m.payload)).toEqual(first);
    expect(runsPerId(runsFile)).toEqual(new Map([['redelivered', 1]]));
    // A fresh command reusing the id still runs.
    await client.publish('dev2mqtt/bd/c1/cmd/run', '{"id":"redelivered"}');
    const reused = await client.next((m) => m.topic === 'dev2mqtt/bd/c1/result' && m.payload.includes('"runs":2'), 30_000, 'the reused id');
    expect(JSON.parse(reused.payload)).toMatchObject({ id: 'redelivered', ok: true, result: { runs: 2 } });
  });

  it('a result finished while the broker is down is kept and delivered after the restart', async () => {
    const broker = await Mosquitto.start({ persistence: true });
    cleanup.push(() => broker.stop());
    const dir = tempDir('dev2mqtt-bfkeep-');
    const runsFile = path.join(dir, 'runs.txt');
    const journal = path.join(dir, 'state', 'journal.jsonl');
    const agent = await startAgent({
      config: {
        node: { id: 'bk', stateDir: path.join(dir, 'state') },
        mqtt: { url: broker.url, reconnectMinMs: 100, reconnectMaxMs: 300 },
        plugins: [COUNTER],
        devices: [{ id: 'c1', kind: 'counter', options: { file: runsFile } }],
      },
    });
    cleanup.push(() => agent.stop());
    const client = await TestClient.connect(broker.url, { clean: false, clientId: `bk-client-${process.pid}`, reconnectPeriod: 100 });
    cleanup.push(() => client.end());
    await client.subscribe('dev2mqtt/bk/c1/result');
    // A command that holds the device 300 ms; the broker dies while it runs and stays down until
    // the journal shows the result was produced, i.e. published into a closed connection.
    await client.publish('dev2mqtt/bk/c1/cmd/run', '{"id":"kept","ms":300}');
    await until(() => runsPerId(runsFile).has('kept'), 'the command run');
    await broker.stop('SIGKILL');
    const key = '"k":"u:dev2mqtt/bk/c1/cmd/run\\u0000kept"';
    await until(() => readFileSync(journal, 'utf8').includes(`"t":"r",${key}`), 'its result in the journal');
    expect(agent.connected).toBe(false);
    await broker.start();
    expect(await client.result('dev2mqtt/bk/c1/result', 'kept', 30_000)).toMatchObject({ ok: true, result: { runs: 1 } });
    // The subscriber may also have it from the broker redelivering the command (answered from the
    // journal); what shows the agent kept its own publish is the broker confirming it: the 'p' line.
    await until(() => readFileSync(journal, 'utf8').includes(`"t":"p",${key}`), 'the broker confirming its result');
    expect(runsPerId(runsFile)).toEqual(new Map([['kept', 1]]));
  });
});
