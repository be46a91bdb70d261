/**
 * Polls `read` until it returns a value other than `undefined`, and returns that value; throws once `timeoutMs`
 * has passed without one. Tests wait on asynchronous systems with it instead of sleeping for a fixed time.
 */
export async function eventually<T>(
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
