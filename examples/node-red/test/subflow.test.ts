/**
 * The `dev2mqtt command` subflow module in real Node-RED 4 (its core mqtt,
 * function and status nodes, loaded by node-red-node-test-helper), against an
 * agent with the demo devices: on the embedded broker, and on mosquitto with
 * Node-RED speaking MQTT 5 and 3.1.1. Each result must come out on the message
 * of its own command, also with 20 commands to 4 devices in flight at once.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../../test/helpers/agent.js';
import { curatedDemoDevices } from '../../../test/helpers/demo-devices.js';
import { TestClient } from '../../../test/helpers/mqtt-client.js';
import { Inbox, inbox, mosquittoReady, node, SETUPS, startWorld, type World } from './harness.js';
import { brokerNode, nodeModules, testHelper, type FlowNode, type NrMessage, type NrStatus } from './node-red.js';

const AGENT = 'nr-agent';
const h = testHelper();

/** The subflow instance `id`: ok → `${id}-ok`, error → `${id}-err`. */
function instance(id: string, broker: string): FlowNode[] {
  return [
    {
      id,
      type: 'dev2mqtt-command',
      z: 'tab',
      name: '',
      BROKER: broker,
      BASE_TOPIC: 'dev2mqtt',
      NODE_ID: AGENT,
      // Long: on a loaded machine only the timeout test may time out, and it sets its own msg.timeout.
      TIMEOUT_MS: 120_000,
      wires: [[`${id}-ok`], [`${id}-err`]],
    },
    { id: `${id}-ok`, type: 'helper', z: 'tab' },
    { id: `${id}-err`, type: 'helper', z: 'tab' },
  ];
}

/** One status node for all instances (the test helper registers the status type once per status node it sees). */
const STATUS_WATCH: FlowNode[] = [
  { id: 'statuses', type: 'status', z: 'tab', scope: null, wires: [['shown']] },
  { id: 'shown', type: 'helper', z: 'tab' },
];

interface Instance {
  readonly ok: Inbox<NrMessage>;
  readonly err: Inbox<NrMessage>;
  /** Both outputs, in the order they came. */
  readonly out: Inbox<NrMessage>;
  readonly shown: Inbox<NrStatus>;
  send(msg: NrMessage): void;
  /** Every output (ok or error) whose message carries this tag. */
  outputsFor(tag: unknown): NrMessage[];
}

function attach(id: string): Instance {
  const ok = inbox(h, `${id}-ok`);
  const err = inbox(h, `${id}-err`);
  const out = new Inbox<NrMessage>();
  node(h, `${id}-ok`).on('input', (m) => out.push(m));
  node(h, `${id}-err`).on('input', (m) => out.push(m));
  // What the instance shows under it, as a status node passes it on.
  const shown = new Inbox<NrStatus>();
  node(h, 'shown').on('input', (m) => {
    const s = m.status as NrStatus & { source: { id: string } };
    if (s.source.id === id) shown.push(s);
  });
  return {
    ok,
    err,
    out,
    shown,
    send: (msg) => node(h, id).receive(msg),
    outputsFor: (tag) => [...ok.items, ...err.items].filter((m) => m.tag === tag),
  };
}

/** The demo devices' commands whose results show their arguments, so a result can be checked against its command. */
// The relay's pulses make its results come later than the others', so results do not come back in the order sent.
type Result = Record<string, unknown>;
const PROBES = [
  {
    device: 'led0',
    command: 'set',
    args: (k: number) => ({ brightness: 10 + k }),
    shows: (r: Result, k: number) => r.brightness === 10 + k,
  },
  { device: 'relay', command: 'pulse', args: (k: number) => ({ ms: 100 * k }), shows: (r: Result, k: number) => r.pulsedMs === 100 * k },
  { device: 'modem0', command: 'write', args: (k: number) => ({ data: 'x'.repeat(k) }), shows: (r: Result, k: number) => r.bytes === k },
  {
    device: 'tape0',
    command: 'setblk',
    args: (k: number) => ({ size: 512 * k }),
    shows: (r: Result, k: number) => r.blockSize === 512 * k,
  },
] as const;

