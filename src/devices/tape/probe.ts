/**
 * What `dev2mqtt probe` finds of tape drives: every non-rewinding /dev/nstN
 * with the SCSI vendor, model and revision the st driver's class device
 * links to (space-padded INQUIRY fields), each in the starter config.
 */
import { defineProbe, type ProbeHost, type StarterDevice } from '../kind.js';

export interface TapeFound {
  readonly path: string;
  readonly name: string;
  readonly vendor: string | undefined;
  readonly model: string | undefined;
  readonly revision: string | undefined;
}

async function scan(host: ProbeHost): Promise<TapeFound[]> {
  const found: TapeFound[] = [];
  for (const name of (await host.dev.list('').catch(() => [])).filter((n) => /^nst\d+$/.test(n))) {
    const dev = `class/scsi_tape/${name}/device`;
    const attr = (a: string): Promise<string | undefined> => host.sysfs.value(`${dev}/${a}`).catch(() => undefined);
    const vendor = await attr('vendor');
    if (vendor === undefined) host.problem(`${name}: no SCSI vendor/model under ${host.sysfs.path(dev)}`);
    found.push({ path: host.dev.path(name), name, vendor, model: await attr('model'), revision: await attr('rev') });
  }
  return found;
}

export const tapeProbe = defineProbe<TapeFound>({
  key: 'tapes',
  heading: (host) => `Tape drives (${host.dev.path('nst*')})`,
  scan,
  describe: (found) =>
    found.map(
      (t) => `  ${t.path}  ${[t.vendor, t.model].filter(Boolean).join(' ') || 'unknown drive'}${t.revision ? ` (rev ${t.revision})` : ''}`,
    ),
  starter: (found): StarterDevice[] =>
    found.map((tape) => {
      const what = [tape.vendor, tape.model].filter(Boolean).join(' ');
      return { name: tape.name.replace(/^nst/, 'tape'), title: what ? `Tape ${what}` : `Tape ${tape.name}`, options: { path: tape.path } };
    }),
});
