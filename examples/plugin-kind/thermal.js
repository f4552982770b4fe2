// A dev2mqtt plug-in: a device kind in one file. It reads a thermal zone of the
// Linux thermal class — every Raspberry Pi has /sys/class/thermal/thermal_zone0 —
// and publishes the SoC temperature. Load it with `"plugins": ["./thermal.js"]`
// (paths are relative to the config file) and a device
// `{"id": "soc", "kind": "thermal", "options": {"zone": 0}}`.
//
// A plug-in has the powers of a built-in kind: the sysfs seam (ctx.sysfs, rooted
// at the device's `sysfsRoot`), the poll service (ctx.poll), a sim loaded only
// for `sim: true` devices, its sandbox needs and what `dev2mqtt probe --plugin`
// finds. docs/writing-a-kind.md walks through a built-in one (pwm).
//
// Plain JavaScript on purpose: a plug-in needs no build step. Types are in
// dev2mqtt's own declarations (DeviceKind in dist/devices/kind.d.ts).
import { CommandError, command, defineKind, s } from 'dev2mqtt';

const zoneDir = (zone) => `class/thermal/thermal_zone${zone}`;

export const kind = defineKind({
  kind: 'thermal',
  title: 'Linux thermal zone (SoC temperature)',

  // The options every device of this kind takes; `sim` devices need no hardware.
  options: () =>
    s.object({
      zone: s.int({ min: 0, max: 63 }).default(0),
      sysfsRoot: s.string().default('/sys'),
      // How often to read the sensor and publish when it changed.
      pollMs: s.int({ min: 1000, max: 3_600_000 }).default(30_000),
    }),

  events: { hot: 'the temperature crossed the alarm threshold set with `threshold`' },

  commands: {
    get: command({
      description: 'reads the temperature now',
      args: s.none(),
      run: async (dev) => {
        await dev.read();
        return dev.state();
      },
    }),
    threshold: command({
      description: 'emits a `hot` event when the temperature rises above this many °C',
      args: s.object({ celsius: s.number({ min: -40, max: 150 }) }),
      run: (dev, args) => {
        dev.threshold = args.celsius;
        return { threshold: dev.threshold };
      },
    }),
  },

  // `sim: true`: a sysfs tree in memory with one zone, a calm SoC at 45 °C give or
  // take a degree. Imported here, not at the top, so real devices never load it.
  async sim(ctx) {
    const { SimSysfs } = await import('dev2mqtt/sim');
    const sysfs = new SimSysfs();
    sysfs.file(`${zoneDir(ctx.options.zone)}/type`, 'cpu-thermal\n');
    sysfs.attr(`${zoneDir(ctx.options.zone)}/temp`, { show: () => `${45_000 + Math.round(Math.sin(Date.now() / 60_000) * 1000)}\n` });
    return { sysfs };
  },

  create(ctx) {
    const temp = `${zoneDir(ctx.options.zone)}/temp`;
    let poll;
    const dev = {
      celsius: null,
      threshold: null,
      async read() {
        let milli;
        try {
          milli = await ctx.sysfs.number(temp);
        } catch (e) {
          if (e.disconnected) ctx.lost(e);
          throw e; // a KernelError: device_error with its errno (ENOENT, EACCES, EINVAL …)
        }
        if (milli < -273_150) throw new CommandError('device_error', `${ctx.sysfs.path(temp)} holds ${milli}, not millidegrees`);
        const before = dev.celsius;
        dev.celsius = milli / 1000;
        if (dev.threshold !== null && dev.celsius > dev.threshold && (before === null || before <= dev.threshold)) {
          ctx.emit('hot', { celsius: dev.celsius, threshold: dev.threshold });
        }
        if (before !== dev.celsius) ctx.stateChanged();
      },
      async open() {
        await dev.read();
        poll = ctx.poll('read', ctx.options.pollMs, () => dev.read());
      },
      async close() {
        poll?.stop();
      },
      state() {
        return { celsius: dev.celsius, threshold: dev.threshold };
      },
    };
    return dev;
  },

  // It only reads sysfs, which the sandboxed service may: nothing to open.
  sandbox: () => ({}),

  // `dev2mqtt probe --plugin ./thermal.js` lists the zones and configures each.
  probe: {
    key: 'thermalZones',
    heading: (host) => `Thermal zones (${host.sysfs.path('class/thermal')})`,
    async scan(host) {
      const zones = [];
      for (const name of await host.sysfs.list('class/thermal').catch(() => [])) {
        const m = /^thermal_zone(\d+)$/.exec(name);
        if (!m) continue;
        const type = await host.sysfs.value(`class/thermal/${name}/type`).catch(() => '?');
        const milli = await host.sysfs.number(`class/thermal/${name}/temp`).catch(() => undefined);
        zones.push({ zone: Number(m[1]), type, celsius: milli === undefined ? null : milli / 1000 });
      }
      return zones;
    },
    describe: (zones) => zones.map((z) => `  thermal_zone${z.zone}  ${z.type}  ${z.celsius ?? '?'} °C`),
    starter: (zones, host) =>
      zones.map((z) => ({
        name: `${z.type}-${z.zone}`,
        title: `Temperature ${z.type}`,
        options: { zone: z.zone, ...(host.sysfs.root !== '/sys' ? { sysfsRoot: host.sysfs.root } : {}) },
      })),
  },

  homeassistant: (d) => [
    {
      component: 'sensor',
      name: 'Temperature',
      config: {
        state_topic: d.topics.state,
        value_template: '{{ value_json.celsius }}',
        unit_of_measurement: '°C',
        device_class: 'temperature',
        state_class: 'measurement',
      },
    },
  ],
});
