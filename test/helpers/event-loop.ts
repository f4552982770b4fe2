/** What a test asks of the event loop: whether it kept turning while something was pending. */

/** Counts event-loop turns while `work` is pending: a blocked loop counts none. */
export async function turnsDuring<T>(work: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = (): void => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const value = await work;
  done = true;
  return { value, turns };
}
