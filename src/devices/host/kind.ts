/**
 * `host`: the node itself, one device per agent — CPU temperature, the
 * Raspberry Pi firmware's throttling and under-voltage flags, CPU usage,
 * load and frequency, memory, disk use per mount, network rates, Wi-Fi
 * signal, boot time and the board model — read from /proc and /sys (and
 * statfs(2)) with no child process, every `readMs`. Command: get. Home
 * Assistant sees what its System Monitor shows, and `problem` binary
 * sensors for the throttling flags. See docs/kinds/host.md.
 */
import { s, type Schema } from '../../schema/schema.js';
import { command, defineKind, type SandboxNeeds } from '../kind.js';
import { HostDevice, MAX_MOUNTS, type HostOptions } from './device.js';
import { hostEntities } from './homeassistant.js';
import { hostProbe } from './probe.js';

const IFNAME = /^[^/\s:]{1,15}$/;

function options(sim: boolean): Schema<HostOptions> {
  return s.object({
    sysfsRoot: s.string({ minLength: 1 }).default('/sys').doc('where sysfs is mounted; tests point it at a recorded tree'),
    procRoot: s.string({ minLength: 1 }).default('/proc').doc('where procfs is mounted; tests point it at a recorded tree'),
    readMs: s
      .int({ min: 1000, max: 86_400_000 })
      .default(sim ? 10_000 : 60_000)
      .doc('read and publish everything this often'),
    zone: s
      .string({ minLength: 1, maxLength: 64, pattern: /^[^/\0]+$/, patternText: 'a zone name without /' })
      .optional()
      .doc('the thermal zone of the CPU temperature (thermal_zoneN or its type); default: the SoC’s or CPU package’s'),
    mounts: s
      .array(s.string({ pattern: /^\/[^\0]*$/, patternText: 'an absolute path' }), { maxItems: MAX_MOUNTS })
      .default(['/'])
      .doc('the mount points whose use is published (statfs)'),
    // At most 20 s: a get (30 s) with a hung mount still answers, with that mount null.
    mountTimeoutMs: s
      .int({ min: 100, max: 20_000 })
      .default(5000)
      .doc(
        'a mount whose statfs has not answered in this time (a hung network mount) is null with read_failed ETIMEDOUT, and is not asked again until that call returns',
      ),
    interfaces: s
      .array(s.string({ pattern: IFNAME, patternText: 'an interface name (eth0)' }), { maxItems: 32 })
      .default(['eth0', 'wlan0'])
      .doc('the network interfaces whose byte rates are published'),
    wifi: s
      .array(s.string({ pattern: IFNAME, patternText: 'an interface name (wlan0)' }), { maxItems: 8 })
      .default(['wlan0'])
      .doc('the Wi-Fi interfaces whose signal is published (from /proc/net/wireless)'),
    throttling: s.boolean().default(true).doc('publish the Raspberry Pi firmware’s throttling flags (HA binary sensors)'),
  });
}

/** Mounts ProtectHome= hides from the sandboxed service: statfs there sees an empty inaccessible directory. */
const HIDDEN = /^\/(home|root|run\/user)(\/|$)/;

export const hostKind = defineKind<HostOptions, HostDevice>({
  kind: 'host',
  title: 'this machine: CPU temperature, throttling, load, memory, disks, network, Wi-Fi, boot time, board (from /proc and /sys)',
  options,
  commands: {
    get: command({
      description: 'read everything now and publish it',
      args: s.none(),
      timeoutMs: 30_000,
      run: (d) => d.get(),
    }),
  },
  events: {
    read_failed: 'one item could not be read ({what, error}: device_error with its errno); once per new error, that item is null',
    read_ok: 'the item ({what}) reads again after read_failed',
  },
  warnings(o) {
    return o.wifi
      .filter((w) => !o.interfaces.includes(w))
      .map((w) => `wifi ${w} is not in interfaces: its signal is published, its rates not`);
  },
  sim: async (ctx) => (await import('./sim.js')).hostSim(ctx),
  create: (ctx) => new HostDevice(ctx),
  homeassistant: hostEntities,
  sandbox: (o): SandboxNeeds => {
    const hidden = o.mounts.filter((m) => HIDDEN.test(m));
    return hidden.length
      ? {
          notes: [
            `ProtectHome=yes hides ${hidden.join(', ')} from the service: its use reads as an empty directory's. Add ProtectHome=read-only in an override to publish it.`,
          ],
        }
      : {};
  },
  probe: hostProbe,
});
