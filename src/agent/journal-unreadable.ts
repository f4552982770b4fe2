/**
 * A journal file that read(2) refuses at start, and what a person can do about
 * it. Two kinds of errno, handled differently (journal-file.ts):
 *  - a damaged medium: a failing SD card's bad block (EIO), or a filesystem
 *    that found its own structures or checksums broken (EUCLEAN, EBADMSG).
 *    That will not get better, and nothing of the file can be had: it is
 *    moved aside like a journal with unreadable lines, and a fresh one starts;
 *  - anything else is not the card's fault, and a person can put it right: a
 *    journal left owned by root after a run as root (EACCES), a directory or
 *    a link loop where the file should be (EISDIR, ELOOP), a path too long.
 *    The file still holds which commands ran, so it is left exactly as it is
 *    (no rename, nothing written over it); the journal degrades, saying what
 *    to do, and reads the file again with each retry until it can.
 */
import { userInfo } from 'node:os';
import path from 'node:path';

const DAMAGED_MEDIUM: ReadonlySet<string> = new Set(['EIO', 'EUCLEAN', 'EBADMSG']);

/** Whether a read error means the medium itself is damaged (moved aside), not a fixable setup (left in place). */
export const damagedMedium = (errno: string | undefined): boolean => errno !== undefined && DAMAGED_MEDIUM.has(errno);

/** This process's user, as `chown` takes it: its name where it has one, else its uid. */
function agentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (a container's DynamicUser): chown takes the number.
    return String(process.getuid?.() ?? '');
  }
}

/** What a person can do about `errno` reading `file`, in words a user can act on. */
export function remedy(errno: string | undefined, file: string): string {
  switch (errno) {
    case 'EACCES':
    case 'EPERM':
      return (
        `the agent's user (${agentUser()}) may not read it, as after a run as another user (root): ` +
        `give it to that user (chown -R ${agentUser()}: ${path.dirname(file)})`
      );
    case 'EISDIR':
      return 'it is a directory, not a journal: move it out of the way';
    case 'ELOOP':
      return 'it is a symbolic link that loops: replace it with the journal file, or remove it';
    case 'ENAMETOOLONG':
      return 'the path is too long: set node.journalDir to a shorter one';
    case 'ENOTDIR':
      return 'a part of its path is a file, not a directory: fix node.journalDir';
    case 'EMFILE':
    case 'ENFILE':
    case 'ENOMEM':
      return 'the system is short of open files or memory: it is read again once that passes';
    default:
      return 'see the errno; it is read again by itself once that is put right';
  }
}

/** The consequence part of the degraded reason while a journal file is left unread. */
export function leftUnreadReason(errno: string | undefined, file: string): string {
  return (
    `the command journal the previous run left cannot be read. It is left as it is, untouched; to fix: ${remedy(errno, file)}. ` +
    'Until it can be read, redeliveries of commands it recorded are not recognised (they may run again), none of its ' +
    'commands is run, and this run keeps its journal in memory only; it is read again, and merged, by itself. Retrying.'
  );
}
