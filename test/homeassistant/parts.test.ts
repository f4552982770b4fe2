/**
 * Parts (an entity's name among its device's) as kinds make them: a `host`
 * device's disk entities are named after the mount, and a Pi mounts a USB
 * drive at /media/<user>/<label>, so parts run longer than a word or two.
 * The plan must keep them, and the longest ids it can make must still be
 * ids Home Assistant takes (an entity id is at most 255 characters).
 */
import { describe, expect, it } from 'vitest';
import type { TopicScheme } from '../../src/agent/topics.js';
import { hostKind } from '../../src/devices/host/kind.js';
import type { AnyKind } from '../../src/devices/kind.js';
import { discoveryPlan, type DiscoveryDevice } from '../../src/homeassistant/discovery.js';
import { defaultEntityId, PART_MAX_LENGTH, PART_PATTERN } from '../../src/homeassistant/ids.js';

const node = 'n'.repeat(64);
const T: TopicScheme = { base: 'dev2mqtt', node, groups: [] };

function hostDevice(options: Record<string, unknown>): DiscoveryDevice {
  const r = hostKind.options(false).parse(options);
  if (!r.ok) throw new Error('host options do not parse');
  return { id: 'host', name: 'Host', sim: false, options: r.value, kind: hostKind as AnyKind, state: undefined };
}

describe('entity parts', () => {
  it("keeps a host's disk entities for a drive mounted under /media/<user>/<label>", () => {
    const errors: string[] = [];
    const plan = discoveryPlan(
      { prefix: 'homeassistant', topics: T, version: '1', qos: 1, form: 'device', node: {} },
      [hostDevice({ mounts: ['/', '/media/pi/backup-drive-2024'] })],
      new Map(),
      (_device, err) => errors.push(err.message),
    );
    expect(errors).toEqual([]);
    const cmps = plan.messages.find((m) => m.device === 'host')!.components;
    expect(Object.keys(cmps)).toEqual(
      expect.arrayContaining(['sensor_disk_media_pi_backup_drive_2024_used', 'sensor_disk_media_pi_backup_drive_2024_free']),
    );
  });

  it('allows no part whose entity id Home Assistant would refuse', () => {
    const longest = 'p'.repeat(PART_MAX_LENGTH);
    expect(PART_PATTERN.test(longest)).toBe(true);
    expect(PART_PATTERN.test(`${longest}p`)).toBe(false);
    expect(defaultEntityId('binary_sensor', node, 'd'.repeat(64), longest).length).toBeLessThanOrEqual(255);
  });
});
