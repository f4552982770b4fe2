/**
 * After a reconnect the transport sends every unconfirmed QoS 1 publish again
 * at once, and is connected meanwhile: MQTT.js alone would send one per
 * PUBACK and say nothing until the last came back (mqttjs/MQTT.js#1086). The
 * broker here (aedes) holds its PUBACKs while the test says so: the transport
 * must reconnect, announce itself and send all of them again while none is
 * acknowledged.
 */
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/mosquitto.js';
import { droppableListener, loopbackTransport, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('the transport after a reconnect', () => {
  it('sends every unconfirmed QoS 1 publish again at once, connected, before any is acknowledged', async () => {
    const port = await freePort();
    const held: Array<() => void> = [];
    let hold = true;
    const received: string[] = [];
    let onPublish = (): void => undefined;
    const aedes = new Aedes({
      authorizePublish: (client, packet, done) => {
        if (packet.topic !== 'outbox-t/result') return done(null);
        received.push(packet.payload.toString());
        onPublish();
        // aedes acknowledges a QoS 1 publish once it is authorised: holding this holds the PUBACK.
        if (hold) held.push(() => done(null));
        else done(null);
      },
    });
    await aedes.listen();
    const broker = droppableListener(aedes, port);
    await broker.up();
    cleanup.push(async () => {
      await broker.down();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    });

    const transport = loopbackTransport(port, 'outbox-t');
    let connects = 0;
    let onConnect = (): void => undefined;
    transport.start({
      message: () => undefined,
      connected: () => {
        connects++;
        onConnect();
      },
      disconnected: () => undefined,
    });
    cleanup.push(() => transport.stop(1000));
    await until(
      () => connects === 1,
      (c) => (onConnect = c),
    );

    const confirmed: string[] = [];
    const sends = Array.from({ length: 5 }, (_, i) =>
      transport.publish('outbox-t/result', `r${i}`, { qos: 1 }).then(() => void confirmed.push(`r${i}`)),
    );
    await until(
      () => received.length === 5,
      (c) => (onPublish = c),
    );
    expect(confirmed).toEqual([]);

    // The broker goes away with all five unconfirmed, and comes back still holding its PUBACKs.
    held.length = 0;
    await broker.down();
    await broker.up();
    await until(
      () => connects === 2 && received.length === 10,
      (c) => {
        onConnect = c;
        onPublish = c;
      },
    );
    expect(received.slice(5)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(confirmed).toEqual([]);

    hold = false;
    for (const release of held.splice(0)) release();
    await Promise.all(sends);
    expect(confirmed).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });
});
