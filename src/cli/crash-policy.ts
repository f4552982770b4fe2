/**
 * One policy for the unexpected, in the `dev2mqtt run` process only (a
 * program embedding agents keeps its own): an uncaught exception or an
 * unhandled rejection means the agent's state can no longer be trusted, so it
 * is logged with its stack and where it came from, `offline` is published
 * while the broker can still be reached (the journal flushed first), and the
 * process exits with 70 (EX_SOFTWARE), for systemd's Restart= to start a
 * fresh one. None is expected: the storage and device fault suites check
 * that none happened.
 */
import type { Logger } from 'pino';

export const CRASH_EXIT_CODE = 70;
/** Saying goodbye may take this long; then the process exits regardless. */
const FAREWELL_MS = 2000;

export interface Farewell {
  /** Publishes `offline` and lets go of the broker and the journal, within `ms`; never throws. Whether `offline` went out. */
  farewell(ms: number): Promise<boolean>;
}

export function installCrashPolicy(
  agent: () => Farewell | undefined,
  log: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): () => void {
  let crashing = false;
  const handler =
    (origin: 'uncaughtException' | 'unhandledRejection') =>
    (e: unknown): void => {
      if (crashing) {
        log.error({ err: e, origin }, 'a further unexpected error while exiting');
        return;
      }
      crashing = true;
      log.fatal(
        { err: e, origin },
        `unexpected error (${origin}): exiting with ${CRASH_EXIT_CODE} so that the service manager restarts the agent`,
      );
      const bye = (offline: boolean): void => {
        log.info({ offlinePublished: offline }, `exiting with ${CRASH_EXIT_CODE}`);
        log.flush?.();
        exit(CRASH_EXIT_CODE);
      };
      setTimeout(() => bye(false), FAREWELL_MS + 500).unref();
      const a = agent();
      if (!a) return bye(false);
      a.farewell(FAREWELL_MS).then(bye, () => bye(false));
    };
  const onException = handler('uncaughtException');
  const onRejection = handler('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
