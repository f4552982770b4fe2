/**
 * After a reconnect MQTT.js first replays the QoS 2 exchanges that were open
 * at the drop, and says `connect` only once the broker has completed them.
 * The ack watchdog must be armed from the CONNACK, not from that `connect`:
 * a broker that takes the connection but never completes the exchange (no
 * PUBREC) would otherwise hold the agent connected and silent for ever. The
 * broker here (aedes) never answers the QoS 2 publish until the test lets it.
 */
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { cuttableBroker, loopbackTransport, until } from '../helpers/transport.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('the ack watchdog', () => {
  it('is armed while MQTT.js replays an open QoS 2 exchange after a reconnect: a broker that never completes it is left', async () => {
    let onChange = (): void => undefined;
    const changed = (): void => onChange();
    const wait = (cond: () => boolean): Promise<void> => until(cond, (c) => (onChange = c));

    const topic = 'wd2/n1/dev/result/qos2';
    // Each connection's copy of the QoS 2 publish: the first, then MQTT.js's replay after each reconnect.
    const copies: Array<number | undefined> = [];
    const held: Array<() => void> = [];
    let release = false;
    const aedes = new Aedes({
      authorizePublish: (_client, packet, done) => {
        if (packet.topic !== topic) return done(null);
        copies.push(packet.messageId);
        if (release) done(null);
        else held.push(() => done(null));
        changed();
      },
    });
    const { port, close } = await cuttableBroker(aedes);
    cleanup.push(close);

    const transport = loopbackTransport(port, 'wd2-agent', 200);
    let connects = 0;
    transport.start({
      message: () => undefined,
      connected: () => {
        connects++;
        changed();
      },
      disconnected: () => changed(),
    });
    cleanup.push(() => transport.stop(1000));
    await wait(() => connects === 1);

    let completed = false;
    void transport.publish(topic, '{}', { qos: 2 }).then(() => {
      completed = true;
      changed();
    });
    // The first connection is left by the watchdog; on the second MQTT.js replays the exchange, and
    // the watchdog must leave that one too: a third copy arrives only if it did.
    await wait(() => copies.length >= 3);
    // The same exchange each time (its packet id), sent again by MQTT.js, not a new publish.
    expect(new Set(copies).size).toBe(1);
    expect(connects).toBe(1);

    // A broker that completes it: the exchange ends, and MQTT.js says `connect` at last.
    release = true;
    for (const done of held.splice(0)) done();
    await wait(() => completed && connects >= 2);
    expect(completed).toBe(true);
  });
});
