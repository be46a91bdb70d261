import { createServer } from 'node:net';

/**
 * Asks the kernel for a free loopback port, so that two local systems and the test suite can run side by side.
 * The port is released before it is returned; a process that binds it a moment later can, rarely, lose a race
 * with another process, and then fails loudly on bind rather than sharing a port.
 */
export async function findFreePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a listening socket'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Binds tried before a lost port race is reported. */
const BIND_ATTEMPTS = 3;

/**
 * Runs `start` on a free loopback port, again on a new port when `lostRace(error)` says another process took the
 * port between the kernel naming it and the server binding it; any other failure, or the last, is thrown.
 */
export async function startOnFreePort<T>(
  start: (port: number) => Promise<T>,
  lostRace: (error: unknown) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await findFreePort();
    try {
      return await start(port);
    } catch (error) {
      if (!lostRace(error) || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
}
