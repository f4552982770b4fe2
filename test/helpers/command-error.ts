/** The contract's error body of a command that must fail (what the agent would publish as `error`). */
import { toErrorBody, type ErrorBody } from '../../src/devices/errors.js';

export async function failure(run: Promise<unknown>): Promise<ErrorBody> {
  try {
    await run;
  } catch (e) {
    return toErrorBody(e);
  }
  throw new Error('expected the command to fail, and it succeeded');
}
