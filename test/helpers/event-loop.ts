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

/** Runs `then` after the event loop has turned `n` times: a loop held by synchronous work never gets there. */
export function afterTurns<T>(n: number, then: () => T): Promise<T> {
  return new Promise((resolve) => {
    let left = n;
    const hop = (): void => {
      if (--left <= 0) resolve(then());
      else setImmediate(hop);
    };
    setImmediate(hop);
  });
}
