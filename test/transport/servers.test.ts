/** Which broker of mqtt.servers an agent tries, and in what order. */
import { describe, expect, it } from 'vitest';
import { parseBrokerUrl, ServerList } from '../../src/transport/servers.js';

const urls = ['mqtt://10.0.0.1:1883', 'mqtt://10.0.0.2:1883', 'mqtts://user:secret@broker-3.example:8883'];

describe('mqtt.servers', () => {
  it('moves to the next server after each failure, wrapping around', () => {
    const s = new ServerList(urls, 1);
    const seen = [s.current.label];
    for (let i = 0; i < 4; i++) {
      s.advance();
      seen.push(s.current.label);
    }
    expect(seen).toEqual([
      'mqtt://10.0.0.2:1883',
      'mqtts://broker-3.example:8883',
      'mqtt://10.0.0.1:1883',
      'mqtt://10.0.0.2:1883',
      'mqtts://broker-3.example:8883',
    ]);
  });

  it('starts at a random server, so a fleet spreads over the cluster', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const label = new ServerList(urls).current.label;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    expect(counts.size).toBe(3);
    // Uniform: each near 1,000; 800 is more than six standard deviations (about 26) below.
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
  });

  it('labels name scheme, host and port, never the credentials of a URL', () => {
    expect(parseBrokerUrl(urls[2] as string)).toEqual({
      secure: true,
      host: 'broker-3.example',
      port: 8883,
      label: 'mqtts://broker-3.example:8883',
    });
    expect(parseBrokerUrl('tcp://[::1]')).toMatchObject({ secure: false, host: '::1', port: 1883, label: 'tcp://[::1]:1883' });
    expect(new ServerList(['mqtt://a:1', 'mqtts://b:2']).anySecure).toBe(true);
    expect(() => new ServerList([])).toThrow(/no broker/);
  });
});
