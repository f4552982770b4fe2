/**
 * What `dev2mqtt probe` finds of PWM: every /sys/class/pwm/pwmchipN with its
 * parent device and channel count, and the channels exported now with what
 * they output. None goes into the starter config: a PWM output drives a fan,
 * a heater or a motor as easily as an LED strip, and a guess could start one.
 */
import { defineProbe, type ProbeHost } from '../kind.js';
import { PwmChannel, type PwmReading } from './channel.js';

export interface PwmChipFound {
  readonly chip: string;
  readonly device: string | undefined;
  readonly npwm: number | undefined;
  /** The exported channels, with what they output (undefined: could not be read). */
  readonly exported: ReadonlyArray<{ readonly channel: number } & Partial<PwmReading>>;
}

const CLASS = 'class/pwm';

async function scan(host: ProbeHost): Promise<PwmChipFound[]> {
  const found: PwmChipFound[] = [];
  for (const chip of (await host.sysfs.list(CLASS).catch(() => [])).filter((n) => /^pwmchip\d+$/.test(n))) {
    const dir = `${CLASS}/${chip}`;
    const device = await host.sysfs.readlink(`${dir}/device`).then(
      (l) => l.slice(l.lastIndexOf('/') + 1),
      () => undefined,
    );
    const npwm = await host.sysfs.number(`${dir}/npwm`).catch(() => undefined);
    if (npwm === undefined) host.problem(`${chip}: cannot read ${host.sysfs.path(`${dir}/npwm`)}`);
    const exported = [];
    for (const entry of await host.sysfs.list(dir).catch(() => [])) {
      const m = /^pwm(\d+)$/.exec(entry);
      if (!m) continue;
      const channel = Number(m[1]);
      const reading = await new PwmChannel(host.sysfs, chip, channel).read().catch((e: unknown) => {
        host.problem(`${chip}/${entry}: ${(e as Error).message}`);
        return {};
      });
      exported.push({ channel, ...reading });
    }
    found.push({ chip, device, npwm, exported });
  }
  return found;
}

function describeChip(c: PwmChipFound): string[] {
  const head = `  ${c.chip}  ${c.device ?? 'no device'}  ${c.npwm ?? '?'} channel(s), ${c.exported.length} exported`;
  const channels = c.exported.map((e) =>
    e.periodNs === undefined
      ? `      pwm${e.channel}: unreadable`
      : `      pwm${e.channel}: ${e.enabled ? 'enabled' : 'disabled'}, period ${e.periodNs} ns, duty ${e.dutyNs} ns, ${e.polarity}`,
  );
  return [head, ...channels];
}

export const pwmProbe = defineProbe<PwmChipFound>({
  key: 'pwmchips',
  heading: (host) => `PWM chips (${host.sysfs.path(CLASS)})`,
  scan,
  describe: (found) => found.flatMap(describeChip),
});
