/** What the machine tests read off a machine: the service's properties, the files install.sh owns, the journal. */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import type { Machine } from '../helpers/machine.js';
import type { Received, TestClient } from '../helpers/mqtt-client.js';

export interface ServiceState {
  readonly ActiveState: string;
  readonly SubState: string;
  readonly MainPID: string;
  readonly StatusText: string;
  readonly NRestarts: string;
}

export async function service(m: Machine): Promise<ServiceState> {
  const out = await m.must('systemctl show dev2mqtt.service -p ActiveState -p SubState -p MainPID -p StatusText -p NRestarts');
  const props = Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return props as unknown as ServiceState;
}

/** How often systemd has started the service since the machine booted. */
export async function journalStarts(m: Machine): Promise<number> {
  const out = await m.must('journalctl -q -b -u dev2mqtt.service -o cat --no-pager _PID=1');
  return out.split('\n').filter((l) => l.startsWith('Started dev2mqtt.service')).length;
}

/**
 * Every file and directory install.sh writes, and the accounts, each with its type, mode and owner (and a
 * file's size, modification time and link target): two snapshots differ exactly where something was written.
 */
export async function snapshot(m: Machine): Promise<Map<string, string>> {
  const out = await m.must(
    'find /etc/dev2mqtt /etc/systemd/system/dev2mqtt.service /etc/systemd/system/dev2mqtt.service.d ' +
      '/etc/systemd/system/multi-user.target.wants/dev2mqtt.service /etc/udev/rules.d /usr/local/bin/dev2mqtt ' +
      '/usr/local/lib /etc/passwd /etc/group /etc/shadow /etc/gshadow ' +
      // A directory's own mtime and size say only that an entry came and went (a staged agent, a checked config).
      String.raw`\( -type d -printf '%p %y %m %u:%g\n' \) -o -printf '%p %y %m %u:%g %s %T@ %l\n' 2>/dev/null || true`,
  );
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf(' ')), l]),
  );
}

/** A matcher for messages that arrived after the first `mark` ones. */
export function afterMark(client: TestClient, mark: number, match: (m: Received) => boolean): (m: Received) => boolean {
  return (m) => client.messages.indexOf(m) >= mark && match(m);
}

/** Copies tarballs to /root of the machine and unpacks each one's deploy/ into /root/<version>/package/deploy. */
export async function unpackTarballs(m: Machine, tarballs: readonly string[]): Promise<void> {
  for (const t of tarballs) {
    const name = path.basename(t);
    const version = /^dev2mqtt-(.+)\.tgz$/.exec(name)![1]!;
    copyFileSync(t, path.join(m.root, 'root', name));
    await m.must(`mkdir -p /root/${version} && tar -xzf /root/${name} -C /root/${version} package/deploy`);
  }
}
