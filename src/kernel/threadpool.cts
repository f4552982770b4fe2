/**
 * koffi's `.async` calls (our blocking requests) run on the libuv thread pool,
 * which Node also uses for fs, dns and crypto. A rewind or a TIOCMIWAIT holds a
 * pool thread for minutes, so the pool gets one thread per device that may
 * block on top of libuv's default four.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the pool first starts, and Node's
 * ES module loader starts it before any module body runs. So this file is
 * CommonJS: the `dev2mqtt` launcher (launch.cts) sizes the pool from the config
 * before it loads the ES modules.
 */
const LIBUV_DEFAULT = 4;
const LIBUV_MAX = 1024;

export interface PoolPlan {
  readonly size: number;
  /** False when the environment already asked for at least this many threads. */
  readonly changed: boolean;
}

export function planThreadPool(blockingDevices: number, env: NodeJS.ProcessEnv = process.env): PoolPlan {
  const wanted = Math.min(LIBUV_MAX, LIBUV_DEFAULT + Math.max(0, Math.trunc(blockingDevices)));
  const current = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  if (Number.isFinite(current) && current >= wanted) return { size: current, changed: false };
  env.UV_THREADPOOL_SIZE = String(wanted);
  return { size: wanted, changed: true };
}

/**
 * Devices that may hold a pool thread: every device on real hardware (sim
 * models answer in JavaScript). Counted from the raw config, before validation,
 * so a bad file still reaches check-config's full report.
 */
export function devicesThatMayBlock(config: unknown): number {
  if (typeof config !== 'object' || config === null) return 0;
  const devices = (config as { devices?: unknown }).devices;
  if (!Array.isArray(devices)) return 0;
  return devices.filter((d) => typeof d === 'object' && d !== null && (d as { sim?: unknown }).sim !== true).length;
}
