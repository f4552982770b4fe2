/**
 * A device's context, as the runtime (and the kind test helper) hands it to
 * `kind.create`: the sim parts when the device asks for `sim` (the kind's
 * sim module is imported only then), otherwise the real kernel and the real
 * sysfs/procfs under the device's `sysfsRoot`/`procRoot` options. The real
 * parts are made on first use: an LED never loads the FFI core.
 */
import { FsSysfs } from '../kernel/sysfs-fs.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Sysfs } from '../kernel/sysfs.js';
import type { AnyKind, Device, DeviceContext, SimContext, SimParts } from './kind.js';

/** What the context is built from: everything but the kernel and the trees. */
export type ContextBase = SimContext<unknown> & Pick<DeviceContext<unknown>, 'poll'>;

function rootOption(options: unknown, key: 'sysfsRoot' | 'procRoot'): string | undefined {
  const v = (options as Record<string, unknown> | null | undefined)?.[key];
  return typeof v === 'string' && v ? v : undefined;
}

/**
 * Loads the sim (when asked) and builds the context; `libc` makes the real
 * kernel on first use. `given` parts (a test's own kernel or tree) stand in
 * for the kind's sim, which is then not loaded.
 */
export async function deviceContext(
  kind: AnyKind,
  base: ContextBase,
  libc: () => Kernel,
  given?: SimParts,
): Promise<DeviceContext<unknown>> {
  const sim: SimParts = given ?? (base.sim && kind.sim ? await kind.sim(base) : {});
  let sysfs: Sysfs | undefined = sim.sysfs;
  let procfs: Sysfs | undefined = sim.procfs;
  return {
    ...base,
    get kernel(): Kernel {
      return sim.kernel ?? libc();
    },
    get sysfs(): Sysfs {
      return (sysfs ??= new FsSysfs(rootOption(base.options, 'sysfsRoot') ?? '/sys'));
    },
    get procfs(): Sysfs {
      return (procfs ??= new FsSysfs(rootOption(base.options, 'procRoot') ?? '/proc', { toEof: true }));
    },
  };
}

/** The context and the kind's device made in it. */
export async function createDevice(
  kind: AnyKind,
  base: ContextBase,
  libc: () => Kernel,
): Promise<{ ctx: DeviceContext<unknown>; device: Device }> {
  const ctx = await deviceContext(kind, base, libc);
  return { ctx, device: kind.create(ctx) as Device };
}
