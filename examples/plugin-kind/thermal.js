// A dev2mqtt plug-in: a device kind in one file. It reads a thermal zone of the
// Linux thermal class — every Raspberry Pi has /sys/class/thermal/thermal_zone0 —
// and publishes the SoC temperature. Load it with `"plugins": ["./thermal.js"]`
// (paths are relative to the config file) and a device
// `{"id": "soc", "kind": "thermal", "options": {"zone": 0}}`.
//
// Plain JavaScript on purpose: a plug-in needs no build step. Types are in
// dev2mqtt's own declarations (DeviceKind in dist/devices/kind.d.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CommandError, command, defineKind, s } from 'dev2mqtt';

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

  create(ctx) {
    const file = path.join(ctx.options.sysfsRoot, 'class', 'thermal', `thermal_zone${ctx.options.zone}`, 'temp');
    let timer;
    const dev = {
      celsius: null,
      threshold: null,
      async read() {
        let text;
        if (ctx.sim) {
          // A calm SoC: 45 °C give or take a degree.
          text = String(45_000 + Math.round(Math.sin(Date.now() / 60_000) * 1000));
        } else {
          try {
            text = await readFile(file, 'utf8');
          } catch (e) {
            if (e.code === 'ENOENT') ctx.lost(e);
            throw e; // becomes device_error with errno (ENOENT, EACCES …)
          }
        }
        const milli = Number.parseInt(text, 10);
        if (!Number.isFinite(milli)) throw new CommandError('device_error', `${file} holds "${text.trim()}", not millidegrees`);
        const before = dev.celsius;
        dev.celsius = milli / 1000;
        if (dev.threshold !== null && dev.celsius > dev.threshold && (before === null || before <= dev.threshold)) {
          ctx.emit('hot', { celsius: dev.celsius, threshold: dev.threshold });
        }
        if (before !== dev.celsius) ctx.stateChanged();
      },
      async open() {
        await dev.read();
        timer = setInterval(() => void ctx.enqueue('poll', () => dev.read()).catch(() => undefined), ctx.options.pollMs);
      },
      async close() {
        clearInterval(timer);
      },
      state() {
        return { celsius: dev.celsius, threshold: dev.threshold };
      },
    };
    return dev;
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
