/**
 * A device kind for testing the agent itself: echo, sleep (honours abort),
 * fail with a chosen error, count (changes state), and a handle to make the
 * device disappear and come back.
 */
import { CommandError, ERROR_CODES } from '../../src/devices/errors.js';
import { command, defineKind, type Device, type DeviceContext } from '../../src/devices/kind.js';
import { KernelError } from '../../src/kernel/errors.js';
import { s } from '../../src/schema/schema.js';

export interface ProbeDevice extends Device {
  count: number;
  value: unknown;
  opens: number;
  present: boolean;
  /** Ends each `stuck` command now holding the device (a test's way to let go without a sleep). */
  readonly holds: Set<() => void>;
  /** The device file vanishes: the next open fails until `present` is true again. */
  unplug(): void;
  readonly ctx: DeviceContext<ProbeOptions>;
}

interface ProbeOptions {
  readonly label: string;
}

/** Every probe device created, by id, so tests can reach into them (per test file). */
export const probes = new Map<string, ProbeDevice>();

export const probeKind = defineKind<ProbeOptions, ProbeDevice>({
  kind: 'probe',
  title: 'test device',
  options: () => s.object({ label: s.string().default('probe') }),
  events: { poke: 'emitted by the poke command' },
  commands: {
    echo: command({
      description: 'returns its value',
      args: s.object({ value: s.any().optional() }),
      run: (_d, a) => ({ value: a.value ?? null }),
    }),
    count: command({
      description: 'counts',
      args: s.none(),
      run: (d: ProbeDevice) => {
        d.count++;
        d.ctx.stateChanged();
        return { count: d.count };
      },
    }),
    set: command({
      description: 'sets the value',
      args: s.object({ value: s.any() }),
      run: (d: ProbeDevice, a) => {
        d.value = a.value;
        d.ctx.stateChanged();
        return { value: d.value };
      },
    }),
    sleep: command({
      description: 'waits',
      args: s.object({ ms: s.int({ min: 0, max: 600_000 }) }),
      timeoutMs: 60_000,
      run: (_d, a, ctx) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve({ slept: a.ms }), a.ms);
          ctx.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(t);
              reject(new CommandError('canceled', 'aborted'));
            },
            { once: true },
          );
        }),
    }),
    hang: command({
      description: 'never returns on its own, gives up when aborted',
      args: s.none(),
      timeoutMs: 200,
      run: (_d, _a, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => reject(new CommandError('canceled', 'aborted')), { once: true });
        }),
    }),
    stuck: command({
      description: 'holds the device for ms even when aborted (a kernel call that cannot be interrupted), or until the test releases it',
      args: s.object({ ms: s.int({ min: 0, max: 600_000 }) }),
      timeoutMs: 100,
      run: (d: ProbeDevice, a) =>
        new Promise((resolve) => {
          const release = (): void => {
            clearTimeout(t);
            d.holds.delete(release);
            resolve({ held: a.ms });
          };
          const t = setTimeout(release, a.ms);
          d.holds.add(release);
        }),
    }),
    fail: command({
      description: 'fails',
      args: s.object({ code: s.enum(ERROR_CODES).optional(), errno: s.string().optional() }),
      run: (_d, a) => {
        if (a.errno) throw KernelError.of(a.errno, { syscall: 'ioctl', request: 'TESTIOCTL', path: '/dev/probe' });
        throw new CommandError(a.code ?? 'device_error', 'asked to fail');
      },
    }),
    poke: command({
      description: 'emits an event',
      args: s.none(),
      run: (d: ProbeDevice) => {
        d.ctx.emit('poke', { count: d.count });
        return {};
      },
    }),
    unplug: command({
      description: 'the device goes away',
      args: s.none(),
      run: (d: ProbeDevice) => {
        d.unplug();
        throw KernelError.of('ENODEV', { syscall: 'read', path: '/dev/probe' });
      },
    }),
  },
  create(ctx) {
    const dev: ProbeDevice = {
      ctx,
      count: 0,
      value: null,
      opens: 0,
      present: true,
      holds: new Set(),
      unplug() {
        this.present = false;
        ctx.lost(KernelError.of('ENODEV', { syscall: 'read', path: '/dev/probe' }));
      },
      async open() {
        if (!this.present) throw KernelError.of('ENOENT', { syscall: 'open', path: '/dev/probe' });
        this.opens++;
      },
      async close() {},
      state() {
        return { count: this.count, value: this.value, label: ctx.options.label };
      },
    };
    probes.set(ctx.id, dev);
    return dev;
  },
  homeassistant: (d) => [
    { component: 'sensor', name: null, config: { state_topic: d.topics.state, value_template: '{{ value_json.count }}' } },
  ],
});