for (const setup of SETUPS) {
  describe.skipIf(setup.broker === 'mosquitto' && !mosquittoReady)(`the dev2mqtt command subflow, ${setup.name}`, () => {
    let world: World;
    let a: Instance;
    let spy: TestClient;

    beforeAll(async () => {
      world = await startWorld(setup, AGENT);
      // What goes over the broker, seen by an MQTT 5 client: the commands, results and replies.
      spy = await TestClient.connect(world.url, setup.broker === 'mosquitto' ? { protocolVersion: 5 } : {});
      await spy.subscribe([`dev2mqtt/${AGENT}/+/cmd/+`, `dev2mqtt/${AGENT}/cmd/+`, `dev2mqtt/${AGENT}/+/result`, 'replies/#']);
      await h.load(nodeModules(), [
        { id: 'tab', type: 'tab', label: 'subflow test' },
        brokerNode('broker', world.url, setup.protocol),
        ...instance('a', 'broker'),
        ...instance('b', 'broker'),
        ...STATUS_WATCH,
      ]);
      a = attach('a');
      // The instance shows `idle` once its mqtt out node reports the broker connected.
      await a.shown.next((s) => /^idle/.test(s.text ?? ''), 'the instance connected');
    });
    afterEach(() => {
      expect(a.err.items.filter((m) => (m.payload as { code?: string }).code === undefined)).toEqual([]);
    });
    afterAll(async () => {
      await h.unload();
      await spy?.end();
      await world?.stop();
    });

    it('matches each of 20 results to its own command, 5 commands to each of 4 devices in flight at once', async () => {
      const sent = Array.from({ length: 20 }, (_, i) => {
        const probe = PROBES[i % 4]!;
        const k = Math.floor(i / 4) + 1;
        return {
          tag: `c${i}`,
          probe,
          k,
          msg: { node: AGENT, device: probe.device, command: probe.command, payload: probe.args(k), tag: `c${i}` },
        };
      });
      for (const s of sent) a.send(s.msg);
      const outs = await a.ok.count(20, (m) => String(m.tag).startsWith('c'), 'ok results');
      expect(a.err.items).toEqual([]);
      for (const s of sent) {
        const mine = a.outputsFor(s.tag);
        expect(mine, s.tag).toHaveLength(1);
        const m = mine[0]!;
        const record = m.dev2mqtt as Record<string, unknown>;
        expect(record, s.tag).toMatchObject({ ok: true, device: s.probe.device, command: s.probe.command });
        expect(
          s.probe.shows(m.payload as Result, s.k),
          `${s.tag}: ${s.probe.device} ${s.probe.command} ${JSON.stringify(s.msg.payload)}`,
        ).toBe(true);
        // The input message comes back, its payload now the result.
        expect(m.device).toBe(s.probe.device);
      }
      expect(new Set(outs.map((m) => (m.dev2mqtt as { id: string }).id)).size).toBe(20);
      // They were in flight together: the instance counted more than one at a time.
      const most = Math.max(...a.shown.items.map((s) => Number(/^(\d+) in flight/.exec(s.text ?? '')?.[1] ?? 0)));
      console.log(`most commands in flight at once: ${most}`);
      expect(most).toBeGreaterThan(1);
    });

    it('reports a command whose result does not come in time on the error output as `timeout`, and drops the late result', async () => {
      a.send({ node: AGENT, device: 'relay', command: 'pulse', payload: { ms: 1500 }, timeout: 200, tag: 'slow' });
      const timedOut = await a.err.next((m) => m.tag === 'slow', 'the timeout');
      expect(timedOut.payload).toMatchObject({ code: 'timeout' });
      expect(timedOut.dev2mqtt).toMatchObject({ ok: false, device: 'relay', command: 'pulse' });
      const id = (timedOut.dev2mqtt as { id: string }).id;
      // The relay's next result is published after the pulse's late one: once it is out, the late one was seen.
      a.send({ node: AGENT, device: 'relay', command: 'get', tag: 'after' });
      await a.ok.next((m) => m.tag === 'after', 'the result after the late one');
      expect(spy.messages.some((m) => m.topic.endsWith('/relay/result') && (JSON.parse(m.payload) as { id: string }).id === id)).toBe(true);
      expect(a.outputsFor('slow')).toHaveLength(1);
    });

    it("reports a payload over the agent's security.maxPayloadBytes on the error output as `too_large`, not as a timeout", async () => {
      const limit = world.agent.config.security.maxPayloadBytes;
      a.send({ node: AGENT, device: 'modem0', command: 'write', payload: { data: 'x'.repeat(limit) }, tag: 'big' });
      const m = await a.err.next((x) => x.tag === 'big', 'too_large on the error output');
      expect(m.payload).toMatchObject({ code: 'too_large', message: expect.stringMatching(new RegExp(`over the limit of ${limit}`)) });
      expect(m.dev2mqtt).toMatchObject({ ok: false, device: 'modem0', command: 'write' });
      expect(a.outputsFor('big')).toHaveLength(1);
    });

    it('reports an unknown device on the error output with `unknown_device`', async () => {
      a.send({ node: AGENT, device: 'nope', command: 'get', tag: 'nope' });
      const m = await a.err.next((x) => x.tag === 'nope', 'the unknown_device error');
      expect(m.payload).toMatchObject({ code: 'unknown_device' });
      expect(m.dev2mqtt).toMatchObject({ ok: false, device: 'nope', command: 'get' });
    });

    it('refuses what it cannot send on the error output, and runs node commands', async () => {
      a.send({ node: AGENT, device: 'led0', tag: 'no-command' });
      a.send({ node: AGENT, device: 'led0', command: 'set', payload: [1, 2], tag: 'array' });
      a.send({ node: AGENT, command: 'ping', tag: 'ping' });
      expect((await a.err.next((m) => m.tag === 'no-command', 'the refusal')).payload).toMatchObject({ code: 'unknown_command' });
      expect((await a.err.next((m) => m.tag === 'array', 'the refusal')).payload).toMatchObject({ code: 'bad_payload' });
      expect((await a.ok.next((m) => m.tag === 'ping', 'the ping')).payload).toMatchObject({ pong: true, node: AGENT });
    });

    it('sends a single value as {"value": …} with its id, as the contract reads a bare payload', async () => {
      a.send({ node: AGENT, device: 'relay', command: 'set', payload: 'ON', tag: 'word' });
      a.send({ node: AGENT, device: 'relay', command: 'set', payload: 0, tag: 'number' });
      for (const [tag, value] of [
        ['word', 'ON'],
        ['number', 0],
      ] as const) {
        const m = await a.ok.next((x) => x.tag === tag, `the result of the ${tag}`);
        const id = (m.dev2mqtt as { id: string }).id;
        const cmd = await spy.next(
          (x) => x.topic === `dev2mqtt/${AGENT}/relay/cmd/set` && (JSON.parse(x.payload) as { id?: string }).id === id,
          20_000,
          `the command of the ${tag}`,
        );
        expect(JSON.parse(cmd.payload)).toEqual({ value, id });
      }
    });

    it('keeps two instances on one broker apart: each gets its own results, once', async () => {
      const b = attach('b');
      for (let i = 1; i <= 5; i++) {
        a.send({ node: AGENT, device: 'led0', command: 'set', payload: { brightness: 100 + i }, tag: `a${i}` });
        b.send({ node: AGENT, device: 'led0', command: 'set', payload: { brightness: 200 + i }, tag: `b${i}` });
      }
      const fromA = await a.ok.count(5, (m) => /^a\d$/.test(String(m.tag)), 'results of instance a');
      const fromB = await b.ok.count(5, (m) => /^b\d$/.test(String(m.tag)), 'results of instance b');
      // Each command came back once, on its own instance, with its own brightness.
      expect(fromA.map((m) => [m.tag, (m.payload as { brightness: number }).brightness])).toEqual(
        [1, 2, 3, 4, 5].map((i) => [`a${i}`, 100 + i]),
      );
      expect(fromB.map((m) => [m.tag, (m.payload as { brightness: number }).brightness])).toEqual(
        [1, 2, 3, 4, 5].map((i) => [`b${i}`, 200 + i]),
      );
      expect(a.ok.items.filter((m) => /^b/.test(String(m.tag)))).toEqual([]);
      expect(b.ok.items.filter((m) => /^a/.test(String(m.tag)))).toEqual([]);
    });

    if (setup.protocol === 5) {
      it('uses MQTT 5 Response Topic and Correlation Data, and from the first reply on listens only there', async () => {
        const cmd = await spy.next((m) => m.topic.endsWith('/led0/cmd/set'), 20_000, 'a command');
        const props = cmd.packet.properties ?? {};
        const id = (JSON.parse(cmd.payload) as { id: string }).id;
        expect(props.responseTopic).toMatch(/^replies\/node-red\/\w+$/);
        expect(props.correlationData?.toString()).toBe(id);
        const reply = await spy.next(
          (m) => m.topic === props.responseTopic && m.packet.properties?.correlationData?.toString() === id,
          20_000,
          'the reply',
        );
        expect(JSON.parse(reply.payload)).toMatchObject({ id, device: 'led0', command: 'set', ok: true });
        expect(a.shown.items.at(-1)?.text).toMatch(/MQTT 5 replies$/);
      });

      it("takes no reply for a command from a client that saw another command's response topic and id", async () => {
        // Every agent that gets a command from this node learns its response topic and id, and the
        // deploy ACL lets agents write under replies/: one must not be able to answer for another's command.
        a.send({ node: AGENT, device: 'relay', command: 'get', tag: 'seen' });
        const seen = await a.ok.next((m) => m.tag === 'seen', 'the first result');
        const seenId = (seen.dev2mqtt as { id: string }).id;
        a.send({ node: AGENT, device: 'relay', command: 'pulse', payload: { ms: 1000 }, tag: 'target' });
        const cmd = await spy.next(
          (m) => m.topic === `dev2mqtt/${AGENT}/relay/cmd/pulse` && (JSON.parse(m.payload) as { ms?: number }).ms === 1000,
          20_000,
          'the pulse command',
        );
        // The next command's id as one who counts would guess it from the id seen.
        const guess = seenId.replace(/^(nr-[0-9a-f]+-)(\d+)/, (_, head: string, n: string) => `${head}${Number(n) + 1}`);
        const forged = { id: guess, node: AGENT, device: 'relay', command: 'pulse', ok: true, result: { pulsedMs: 1 }, ms: 1 };
        await spy.publish(cmd.packet.properties!.responseTopic!, JSON.stringify(forged), {
          qos: 1,
          properties: { correlationData: Buffer.from(guess) },
        });
        const m = await a.out.next((x) => x.tag === 'target', 'the pulse result');
        expect(m.payload).toMatchObject({ pulsedMs: 1000 });
      });

      it('still gets the results of an agent on MQTT 3.1.1 once another agent has answered on MQTT 5', async () => {
        // An agent configured with mqtt.protocolVersion 4 (or behind a 3.1.1 bridge) on the same broker: the
        // broker drops the Response Topic on the way to it, so its results come on its result topics only.
        const OLD = 'nr-agent-311';
        const old = await startAgent({
          config: { node: { id: OLD }, mqtt: { url: world.url, protocolVersion: 4 }, devices: curatedDemoDevices() },
        });
        try {
          // The tests above had AGENT answer on this instance's response topic.
          expect(a.shown.items.at(-1)?.text).toMatch(/MQTT 5 replies/);
          // Long enough for any load; a wrong subscription shows as `timeout` here rather than a stuck test.
          a.send({ node: OLD, device: 'led0', command: 'set', payload: { brightness: 77 }, timeout: 30_000, tag: 'v311' });
          const m = await a.out.next((x) => x.tag === 'v311', "the 3.1.1 agent's result");
          expect(m.dev2mqtt).toMatchObject({ ok: true, node: OLD, device: 'led0', command: 'set' });
          expect(m.payload).toMatchObject({ brightness: 77 });
          // And the MQTT 5 agent is still answered on the response topic.
          a.send({ node: AGENT, device: 'led0', command: 'get', timeout: 30_000, tag: 'v5-again' });
          expect((await a.out.next((x) => x.tag === 'v5-again', "the MQTT 5 agent's result")).dev2mqtt).toMatchObject({ ok: true });
        } finally {
          await old.stop();
          rmSync(old.config.node.stateDir, { recursive: true, force: true });
        }
      });
    } else {
      it('sends the id in the payload only (no MQTT 5 properties) and listens on the result topics', async () => {
        const cmd = await spy.next((m) => m.topic.endsWith('/led0/cmd/set'), 20_000, 'a command');
        expect(JSON.parse(cmd.payload)).toMatchObject({ id: expect.stringMatching(/^nr-[0-9a-f]+-\d+-[0-9a-f]+$/) });
        expect(cmd.packet.properties?.responseTopic).toBeUndefined();
        expect(spy.messages.filter((m) => m.topic.startsWith('replies/'))).toEqual([]);
        expect(a.shown.items.at(-1)?.text).toMatch(/result topics$/);
      });
    }

    if (setup.broker === 'mosquitto') {
      it('holds a command made while the broker is down and sends it when the connection is back', async () => {
        await world.mosquitto!.stop();
        await a.shown.next((s) => /^disconnected/.test(s.text ?? ''), 'the disconnected status');
        a.send({ node: AGENT, device: 'led0', command: 'set', payload: { brightness: 42 }, timeout: 60_000, tag: 'outage' });
        await a.shown.next((s) => s.text === 'disconnected · 1 waiting', 'the waiting command');
        await world.mosquitto!.start();
        const m = await a.ok.next((x) => x.tag === 'outage', 'the result after the outage');
        expect(m.payload).toMatchObject({ brightness: 42 });
      });
    }
  });
}
