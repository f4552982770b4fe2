/**
 * The three brokers the agent is checked against, behind one small interface
 * so one suite runs over each: aedes (the agent's embedded broker, hosted by
 * an agent of its own), mosquitto 2, and the MQTT listener of nats-server
 * (MQTT 3.1.1, QoS 0/1; it keeps sessions and retained messages in
 * JetStream, which needs a server_name). Each is started by the test on a
 * free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Agent } from '../../../src/agent/agent.js';
import { startAgent, tempDir } from '../../helpers/agent.js';
import type { TestBroker } from '../../helpers/broker.js';
import { freePort, Mosquitto, waitListening } from '../../helpers/mosquitto.js';

export type { TestBroker };

export async function startAedes(): Promise<TestBroker> {
  const port = await freePort();
  const host = (): Promise<Agent> => startAgent({ config: { node: { id: 'aedes-host' }, broker: { port }, devices: [] } });
  let agent = await host();
  return {
    name: 'aedes (embedded)',
    port,
    url: `mqtt://127.0.0.1:${port}`,
    protocolVersion: 4,
    async restart() {
      await agent.stop();
      agent = await host();
    },
    stop: () => agent.stop(),
  };
}

export async function startMosquitto(): Promise<TestBroker> {
  const m = await Mosquitto.start({ persistence: true });
  return { name: 'mosquitto 2', port: m.port, url: m.url, protocolVersion: 5, restart: () => m.restart('SIGTERM'), stop: () => m.stop() };
}

export async function startNats(): Promise<TestBroker> {
  const dir = tempDir('dev2mqtt-nats-');
  const mqttPort = await freePort();
  const natsPort = await freePort();
  const conf = path.join(dir, 'nats.conf');
  writeFileSync(
    conf,
    [
      'server_name: "dev2mqtt-test"',
      `listen: "127.0.0.1:${natsPort}"`,
      `jetstream { store_dir: "${path.join(dir, 'js')}" }`,
      `mqtt { listen: "127.0.0.1:${mqttPort}" }`,
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | undefined;
  let log = '';
  const start = async (): Promise<void> => {
    const p = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    proc = p;
    await waitListening(mqttPort, p, () => log);
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    name: 'nats-server (MQTT listener)',
    port: mqttPort,
    url: `mqtt://127.0.0.1:${mqttPort}`,
    protocolVersion: 4,
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}
