/** The README's "Try it" section: the commands a newcomer runs first, which tests run as written. */
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('## Try it');
const section = readme.slice(start, readme.indexOf('\n## ', start + 5));

/** Every `mosquitto_pub …` line of "Try it", verbatim (without a port: add `-p PORT`). */
export const tryItPubLines: readonly string[] = section.split('\n').filter((l) => l.startsWith('mosquitto_pub '));

/** The device a command line addresses on node `demo`, or undefined for a node command. */
export function demoDeviceOf(line: string): string | undefined {
  const topic = /-t (\S+)/.exec(line)?.[1] ?? '';
  return /^dev2mqtt\/demo\/([^/]+)\/cmd\//.exec(topic)?.[1];
}
