import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { fetchAs } from '../support/auth';
import { isLoopback, listeningSocketsOf } from '../support/listening-sockets';
import { descendantsOf } from '../support/processes';

function portOf(url: string): number {
  return Number(new URL(url).port);
}

// Linux only: the sockets are read from /proc (CI runs on Linux).
describe.runIf(process.platform === 'linux')('the local system as it runs', () => {
  let system: LocalSystem;

  beforeAll(async () => {
    system = await startLocalSystem({ port: 0, functionLogLevel: 'SILENT' });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('listens on loopback addresses only, DynamoDB Local (Java) and fauxqs included', async () => {
    // Prepare: a request through the gateway, so that every part has done its work once.
    const created = await fetchAs(system, 'c-loopback', '/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        customerId: 'c-loopback',
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPrice: 1 }],
      }),
    });
    const served = [
      ...Object.values(system.endpoints),
      ...[system.paymentProvider, system.warehouse, system.transport].flatMap((part) =>
        part === undefined ? [] : [part.url],
      ),
    ].map(portOf);

    // Act: this process runs the Node parts; DynamoDB Local is a child Java process.
    const sockets = listeningSocketsOf([process.pid, ...descendantsOf(process.pid)]);

    // Assess
    expect(created.status).toBe(201);
    expect(sockets.filter((socket) => !isLoopback(socket))).toEqual([]);
    const listened = new Set(sockets.map((socket) => socket.port));
    expect(served.filter((port) => !listened.has(port))).toEqual([]);
    expect(sockets).toContainEqual(
      expect.objectContaining({
        pid: system.processes.dynamodbLocal,
        port: portOf(system.endpoints.dynamodb),
      }),
    );
    expect(sockets).toContainEqual(
      expect.objectContaining({ pid: process.pid, port: portOf(system.endpoints.sqs) }),
    );
  });
});
