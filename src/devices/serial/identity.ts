/**
 * Who the modem is, asked once per open where the option `identify` says
 * the device is an AT modem (off by default: other serial devices must not
 * get AT commands they did not ask for): 27.007's
 * +CGMI (manufacturer), +CGMM (model), +CGMR (firmware revision) and +CGSN
 * (IMEI, the serial number). These say what ATI says, in one answer each
 * instead of ATI's vendor-specific layout. The first query a device does not
 * answer with OK ends the asking: something that is not a modem costs one
 * short timeout.
 */
import type { AtAnswer } from './at-engine.js';

export interface ModemIdentity {
  readonly manufacturer?: string;
  readonly model?: string;
  readonly revision?: string;
  readonly imei?: string;
}

const QUERIES = [
  ['manufacturer', 'AT+CGMI'],
  ['model', 'AT+CGMM'],
  ['revision', 'AT+CGMR'],
  ['imei', 'AT+CGSN'],
] as const;

/** How long each query may take: a modem answers these from memory. */
export const IDENTIFY_TIMEOUT_MS = 2000;

/** The information line of an answer: `+CGMI: "Quectel"`, `Quectel`, `Revision: EC25EFAR06A06M4G` → the value. */
export function infoValue(answer: AtAnswer): string | undefined {
  const line = answer.lines.map((l) => l.trim()).find((l) => l !== '');
  if (answer.final !== 'OK' || line === undefined) return undefined;
  const value = line
    .replace(/^\+?[A-Z]+\s*:\s*/i, '')
    .replace(/^"(.*)"$/, '$1')
    .trim();
  return value || undefined;
}

export async function identify(run: (command: string, timeoutMs: number) => Promise<AtAnswer>): Promise<ModemIdentity> {
  const out: Record<string, string> = {};
  for (const [field, command] of QUERIES) {
    let value: string | undefined;
    try {
      value = infoValue(await run(command, IDENTIFY_TIMEOUT_MS));
    } catch {
      value = undefined;
    }
    if (value === undefined) break;
    out[field] = value;
  }
  return out;
}
