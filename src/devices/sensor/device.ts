/**
 * One sensor input as a device. open() finds the input by the names in the
 * options (a renumbered hwmon chip is found again by its name); a poll reads
 * it every `readMs` through the device's queue, off the event loop (a 1-wire
 * read takes 750 ms and holds only this device). The state carries the last
 * *published* reading: a new reading is published when it moved by
 * `minDelta` or when `intervalMs` has passed since the last one, whichever
 * comes first, so a fleet of noisy sensors does not flood a recorder. A read
 * that fails leaves the state as it was: `get` answers the error
 * (`device_error` with its errno), a failing poll emits `read_failed` once
 * per new error; an input that is gone (ENOENT, ENODEV) takes the device
 * offline until it is found again (ENXIO, a chip that does not answer on its
 * bus, is a failed read: its files are still there).
 */
import { CommandError, isDisconnect } from '../errors.js';
import type { Device, DeviceContext, Poll } from '../kind.js';
import { hwmonSource } from './hwmon.js';
import { iioSource } from './iio.js';
import { QUANTITIES, tidy } from './quantities.js';
import type { SensorSource, SourceOptions } from './source.js';
import { thermalSource } from './thermal.js';
import { w1Source } from './w1.js';

export interface SensorOptions extends SourceOptions {
  readonly sysfsRoot: string;
  readonly readMs: number;
  readonly intervalMs: number;
  readonly minDelta?: number | undefined;
  readonly scale: number;
  readonly offset: number;
  readonly simValue?: number | undefined;
  readonly simConversionMs?: number | undefined;
}

export interface SensorSettings {
  readMs: number;
  intervalMs: number;
  minDelta: number;
}

interface Published {
  readonly value: number;
  readonly ts: number;
}

/** What a `sim: true` device is when its options name nothing: one of each source's inputs, as sim.ts builds it. */
export const SIM_DEFAULTS = {
  chip: 'sim',
  input: 'temp1',
  zone: 'thermal_zone0',
  id: '28-00000a1b2c3d',
  device: 'iio:device0',
  channel: 'in_humidityrelative',
} as const;

/** The names a sim device's options leave out, filled in with SIM_DEFAULTS. */
export function simNames(o: SourceOptions): Required<Omit<SourceOptions, 'source'>> {
  return {
    chip: o.chip ?? SIM_DEFAULTS.chip,
    input: o.input ?? SIM_DEFAULTS.input,
    zone: o.zone ?? SIM_DEFAULTS.zone,
    id: o.id ?? SIM_DEFAULTS.id,
    device: o.device ?? SIM_DEFAULTS.device,
    channel: o.channel ?? SIM_DEFAULTS.channel,
  };
}

/** The kind's defaults when the options leave them out: the quantity's minDelta. */
export function defaultMinDelta(o: SensorOptions, source: SensorSource | undefined): number {
  return o.minDelta ?? (source ? QUANTITIES[source.quantity].minDelta : 0);
}

export async function findSource(ctx: DeviceContext<SensorOptions>, seenChip: string | undefined): Promise<SensorSource> {
  const o: SourceOptions = ctx.sim ? { ...ctx.options, ...simNames(ctx.options) } : ctx.options;
  const need = (v: string | undefined, key: string): string => {
    if (v === undefined) throw new CommandError('bad_args', `source ${o.source} needs ${key}`);
    return v;
  };
  switch (o.source) {
    case 'hwmon':
      return hwmonSource(ctx.sysfs, need(o.chip, 'chip'), need(o.input, 'input'), seenChip);
    case 'thermal':
      return thermalSource(ctx.sysfs, need(o.zone, 'zone'));
    case 'w1':
      return w1Source(ctx.sysfs, need(o.id, 'id'));
    case 'iio':
      return iioSource(ctx.sysfs, need(o.device, 'device'), need(o.channel, 'channel'));
  }
}

export class SensorDevice implements Device {
  #source: SensorSource | undefined;
  /** The hwmon chip's name when it was configured as hwmonN: a different chip there later is refused. */
  #seenChip: string | undefined;
  #published: Published | undefined;
  #poll: Poll | undefined;
  #open = false;
  #lastError: string | undefined;
  readonly settings: SensorSettings;

