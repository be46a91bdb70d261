/**
 * How long a test waits for an order on a fresh system to go all the way to FULFILLED: each function on the way
 * starts its environment first, which took over 30 s at twice the suite's load on 2 cores.
 */
export const FIRST_FULFILLMENT_WAIT_MS = 50_000;

/** The longest pause between two reads: what a condition met during a pause may wait to be seen. */
const MAX_INTERVAL_MS = 100;

/**
 * Polls `read` until it returns a value other than `undefined`, and returns that value; throws once `timeoutMs`
 * has passed without one. Tests wait on asynchronous systems with it instead of sleeping for a fixed time.
 * The pause starts at `intervalMs` and grows by half after each read up to {@link MAX_INTERVAL_MS} (or
 * `intervalMs` if longer): a quick condition is seen at once, while a wait for a timer (a payment window, a
 * visibility timeout) reads a few times a second rather than forty, each read often a request through the
 * whole local system.
 */
export async function eventually<T>(
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const maxIntervalMs = Math.max(intervalMs, MAX_INTERVAL_MS);
  for (let pauseMs = intervalMs; ; pauseMs = Math.min(pauseMs * 1.5, maxIntervalMs)) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
