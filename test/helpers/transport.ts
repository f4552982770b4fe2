/**
 * For tests of the MQTT transport and what rides on it: an aedes listener the
 * test can cut and bring back, a transport on loopback with quick reconnects,
 * telemetry over any transport, and a wait on events.
 */
import net from 'node:net';
import type { Aedes } from 'aedes';
import { pino } from 'pino';
import type { DeviceRuntime } from '../../src/agent/device-runtime.js';
import { Telemetry, type TelemetryOptions } from '../../src/agent/telemetry.js';
import { MqttTransport } from '../../src/transport/mqtt.js';
import { freePort } from './mosquitto.js';
import type { Transport } from '../../src/transport/transport.js';

/** Resolves once `cond` holds, checked on every event the test waits for. */
export function until(cond: () => boolean, onChange: (check: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (cond()) resolve();
    };
    onChange(check);
    check();
  });
}

/** An aedes listener on a fixed loopback port that can be dropped (every socket cut) and brought back. */
export function droppableListener(aedes: Aedes, port: number): { up: () => Promise<void>; down: () => Promise<void> } {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  return {
    up: async () => {
      const s = net.createServer((socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        aedes.handle(socket);
      });
      server = s;
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    },
    down: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** `aedes` listening on a free loopback port the test can cut; `close` takes the listener down, then the broker. */
export async function cuttableBroker(aedes: Aedes): Promise<{
  port: number;
  listener: ReturnType<typeof droppableListener>;
  close: () => Promise<void>;
}> {
  await aedes.listen();
  const port = await freePort();
  const listener = droppableListener(aedes, port);
  await listener.up();
  return {
    port,
    listener,
    close: async () => {
      await listener.down();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

/** MQTT 3.1.1 to a loopback port, reconnecting within 100 ms, no acknowledgement watchdog unless `ackTimeoutMs` says. */
export function loopbackTransport(port: number, clientId: string, ackTimeoutMs = 0): MqttTransport {
  return new MqttTransport(
    {
      servers: [`mqtt://127.0.0.1:${port}`],
      clientId,
      username: '',
      password: '',
      ca: '',
      cert: '',
      key: '',
      rejectUnauthorized: true,
      protocolVersion: 4,
      keepaliveS: 30,
      sessionExpiryS: 0,
      reconnectMinMs: 10,
      reconnectMaxMs: 100,
      connectTimeoutMs: 30_000,
      ackTimeoutMs,
      will: { topic: `${clientId}/status`, payload: 'offline' },
    },
    pino({ level: 'silent' }),
  );
}

/** Telemetry of node `n1` with no devices, publishing events at QoS 1, nothing periodic. */
export function eventTelemetry(
  transport: Transport,
  base: string,
  offlineBuffer: TelemetryOptions['offlineBuffer'],
  more: Partial<Pick<TelemetryOptions, 'log' | 'stateDir'>> = {},
): Telemetry {
  return new Telemetry({
    transport,
    topics: { base, node: 'n1', groups: [] },
    qos: 1,
    devices: new Map<string, DeviceRuntime>(),
    version: 'test',
    intervalMs: 3_600_000,
    throttleMs: 0,
    log: pino({ level: 'silent' }),
    stats: () => ({}),
    offlineBuffer,
    stateDir: '/nonexistent',
    ...more,
  });
}
