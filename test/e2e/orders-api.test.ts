import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { localClientConfig } from '../support/local-aws';
import { requestAs, startTestSystem } from '../support/local-system';

let system: LocalSystem;
let dynamodb: DynamoDBClient;

const order = {
  customerId: 'customer-42',
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 3, unitPrice: 1299 }],
};

beforeAll(async () => {
  system = await startTestSystem({ settings: { PAYMENT_TIMEOUT_SECONDS: '120' } });
  dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
});

afterAll(async () => {
  dynamodb?.destroy();
  await system?.stop();
});

function request(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  return requestAs(system, order.customerId, method, path, body, headers);
}

async function storedItemCount(): Promise<number> {
  const { Count } = await dynamodb.send(new ScanCommand({ TableName: 'orders', Select: 'COUNT' }));
  return Count ?? 0;
}

describe('orders over HTTP through the local gateway', () => {
  it('creates, reads and cancels an order', async () => {
    const created = await request('POST', '/orders', JSON.stringify(order));
    const orderId = String(created.body.orderId);
    const read = await request('GET', `/orders/${orderId}`);
    const cancelled = await request('POST', `/orders/${orderId}/cancel`);
    const cancelledAgain = await request('POST', `/orders/${orderId}/cancel`);
    const readAfter = await request('GET', `/orders/${orderId}`);

    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'PENDING_PAYMENT',
      totalAmount: 3897,
      currency: 'EUR',
      items: order.items,
    });
    expect(
      Date.parse(String(created.body.paymentDeadline)) - Date.parse(String(created.body.createdAt)),
    ).toBe(120_000);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      orderId,
      status: 'PENDING_PAYMENT',
      history: [{ status: 'PENDING_PAYMENT' }],
    });
    expect(cancelled).toMatchObject({ status: 200, body: { orderId, status: 'CANCELLED' } });
    expect(cancelledAgain).toMatchObject({
      status: 409,
      contentType: 'application/problem+json',
      body: { code: 'INVALID_TRANSITION', status: 409 },
    });
    expect((readAfter.body.history as { status: string }[]).map((entry) => entry.status)).toEqual([
      'PENDING_PAYMENT',
      'CANCELLED',
    ]);
  });

  it('answers a repeated Idempotency-Key with the same order and refuses it with another body', async () => {
    const headers = { 'Idempotency-Key': `e2e-${Date.now()}` };

    const first = await request('POST', '/orders', JSON.stringify(order), headers);
    const countAfterFirst = await storedItemCount();
    const repeat = await request(
      'POST',
      '/orders',
      JSON.stringify({ items: order.items, currency: 'EUR', customerId: 'customer-42' }),
      headers,
    );
    const different = await request(
      'POST',
      '/orders',
      JSON.stringify({ ...order, currency: 'USD' }),
      headers,
    );

    expect(first.status).toBe(201);
    expect(repeat.status).toBe(200);
    expect(repeat.body.orderId).toBe(first.body.orderId);
    expect(different).toMatchObject({ status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(await storedItemCount()).toBe(countAfterFirst);
  });

  it.each([
    {
      name: 'malformed JSON',
      send: () => request('POST', '/orders', '{"customerId":'),
      status: 400,
      code: 'MALFORMED_JSON',
    },
    {
      name: 'invalid fields',
      send: () => request('POST', '/orders', JSON.stringify({ ...order, items: [] })),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a wrong content type',
      send: () => request('POST', '/orders', JSON.stringify(order), { 'content-type': 'text/plain' }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a body over 16 KiB',
      send: () => request('POST', '/orders', JSON.stringify({ ...order, customerId: 'x'.repeat(17_000) })),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'an unknown order',
      send: () => request('POST', '/orders/01JZZZZZZZZZZZZZZZZZZZZZZZ/cancel'),
      status: 404,
      code: 'ORDER_NOT_FOUND',
    },
  ])('rejects $name with $status $code and writes nothing', async ({ send, status, code }) => {
    const before = await storedItemCount();

    const response = await send();

    expect(response).toMatchObject({
      status,
      contentType: 'application/problem+json',
      body: { status, code },
    });
    expect(typeof response.body.detail).toBe('string');
    expect(await storedItemCount()).toBe(before);
  });

  it('answers 404 for an unknown order and for a route that does not exist', async () => {
    const unknown = await request('GET', '/orders/01JZZZZZZZZZZZZZZZZZZZZZZZ');
    const noRoute = await request('DELETE', '/orders');

    expect(unknown).toMatchObject({ status: 404, body: { code: 'ORDER_NOT_FOUND' } });
    expect(noRoute).toMatchObject({ status: 404, body: { message: 'Not Found' } });
  });
});
