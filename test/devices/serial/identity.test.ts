/**
 * The modem's identity (option `identify`): the 27.007 answers as modems
 * word them, asked once per open through the AT engine (the sim modem here),
 * given up after the first query a device does not answer, kept while the
 * modem is away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SerialDevice } from '../../../src/devices/serial/device.js';
import { identify, infoValue } from '../../../src/devices/serial/identity.js';
import { serialKind } from '../../../src/devices/serial/index.js';
import { SIM_IDENTITY } from '../../../src/devices/serial/sim/at-model.js';
import { SerialSimKernel } from '../../../src/devices/serial/sim/kernel.js';
import { makeTestDevice, type TestDevice } from '../../helpers/device-context.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function sim(
  options: Record<string, unknown> = { identify: true },
): Promise<{ t: TestDevice<SerialDevice>; kernel: SerialSimKernel }> {
  const t = await makeTestDevice(serialKind, { sim: true, options });
  cleanup.push(() => t.abort.abort());
  cleanup.push(() => t.device.close());
  if (!(t.ctx.kernel instanceof SerialSimKernel)) throw new Error('expected the sim kernel');
  return { t, kernel: t.ctx.kernel };
}

describe('serial: modem identity', () => {
  it.each([
    [['Quectel'], 'Quectel'],
    [['+CGMI: "SIMCOM INCORPORATED"'], 'SIMCOM INCORPORATED'],
    [['Revision: EC25EFAR06A06M4G'], 'EC25EFAR06A06M4G'],
    [['', '866758042123456'], '866758042123456'],
    [['+CGSN: "866758042123456"'], '866758042123456'],
  ])('reads %j as %s', (lines, value) => {
    expect(infoValue({ final: 'OK', lines })).toBe(value);
  });

  it('takes nothing from an answer that is not OK or has no line', () => {
    expect(infoValue({ final: 'ERROR', lines: ['x'] })).toBeUndefined();
    expect(infoValue({ final: 'OK', lines: [] })).toBeUndefined();
  });

  it('stops at the first query that is not answered', async () => {
    const asked: string[] = [];
    const found = await identify(async (command) => {
      asked.push(command);
      if (command === 'AT+CGMM') throw new Error('timeout');
      return { final: 'OK', lines: ['Acme'] };
    });
    expect(found).toEqual({ manufacturer: 'Acme' });
    expect(asked).toEqual(['AT+CGMI', 'AT+CGMM']);
  });

  it('asks the modem at open and keeps the answer in the state while the modem is away', async () => {
    const { t } = await sim();
    await t.device.open();
    expect(t.device.state().modem).toEqual({
      manufacturer: SIM_IDENTITY.manufacturer,
      model: SIM_IDENTITY.model,
      revision: SIM_IDENTITY.revision,
      imei: SIM_IDENTITY.imei,
    });
    await t.device.close();
    expect(t.device.state().modem).toMatchObject({ model: SIM_IDENTITY.model });
  });

  it('asks nothing with identify off (the default)', async () => {
    const { t } = await sim({});
    await t.device.open();
    expect(t.device.state()).toMatchObject({ modem: null, txBytes: 0 });
  });

  it('opens a device that answers nothing, after one unanswered query', async () => {
    const { t, kernel } = await sim();
    kernel.modem.stall(true);
    await t.device.open();
    expect(t.device.state()).toMatchObject({ open: true, modem: null, txBytes: 'AT+CGMI\r'.length });
  });
});
