/** What `dev2mqtt probe` finds of the LED class, and the starter config: every LED, by its name. */
import type { ProbeHost, StarterDevice } from '../kind.js';
import { defineProbe } from '../kind.js';
import { parseTriggers } from './triggers.js';

export interface LedFound {
  readonly name: string;
  readonly maxBrightness: number | undefined;
  readonly trigger: string | undefined;
  readonly triggers: readonly string[];
}

const CLASS = 'class/leds';

async function scan(host: ProbeHost): Promise<LedFound[]> {
  const found: LedFound[] = [];
  for (const name of await host.sysfs.list(CLASS).catch(() => [])) {
    const dir = `${CLASS}/${name}`;
    const max = await host.sysfs.value(`${dir}/max_brightness`).catch(() => undefined);
    const triggerText = await host.sysfs.read(`${dir}/trigger`).catch(() => undefined);
    if (triggerText === undefined) host.problem(`LED ${name}: cannot read ${host.sysfs.path(`${dir}/trigger`)}`);
    const t = triggerText === undefined ? undefined : parseTriggers(triggerText);
    found.push({
      name,
      maxBrightness: max !== undefined && /^\d+$/.test(max) ? Number(max) : undefined,
      trigger: t?.selected,
      triggers: t?.available ?? [],
    });
  }
  return found;
}

export const ledProbe = defineProbe<LedFound>({
  key: 'leds',
  heading: (host) => `LEDs (${host.sysfs.path(CLASS)})`,
  scan,
  describe: (found) => found.map((l) => `  ${l.name}  trigger ${l.trigger ?? '?'}, max_brightness ${l.maxBrightness ?? '?'}`),
  starter: (found, host): StarterDevice[] =>
    found.map((led) => ({
      name: led.name,
      title: `LED ${led.name}`,
      options: {
        name: led.name,
        ...(host.sysfs.root !== '/sys' ? { sysfsRoot: host.sysfs.root } : {}),
        ...(led.maxBrightness !== undefined && led.maxBrightness !== 255 ? { maxBrightness: led.maxBrightness } : {}),
      },
    })),
});
