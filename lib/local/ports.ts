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