  constructor(private readonly ctx: DeviceContext<SensorOptions>) {
    const o = ctx.options;
    this.settings = { readMs: o.readMs, intervalMs: o.intervalMs, minDelta: o.minDelta ?? 0 };
  }

  async open(): Promise<void> {
    const source = await findSource(this.ctx, this.#seenChip);
    if (this.ctx.options.source === 'hwmon' && /^hwmon\d+$/.test(this.ctx.options.chip ?? '')) this.#seenChip ??= source.chip;
    this.#source = source;
    if (this.ctx.options.minDelta === undefined) this.settings.minDelta = defaultMinDelta(this.ctx.options, source);
    this.#open = true;
    this.#startPoll();
  }

  async close(): Promise<void> {
    this.#open = false;
    this.#poll?.stop();
    this.#poll = undefined;
  }

  state(): Record<string, unknown> {
    const s = this.#source;
    const q = s ? QUANTITIES[s.quantity] : undefined;
    return {
      value: this.#published?.value ?? null,
      unit: q?.unit ?? null,
      ts: this.#published?.ts ?? null,
      quantity: s?.quantity ?? null,
      label: s?.label ?? null,
      source: this.ctx.options.source,
      path: s?.path ?? null,
      ...this.settings,
    };
  }

  /** A poll's read: published when it moved by minDelta or intervalMs has passed. */
  async sample(): Promise<number> {
    const value = await this.#read();
    const p = this.#published;
    const now = Date.now();
    const moved = p !== undefined && value !== p.value && Math.abs(value - p.value) >= this.settings.minDelta;
    if (p === undefined || moved || now - p.ts >= this.settings.intervalMs) this.#publish(value, now);
    return value;
  }

  /** `get`: read now and publish whatever it is. */
  async get(): Promise<Record<string, unknown>> {
    this.#publish(await this.#read(), Date.now());
    return this.state();
  }

  configure(change: Partial<SensorSettings>): Record<string, unknown> {
    const restart = change.readMs !== undefined && change.readMs !== this.settings.readMs;
    Object.assign(this.settings, change);
    if (restart && this.#open) this.#startPoll();
    this.ctx.stateChanged();
    return { ...this.settings };
  }

  #startPoll(): void {
    this.#poll?.stop();
    this.#poll = this.ctx.poll('read', this.settings.readMs, () => this.sample(), {
      now: true,
      // A 1-wire conversion stalled on a bad bus takes long; a later tick is not queued behind it.
      timeoutMs: Math.max(10_000, this.settings.readMs),
      onResult: () => {
        if (this.#lastError !== undefined) this.ctx.emit('read_ok', { value: this.#published?.value ?? null });
        this.#lastError = undefined;
      },
      onError: (error) => {
        const key = `${error.code}/${error.errno ?? ''}/${error.message}`;
        if (key === this.#lastError) return;
        this.#lastError = key;
        this.ctx.log.warn({ error }, 'sensor read failed');
        this.ctx.emit('read_failed', { error });
      },
    });
  }

  async #read(): Promise<number> {
    const source = this.#source;
    if (!source) throw new CommandError('unavailable', `${this.ctx.id}: the sensor is not open`);
    let raw: number;
    try {
      raw = await source.read();
    } catch (e) {
      // The input itself went away (a 1-wire sensor unplugged, a driver unbound): offline until found again.
      // ENXIO from a read is the chip not answering on its bus (an I²C NACK) while its driver and files stay:
      // a reopen would find the input at once and go online only to fail again, so it is a failed read.
      if (this.#open && isDisconnect(e) && (e as { code?: unknown }).code !== 'ENXIO') this.ctx.lost(e as Error);
      throw e;
    }
    return tidy(raw * this.ctx.options.scale + this.ctx.options.offset, source.quantity);
  }

  #publish(value: number, ts: number): void {
    this.#published = { value, ts };
    this.ctx.stateChanged();
  }
}
