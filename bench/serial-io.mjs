// How the serial kind should move bytes without blocking the event loop, measured
// on a pty (its master driven from this process through the core):
//   poll   — DeviceFile.watch (uv_poll through koffi) + non-blocking read(2): what SerialPort does
//   stream — Node's tty.ReadStream on the tty descriptor (a libuv uv_tty stream)
//   pool   — fs.read on a blocking descriptor (each waiting read holds a libuv pool thread)
// Figures only, no assertions: latency of an 8-byte AT line, throughput and CPU per MiB.
import fs from 'node:fs';
import tty from 'node:tty';
import { fileURLToPath } from 'node:url';
import { flags, percentile, printRows, row, within } from './lib.mjs';
import { LibcKernel } from '../dist/kernel/libc.js';
import { openPty } from '../dist/kernel/pty.js';
import { O } from '../dist/kernel/kernel.js';
import { SerialPort } from '../dist/devices/serial/port.js';
import { PortTermios } from '../dist/devices/serial/termios-io.js';

const SETTINGS = { baud: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false };
const LINE = Buffer.from('AT+CSQ\r\n');

/** Raw mode as the agent's port sets it, through whichever termios interface the kernel answers. */
function applyRaw(file, arch) {
  PortTermios.open(file, arch).termios.apply(SETTINGS);
}

/** The master side: writes `data` as fast as the pty takes it. */
function pump(master, data) {
  return new Promise((resolve) => {
    let off = 0;
    let watch;
    const go = () => {
      while (off < data.length) {
        const n = master.write(data.subarray(off, off + 65536));
        if (n === null) {
          watch ??= master.watch({ readable: false, writable: true }, go);
          return;
        }
        off += n;
      }
      watch?.stop();
      resolve();
    };
    go();
  });
}

/** Each reader: start(onData) → stop(). */
const readers = {
  poll(kernel, slavePath) {
    let onData = () => {};
    const { port } = SerialPort.open(kernel, slavePath, SETTINGS, {
      exclusive: true,
      stats: { rxBytes: 0, txBytes: 0 },
      handlers: { data: (b) => onData(b), lost: () => {} },
    });
    return {
      start: (f) => {
        onData = f;
      },
      stop: () => port.close(),
    };
  },
  stream(kernel, slavePath) {
    const file = kernel.open(slavePath, O.RDWR | O.NOCTTY | O.NONBLOCK);
    applyRaw(file, kernel.arch);
    const before = fdFlags(file.fd);
    const s = new tty.ReadStream(file.fd);
    reopened = fdFlags(file.fd) !== before;
    s.pause();
    return {
      start: (f) => {
        s.on('data', f);
        s.resume();
      },
      stop: () => {
        s.destroy();
      },
    };
  },
  pool(kernel, slavePath) {
    const fd = fs.openSync(slavePath, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
    applyRaw(kernel.adopt(fd, slavePath), kernel.arch);
    let running = true;
    const buf = Buffer.alloc(4096);
    return {
      start: (f) => {
        const next = () =>
          fs.read(fd, buf, 0, buf.length, null, (err, n) => {
            if (err || n === 0 || !running) return;
            f(Buffer.from(buf.subarray(0, n)));
            next();
          });
        next();
      },
      // The blocked read returns once the master closes (EIO); only then may fd close.
      stop: () => {
        running = false;
      },
      closeAfterMaster: () => fs.closeSync(fd),
    };
  },
};

let reopened = false;
function fdFlags(fd) {
  try {
    return /flags:\s*(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

async function latency(kind, n) {
  const kernel = new LibcKernel();
  const { master, slavePath } = openPty(kernel);
  const r = readers[kind](kernel, slavePath);
  const samples = [];
  let got = 0;
  let wake = () => {};
  r.start((b) => {
    got += b.length;
    if (got >= LINE.length) wake();
  });
  try {
    for (let i = 0; i < n; i++) {
      got = 0;
      const done = new Promise((res) => {
        wake = res;
      });
      const t0 = process.hrtime.bigint();
      master.write(LINE);
      await within(done, 30_000, `line ${i} through the pty (${kind} reader)`);
      samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  } finally {
    // Also after a give-up: the pool reader's blocked read ends only when the master closes, and a
    // pool thread left blocked would keep the process from exiting.
    await r.stop();
    master.close();
    r.closeAfterMaster?.();
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(kind, bytes) {
  const kernel = new LibcKernel();
  const { master, slavePath } = openPty(kernel);
  const r = readers[kind](kernel, slavePath);
  let got = 0;
  let wake = () => {};
  r.start((b) => {
    got += b.length;
    if (got >= bytes) wake();
  });
  const done = new Promise((res) => {
    wake = res;
  });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let s;
  let cpu;
  try {
    await within(
      pump(master, Buffer.alloc(bytes, 0x55)).then(() => done),
      120_000,
      `${bytes} bytes through the pty (${kind} reader)`,
    );
    s = Number(process.hrtime.bigint() - t0) / 1e9;
    cpu = process.cpuUsage(cpu0);
  } finally {
    await r.stop();
    master.close();
    r.closeAfterMaster?.();
  }
  const mib = bytes / 2 ** 20;
  return { mibPerS: mib / s, cpuMsPerMib: (cpu.user + cpu.system) / 1000 / mib };
}

export async function runSerialIoBench() {
  const n = flags.quick ? 300 : 3000;
  const bytes = (flags.quick ? 8 : 64) * 2 ** 20;
  const rows = [];
  for (const kind of ['poll', 'stream', 'pool']) {
    await latency(kind, 100); // warm-up
    const l = await latency(kind, n);
    const t = await throughput(kind, bytes);
    rows.push(
      row('serial-io', `${kind}: 8-byte line, p50`, l.p50, 'µs'),
      row('serial-io', `${kind}: 8-byte line, p99`, l.p99, 'µs'),
      row('serial-io', `${kind}: throughput`, t.mibPerS, 'MiB/s'),
      row('serial-io', `${kind}: CPU per MiB`, t.cpuMsPerMib, 'ms'),
    );
  }
  rows.push(row('serial-io', 'stream: descriptor re-opened by name', reopened ? 1 : 0, 'yes=1'));
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await runSerialIoBench();
  if (flags.json) console.log(JSON.stringify(rows, null, 2));
  else printRows(rows, { title: 'serial I/O: uv_poll vs tty stream vs thread pool' });
}
