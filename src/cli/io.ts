/** What a CLI command writes to, so tests can run commands in-process. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress bars, pretty logs). */
  readonly isTTY: boolean;
}

export const processIo: CommandIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: Boolean(process.stdout.isTTY),
};

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
