/**
 * An hwmon input (`/sys/class/hwmon/hwmonN/<type><n>_input`). hwmonN numbers
 * are handed out in probe order and change across boots (and when a driver
 * is reloaded), so a chip is found by its `name` — or by its parent device
 * (`1-0044`, `nvme0`), which tells two chips of the same name apart — and
 * `hwmonN` is taken as given only when the options say `hwmonN`. Older
 * drivers keep their attributes in the parent device's directory
 * (`hwmonN/device/`); both places are looked in, as libsensors does.
 */
import type { Sysfs } from '../../kernel/sysfs.js';
import { HWMON_INPUT, HWMON_TYPES, tidy } from './quantities.js';
import { ambiguous, entries, linkName, notFound, type SensorSource } from './source.js';

const CLASS = 'class/hwmon';

export interface HwmonChip {
  /** `hwmon3`. */
  readonly dir: string;
  readonly name: string | undefined;
  /** The parent device's name (`1-0044`), when the chip has one. */
  readonly device: string | undefined;
}

export async function hwmonChips(sysfs: Sysfs): Promise<HwmonChip[]> {
  const out: HwmonChip[] = [];
  for (const dir of await entries(sysfs, CLASS, /^hwmon\d+$/)) {
    const at = `${CLASS}/${dir}`;
    const name = await sysfs.value(`${at}/name`).catch(() => sysfs.value(`${at}/device/name`).catch(() => undefined));
    out.push({ dir, name, device: await linkName(sysfs, `${at}/device`) });
  }
  return out;
}

/** Where a chip's attributes are: its class directory, or its device's for drivers of old. */
export async function attrDir(sysfs: Sysfs, chip: string, attr: string): Promise<string | undefined> {
  for (const dir of [`${CLASS}/${chip}`, `${CLASS}/${chip}/device`]) if (await sysfs.exists(`${dir}/${attr}`)) return dir;
  return undefined;
}

async function findChip(sysfs: Sysfs, want: string): Promise<HwmonChip> {
  const chips = await hwmonChips(sysfs);
  const show = chips.map((c) => `${c.dir} (${c.name ?? '?'})`);
  if (/^hwmon\d+$/.test(want)) {
    const c = chips.find((x) => x.dir === want);
    if (!c) throw notFound(sysfs.path(CLASS), `hwmon chip ${want}`, show);
    return c;
  }
  const byName = chips.filter((c) => c.name === want);
  const hits = byName.length ? byName : chips.filter((c) => c.device === want);
  if (hits.length === 1) return hits[0] as HwmonChip;
  if (hits.length > 1) {
    throw ambiguous(
      `hwmon chip '${want}'`,
      hits.map((c) => `${c.dir} (device ${c.device ?? '?'})`),
      'name the chip by its device instead',
    );
  }
  throw notFound(sysfs.path(CLASS), `hwmon chip '${want}'`, show);
}

export async function hwmonSource(sysfs: Sysfs, chipName: string, input: string, seen: string | undefined): Promise<SensorSource> {
  const m = HWMON_INPUT.exec(input);
  const type = m ? HWMON_TYPES[m[1] as string] : undefined;
  if (!type) throw new Error(`hwmon input '${input}' is not temp1, in0, fan1, curr1, power1, energy1 or humidity1 …`);
  const chip = await findChip(sysfs, chipName);
  // A chip configured as hwmonN that is now another chip: the numbers moved (a reboot, a reloaded driver).
  if (seen !== undefined && chip.name !== seen) {
    throw new Error(`${chip.dir} is now '${chip.name ?? '?'}', it was '${seen}': hwmon numbers moved; name the chip ('${seen}') instead`);
  }
  // Power meters that average (amdgpu, some PMBus chips) have power1_average and no power1_input.
  const file = m?.[1] === 'power' ? [`${input}_input`, `${input}_average`] : [`${input}_input`];
  let dir: string | undefined;
  let attr = file[0] as string;
  for (const f of file) {
    dir = await attrDir(sysfs, chip.dir, f);
    if (dir) {
      attr = f;
      break;
    }
  }
  if (!dir) {
    const have = (await sysfs.list(`${CLASS}/${chip.dir}`).catch(() => [])).filter((n) => /_input$/.test(n));
    throw notFound(sysfs.path(`${CLASS}/${chip.dir}`), `${attr}`, have);
  }
  const label = await sysfs.value(`${dir}/${input}_label`).catch(() => undefined);
  const rel = `${dir}/${attr}`;
  return {
    quantity: type.quantity,
    label: label ?? `${chip.name ?? chip.dir} ${input}`,
    path: sysfs.path(rel),
    chip: chip.name ?? chip.dir,
    read: async () => tidy((await sysfs.number(rel)) * type.factor, type.quantity),
  };
}
