/** The node state's commands per minute (a sliding minute) and last error. */
import { describe, expect, it } from 'vitest';
import { CommandActivity } from '../../src/agent/activity.js';

describe('command activity', () => {
  it('counts the commands of the last 60 seconds and keeps the last error', () => {
    let now = 1_000_000;
    const a = new CommandActivity(() => now);
    expect(a.perMinute()).toBe(0);
    expect(a.lastError).toBeNull();
    a.record('led0', 'set');
    now += 30_000;
    a.record('led0', 'set', { code: 'device_error', message: 'EIO', errno: 'EIO' });
    a.record(undefined, 'ping');
    expect(a.perMinute()).toBe(3);
    expect(a.lastError).toEqual({ code: 'device_error', message: 'EIO', device: 'led0', command: 'set', errno: 'EIO', ts: now });
    now += 31_000;
    expect(a.perMinute()).toBe(2);
    now += 60_000;
    expect(a.perMinute()).toBe(0);
    // The same bucket a minute later starts from zero.
    a.record('led0', 'get');
    expect(a.perMinute()).toBe(1);
    expect(a.lastError?.code).toBe('device_error');
  });
});
