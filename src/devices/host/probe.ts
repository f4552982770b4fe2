/**
 * What `dev2mqtt probe` says of the node itself, and the one `host` device
 * of the starter config, filled with what this machine has: the mounts that
 * hold data (from /proc/mounts), the network interfaces (loopback and
 * container bridges left out), those with Wi-Fi (in /proc/net/wireless),
 * whether the firmware's throttled bits are there, and which zone the CPU
 * temperature would be read from.
 */
import { defineProbe, type ProbeHost, type StarterDevice } from '../kind.js';
import { thermalZones } from '../sensor/thermal.js';
import { boardModel, cpuZone, MAX_MOUNTS, throttledPath } from './device.js';
import { parseMounts, parseNetDev, parseWireless } from './readings.js';

export interface HostFound {
  readonly model: string | undefined;
  /** The CPU's thermal zone (its type, or thermal_zoneN). */
  readonly zone: string | undefined;
  /** Where get_throttled is, when the firmware driver has one. */
  readonly throttled: string | undefined;
  readonly mounts: readonly string[];
  readonly interfaces: readonly string[];
  readonly wifi: readonly string[];
}

/** Interfaces no one charts: loopback, container and VM bridges, their veth ends, the kernel's tunnel and shaping stubs. */
const VIRTUAL_IF =
  /^(lo|docker\d*|br-[0-9a-f]+|veth[0-9a-f]+|virbr\d+(-nic)?|cni\d*|flannel\.\d+|tailscale\d+|zt[0-9a-z]+|ifb\d+|dummy\d+|sit\d+|tunl\d+|ip6tnl\d+|gre\d+|gretap\d+|erspan\d+|ip6gre\d+|ip_vti\d+|ip6_vti\d+)$/;

async function text(host: ProbeHost, rel: string, what: string): Promise<string> {
  return host.procfs.read(rel).catch((e: unknown) => {
    host.problem(`host: ${what}: ${(e as Error).message}`);
    return '';
  });
}

async function scan(host: ProbeHost): Promise<HostFound[]> {
  const zone = cpuZone(await thermalZones(host.sysfs));
  const wireless = (await host.procfs.exists('net/wireless'))
    ? parseWireless(await text(host, 'net/wireless', 'Wi-Fi'))
    : new Map<string, never>();
  const mounts = parseMounts(await text(host, 'mounts', 'mounts'));
  if (mounts.length > MAX_MOUNTS) {
    host.problem(`host: ${mounts.length} mounts hold data; the starter config has the first ${MAX_MOUNTS} (the most a host device takes)`);
  }
  return [
    {
      model: await boardModel(host.sysfs),
      zone: zone ? (zone.type ?? zone.zone) : undefined,
      throttled: await throttledPath(host.sysfs).then((p) => (p ? host.sysfs.path(p) : undefined)),
      mounts: mounts.slice(0, MAX_MOUNTS),
      interfaces: [...parseNetDev(await text(host, 'net/dev', 'network')).keys()].filter((i) => !VIRTUAL_IF.test(i)),
      wifi: [...wireless.keys()],
    },
  ];
}

function describe(found: readonly HostFound[]): string[] {
  return found.flatMap((f) => [
    `  board        ${f.model ?? '(no device-tree model or DMI)'}`,
    `  temperature  ${f.zone ? `thermal zone ${f.zone}` : 'no thermal zone'}`,
    `  throttling   ${f.throttled ?? 'no get_throttled (not a Raspberry Pi, or a kernel without it)'}`,
    `  disks        ${f.mounts.join(', ') || 'none'}`,
    `  network      ${f.interfaces.join(', ') || 'none'}`,
    `  Wi-Fi        ${f.wifi.join(', ') || 'none'}`,
  ]);
}

export const hostProbe = defineProbe<HostFound>({
  key: 'host',
  heading: (host) => `This machine (${host.procfs.root}, ${host.sysfs.root})`,
  scan,
  describe,
  starter: (found, host): StarterDevice[] =>
    found.map((f) => ({
      name: 'host',
      title: f.model ?? 'This machine',
      options: {
        mounts: f.mounts,
        interfaces: f.interfaces,
        wifi: f.wifi,
        throttling: f.throttled !== undefined,
        ...(host.sysfs.root !== '/sys' ? { sysfsRoot: host.sysfs.root } : {}),
        ...(host.procfs.root !== '/proc' ? { procRoot: host.procfs.root } : {}),
      },
    })),
});
