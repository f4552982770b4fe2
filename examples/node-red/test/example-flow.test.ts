/**
 * examples/node-red/flow.json, as a user imports it, in real Node-RED 4 with
 * the subflow module, against an agent with the demo devices (on the embedded
 * broker, and on mosquitto with the flow's broker node switched to MQTT 5):
 * the device picker learns the agent's retained device list, each inject
 * drives every device of its kind and each result reaches its kind's debug
 * node, and the status board follows the node's status and availability.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inbox, mosquittoReady, node, SETUPS, startWorld, statuses, type Inbox, type World } from './harness.js';
import { nodeModules, readFlow, testHelper, type FlowNode, type NrMessage, type NrStatus } from './node-red.js';

const AGENT = 'nr-demo';
const h = testHelper();
const flow = readFlow();
const byName = (type: string, name: string): FlowNode => {
  const n = flow.find((x) => x.type === type && x.name === name);
  if (!n) throw new Error(`the example flow has no ${type} named '${name}'`);
  return n;
};

/** The flow pointed at the test's broker and agent, as a user does in the editor. */
function retargeted(url: string, protocol: 4 | 5): FlowNode[] {
  const u = new URL(url);
  return flow.map((n) => {
    if (n.type === 'mqtt-broker') return { ...n, broker: u.hostname, port: u.port, protocolVersion: String(protocol) };
    if (n.type === 'tab') return { ...n, env: [{ name: 'DEV2MQTT_NODE', value: AGENT, type: 'str' }] };
    // The flow's 10 s is for people; a loaded test machine gets longer, so only a real fault fails.
    if (n.type === 'dev2mqtt-command') return { ...n, TIMEOUT_MS: 120_000 };
    return n;
  });
}

// The demo devices by kind, and what each inject's command answers.
const INJECTS = [
  { inject: 'LEDs: on', debug: 'led results', devices: ['led0'], shows: { state: 'ON' } },
  { inject: 'LEDs: off', debug: 'led results', devices: ['led0'], shows: { state: 'OFF' } },
  { inject: 'GPIO lines: read', debug: 'gpio results', devices: ['relay', 'button'], shows: { direction: expect.any(String) } },
  { inject: 'serial ports: ATI', debug: 'serial results', devices: ['modem0'], shows: { final: 'OK' } },
  { inject: 'tape drives: status', debug: 'tape results', devices: ['tape0'], shows: { online: true } },
  { inject: 'nodes: ping', debug: 'node results', devices: [undefined], shows: { pong: true, node: AGENT } },
] as const;

const setups = SETUPS.filter((s) => s.broker === 'embedded' || s.protocol === 5);

for (const setup of setups) {
  describe.skipIf(setup.broker === 'mosquitto' && !mosquittoReady)(`the example flow, ${setup.name}`, () => {
    let world: World;
    let picker: Inbox<NrStatus>;
    let board: Inbox<NrStatus>;
    let errors: Inbox<NrMessage>;
    const debugs = new Map<string, Inbox<NrMessage>>();

    beforeAll(async () => {
      world = await startWorld(setup, AGENT);
      await h.load(nodeModules(), retargeted(world.url, setup.protocol));
      picker = statuses(h, byName('function', 'remember devices').id);
      board = statuses(h, byName('function', 'status board').id);
      errors = inbox(h, byName('debug', 'errors').id);
      for (const n of flow.filter((x) => x.type === 'debug')) debugs.set(String(n.name), inbox(h, n.id));
    });
    afterAll(async () => {
      await h.unload();
      await world?.stop();
    });

    it("the device picker learns the agent's devices from its retained list", async () => {
      await picker.next((s) => s.text === `${AGENT}: 5 devices`, 'the device list');
    });

    it('the status board shows the node and every device online', async () => {
      await board.next((s) => s.text === '1/1 nodes online · 5/5 devices online' && s.fill === 'green', 'the full board');
      const lines = await debugs.get('board')!.next((m) => /5\/5 devices online/.test(String(m.payload)), 'the board line');
      expect(lines.payload).toBe(`${AGENT}: online, 5/5 devices online`);
    });

    for (const step of INJECTS) {
      it(`"${step.inject}" drives every device of its kind; each result reaches "${step.debug}"`, async () => {
        const seen = debugs.get(step.debug)!;
        const before = seen.items.length;
        node(h, byName('inject', step.inject).id).receive({});
        const got = await seen.count(before + step.devices.length, () => true, `results on "${step.debug}"`);
        const mine = got.slice(before);
        expect(mine.map((m) => (m.dev2mqtt as { device?: string }).device).sort()).toEqual([...step.devices].sort());
        for (const m of mine) {
          expect(m.dev2mqtt).toMatchObject({ ok: true, node: AGENT });
          expect(m.payload).toMatchObject(step.shows);
        }
        expect(errors.items).toEqual([]);
      });
    }

    it('shows device events', async () => {
      // The demo button presses itself.
      const e = await debugs.get('events')!.next((m) => m.topic === `dev2mqtt/${AGENT}/button/event`, 'a button event');
      expect(e.payload).toMatchObject({ type: expect.any(String), ts: expect.anything() });
    });

    // On the embedded broker the agent takes the broker down with it: only a separate broker can tell.
    it.skipIf(setup.broker === 'embedded')('the status board shows the node offline when its agent stops', async () => {
      await world.agent.stop();
      await board.next((s) => s.text === '0/1 nodes online · 0/5 devices online' && s.fill === 'red', 'the board with the node offline');
    });
  });
}
