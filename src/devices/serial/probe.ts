/**
 * What `dev2mqtt probe` finds of serial ports: /dev/ttyUSB*, ttyACM*, ttyAMA*
 * and the ttyS* that have a UART behind them, with their driver and stable
 * /dev/serial/by-id names. The starter config takes the USB ones (by their
 * by-id name: stable across reboots) and leaves the built-in UARTs out: one
 * is often the serial console, which an agent holding the port would cut off.
 */
import { defineProbe, type ProbeHost, type StarterDevice } from '../kind.js';

export interface SerialFound {
  readonly path: string;
  readonly name: string;
  readonly driver: string | undefined;
  readonly byId: string | undefined;
}

const SERIAL = /^tty(USB|ACM|AMA|S)\d+$/;
const USB = /^tty(USB|ACM)/;
const basename = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

async function scan(host: ProbeHost): Promise<SerialFound[]> {
  const byId = new Map<string, string>();
  for (const name of await host.dev.list('serial/by-id').catch(() => [])) {
    const target = await host.dev.readlink(`serial/by-id/${name}`).catch(() => undefined);
    if (target) byId.set(basename(target), host.dev.path(`serial/by-id/${name}`));
  }
  const found: SerialFound[] = [];
  for (const name of (await host.dev.list('').catch(() => [])).filter((n) => SERIAL.test(n))) {
    const sys = `class/tty/${name}`;
    const driverLink = await host.sysfs.readlink(`${sys}/device/driver`).catch(() => undefined);
    const driver = driverLink ? basename(driverLink) : undefined;
    if (name.startsWith('ttyS')) {
      // The 8250 driver registers ttyS0…ttyS31 whether or not a UART is there: keep the ones with a driver and a port type.
      if (!driver) continue;
      const type = await host.sysfs.value(`${sys}/type`).catch(() => undefined);
      if (type !== undefined && type === '0') continue;
    }
    found.push({ path: host.dev.path(name), name, driver, byId: byId.get(name) });
  }
  return found;
}

export const serialProbe = defineProbe<SerialFound>({
  key: 'serial',
  heading: () => 'Serial ports',
  scan,
  describe(found) {
    const uarts = found.filter((p) => !USB.test(p.name)).map((p) => p.name);
    return [
      ...found.map((p) => `  ${p.path}  ${p.driver ?? 'no driver'}${p.byId ? `  ${p.byId}` : ''}`),
      ...(uarts.length ? [`  (built-in UARTs ${uarts.join(', ')} are not in the starter config: one may be the serial console)`] : []),
    ];
  },
  starter: (found): StarterDevice[] =>
    found
      .filter((p) => USB.test(p.name))
      .map((port) => ({
        name: port.name,
        title: `Serial ${port.name}${port.driver ? ` (${port.driver})` : ''}`,
        options: { path: port.byId ?? port.path, baud: 115200 },
      })),
});
