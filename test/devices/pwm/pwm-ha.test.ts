/**
 * `pwm` in Home Assistant: a JSON light with brightness (the default) or a
 * 0–100 % number, by the `haEntity` option. The entities pass the project's
 * HA schema check; then an agent with a sim channel of each is driven with
 * the payloads HA sends (a light's {state, brightness, transition}, a
 * number's plain value) over MQTT, and every state it publishes is checked
 * as HA would read it (the template check included).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../src/agent/agent.js';
import { deviceCommandTopic, deviceTopic, type TopicScheme } from '../../../src/agent/topics.js';
import { pwmKind } from '../../../src/devices/pwm/kind.js';
import type { HaEntity } from '../../../src/homeassistant/entities.js';
import { startAgent } from '../../helpers/agent.js';
import { schemaProblems, stateProblems } from '../../helpers/ha-schema.js';
import { checkSyntax } from '../../helpers/jinja-eval.js';
import { TestClient } from '../../helpers/mqtt-client.js';

const T: TopicScheme = { base: 'dev2mqtt', node: 'ha-pwm', groups: [] };

function entities(id: string, options: Record<string, unknown>): HaEntity[] {
  const parsed = pwmKind.options(true).parse(options);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return (
    pwmKind.homeassistant?.({
      id,
      name: id,
      sim: true,
      options: parsed.value,
      topics: {
        state: deviceTopic(T, id, 'state'),
        event: deviceTopic(T, id, 'event'),
        availability: deviceTopic(T, id, 'availability'),
        command: (c) => deviceCommandTopic(T, id, c),
      },
    }) ?? []
  );
}

describe('pwm: Home Assistant entities', () => {
  it('is a JSON light with brightness on a scale of 100 and transitions, by default', () => {
    const [light, ...rest] = entities('strip', {});
    expect(rest).toEqual([]);
    expect(light).toMatchObject({
      component: 'light',
      name: null,
      config: { schema: 'json', brightness: true, brightness_scale: 100, supported_color_modes: ['brightness'], transition: true },
    });
    expect(schemaProblems('light', light!.config)).toEqual([]);
    expect(light!.config.command_topic).toBe(deviceCommandTopic(T, 'strip', 'set'));
  });

  it('is a 0–100 % number with haEntity "number", whose template renders the percentage', () => {
    const [number, ...rest] = entities('fan', { haEntity: 'number' });
    expect(rest).toEqual([]);
    expect(number).toMatchObject({ component: 'number', config: { min: 0, max: 100, unit_of_measurement: '%' } });
    expect(schemaProblems('number', number!.config)).toEqual([]);
    expect(() => checkSyntax(number!.config.value_template as string)).not.toThrow();
    expect(stateProblems('number', number!.config, JSON.stringify({ percent: 42.5 }))).toEqual({ value: '42.5', problems: [] });
  });
});

describe('pwm: driven the way Home Assistant drives it', () => {
  let agent: Agent;
  let client: TestClient;
  const light = entities('strip', {})[0]!.config;
  const number = entities('fan', { haEntity: 'number' })[0]!.config;

  beforeAll(async () => {
    agent = await startAgent({
      config: {
        node: { id: T.node },
        devices: [
          { id: 'strip', kind: 'pwm', sim: true, options: { fadeStepMs: 10 } },
          { id: 'fan', kind: 'pwm', sim: true, options: { haEntity: 'number', periodNs: 40_000, channel: 1 } },
        ],
      },
    });
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe(`${T.base}/${T.node}/#`);
  });
  afterAll(async () => {
    await client?.end();
    await agent?.stop();
  });

  /** The first state of `id` published after `from` that satisfies `want`. */
  const stateOf = async (id: string, from: number, want: (s: Record<string, unknown>) => boolean, what: string) => {
    const m = await client.next(
      (x) =>
        client.messages.indexOf(x) >= from &&
        x.topic === deviceTopic(T, id, 'state') &&
        want(JSON.parse(x.payload) as Record<string, unknown>),
      20_000,
      what,
    );
    return m.payload;
  };

  it('light: ON with a brightness, a transition, then OFF; each state is one HA takes', async () => {
    let from = client.messages.length;
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', brightness: 40 }));
    let s = await stateOf('strip', from, (x) => x.brightness === 40, 'the strip at 40 %');
    expect(stateProblems('light', light, s)).toEqual({ value: 'ON', problems: [] });

    from = client.messages.length;
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON', brightness: 80, transition: 0.1 }));
    s = await stateOf('strip', from, (x) => x.brightness === 80, 'the strip faded to 80 %');
    expect(stateProblems('light', light, s)).toEqual({ value: 'ON', problems: [] });

    from = client.messages.length;
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'OFF' }));
    s = await stateOf('strip', from, (x) => x.state === 'OFF', 'the strip off');
    expect(stateProblems('light', light, s)).toEqual({ value: 'OFF', problems: [] });

    // HA's plain ON (no brightness) brings back the level it had.
    from = client.messages.length;
    await client.publish(light.command_topic as string, JSON.stringify({ state: 'ON' }));
    s = await stateOf('strip', from, (x) => x.state === 'ON', 'the strip on again');
    expect(JSON.parse(s)).toMatchObject({ brightness: 80 });
  });

  it('number: the value HA publishes sets the percentage; the state renders back to it', async () => {
    const from = client.messages.length;
    await client.publish(number.command_topic as string, '55');
    const s = await stateOf('fan', from, (x) => x.percent === 55, 'the fan at 55 %');
    expect(JSON.parse(s)).toMatchObject({ periodNs: 40_000, dutyNs: 22_000, frequencyHz: 25_000 });
    expect(stateProblems('number', number, s)).toEqual({ value: '55', problems: [] });
  });
});
