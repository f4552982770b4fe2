import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../src/agent/agent.js';
import { startAgent } from '../helpers/agent.js';
import { TestClient } from '../helpers/mqtt-client.js';

let agent: Agent | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await client?.end();
  await agent?.stop();
});

describe('agent on its embedded broker', () => {
  it('answers a command with its result and publishes retained state', async () => {
    agent = await startAgent();
    client = await TestClient.connect(`mqtt://127.0.0.1:${agent.brokerPort}`);
    await client.subscribe('dev2mqtt/#');
    const r = await client.command('dev2mqtt/t1/p1/cmd/count', {}, 'c1');
    expect(r).toMatchObject({ id: 'c1', device: 'p1', command: 'count', ok: true, result: { count: 1 } });
    const state = await client.next((m) => m.topic === 'dev2mqtt/t1/p1/state' && m.payload.includes('"count":1'));
    expect(JSON.parse(state.payload)).toMatchObject({ count: 1 });
    const status = await client.next((m) => m.topic === 'dev2mqtt/t1/status');
    expect(status.payload).toBe('online');
  });
});
