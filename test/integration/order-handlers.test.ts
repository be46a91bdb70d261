import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../functions/domain/fingerprint';
import { OrderStatus } from '../../functions/domain/order-status';
import { installSdkInstrumentation } from '../../lib/local/runtime/sdk-instrumentation';
import {
  createTestTables,
  putOrderBeforeIssue21,
  type TestTables,
  useTablesForHandlers,
} from '../support/dynamodb';
import { httpEvent } from '../support/http-events';
import { lambdaContext } from '../support/payment-window';

type Handler = (event: unknown, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let tables: TestTables;
let createOrder: Handler;
let getOrder: Handler;
let cancelOrder: Handler;

const body = {
  customerId: 'customer-1',
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
};

beforeAll(async () => {
  tables = await createTestTables();
  useTablesForHandlers(tables, { PAYMENT_TIMEOUT_SECONDS: '60' });
  createOrder = (await import('../../functions/http/create-order')).handler as unknown as Handler;
  getOrder = (await import('../../functions/http/get-order')).handler as unknown as Handler;
  cancelOrder = (await import('../../functions/http/cancel-order')).handler as unknown as Handler;
});

/** `customer` is the token's subject; `null` sends a request no authorizer verified. */
function post(
  payload: unknown,
  headers: Record<string, string> = {},
  customer: string | null = 'customer-1',
) {
  return createOrder(
    httpEvent({
      method: 'POST',
      path: '/orders',
      routeKey: 'POST /orders',
      body: JSON.stringify(payload),
      headers: { 'content-type': 'application/json', ...headers },
      ...(customer === null ? {} : { customer }),
    }),
    lambdaContext,
  );
}

function get(orderId: string, customer = 'customer-1') {
  return getOrder(
    httpEvent({
      method: 'GET',
      path: `/orders/${orderId}`,
      routeKey: 'GET /orders/{orderId}',
      pathParameters: { orderId },
      customer,
    }),
    lambdaContext,
  );
}

function cancel(orderId: string, customer = 'customer-1') {
  return cancelOrder(
    httpEvent({
      method: 'POST',
      path: `/orders/${orderId}/cancel`,
      routeKey: 'POST /orders/{orderId}/cancel',
      pathParameters: { orderId },
      customer,
    }),
    lambdaContext,
  );
}

function json(response: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(response.body ?? 'null') as Record<string, unknown>;
}

async function countItems(): Promise<number> {
  const { Count } = await tables.client.send(
    new (await import('@aws-sdk/client-dynamodb')).ScanCommand({
      TableName: tables.ordersTableName,
      Select: 'COUNT',
    }),
  );
  return Count ?? 0;
}

describe('order handlers against DynamoDB Local', () => {
  it('creates an order with its first timeline entry, conditionally', async () => {
    const response = await post(body);

    expect(response.statusCode).toBe(201);
    const order = json(response);
    expect(order).toMatchObject({
      status: 'PENDING_PAYMENT',
      totalAmount: 2500,
      currency: 'EUR',
      items: body.items,
    });
    const orderId = String(order.orderId);
    expect(response.headers?.location).toBe(`/orders/${orderId}`);
    expect(Date.parse(String(order.paymentDeadline)) - Date.parse(String(order.createdAt))).toBe(60_000);
    const stored = await tables.documentClient.send(
      new QueryCommand({
        TableName: tables.ordersTableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': `ORDER#${orderId}` },
      }),
    );
    expect(stored.Items?.map((item) => item.SK)).toEqual(['ORDER']);
    expect(stored.Items?.[0]?.history).toEqual([
      { t: 'PENDING_PAYMENT', a: Date.parse(String(order.createdAt)), r: 'order placed' },
    ]);
  });

  it('creates an order with one write, and with an idempotency key with two, of one unit each and one for the index', async () => {
    const instrumentation = installSdkInstrumentation();
    instrumentation.takeUsage();

    const plain = await post(body);
    const withoutKey = instrumentation.takeUsage();
    const keyed = await post(body, { 'idempotency-key': `count-${Date.now()}` });
    const withKey = instrumentation.takeUsage();

    expect([plain.statusCode, keyed.statusCode]).toEqual([201, 201]);
    expect(withoutKey).toEqual({
      'DynamoDB:PutItem': { requests: 1, readCapacityUnits: 0, writeCapacityUnits: 2 },
    });
    expect(withKey).toEqual({
      'DynamoDB:PutItem': { requests: 2, readCapacityUnits: 0, writeCapacityUnits: 3 },
    });
  });

  it('writes the order of a key whose request stopped between its two writes, once, under the key`s order id', async () => {
    // What a request leaves when it dies after claiming the key (the record the code before issue 21 wrote in
    // its transaction has this very shape).
    const key = `stopped-${Date.now()}`;
    const orderId = ulid();
    await tables.documentClient.send(
      new PutCommand({
        TableName: tables.ordersTableName,
        Item: {
          PK: `IDEMPOTENCY#customer-1#${key}`,
          SK: 'IDEMPOTENCY',
          entityType: 'IdempotencyKey',
          orderId,
          requestFingerprint: fingerprint({ ...body, customerId: 'customer-1' }),
          expiresAt: Math.floor(Date.now() / 1000) + 3600,
        },
      }),
    );

    const completed = await post(body, { 'idempotency-key': key });
    const replay = await post(body, { 'idempotency-key': key });
    const reused = await post({ ...body, currency: 'USD' }, { 'idempotency-key': key });

    expect(completed.statusCode).toBe(201);
    expect(json(completed)).toMatchObject({ orderId, status: 'PENDING_PAYMENT' });
    expect(replay.statusCode).toBe(200);
    expect(json(replay).orderId).toBe(orderId);
    expect(reused.statusCode).toBe(422);
    expect(json(await get(orderId)).history).toHaveLength(1);
  });

  it('reads and moves an order item written before issue 21 (long timeline entries, stored times)', async () => {
    const orderId = ulid();
    await putOrderBeforeIssue21(tables, {
      orderId,
      customerId: 'customer-1',
      items: body.items,
      paymentDeadline: '2026-11-28T10:30:00.000Z',
      timeline: [{ to: OrderStatus.PENDING_PAYMENT, at: '2026-11-28T10:00:00.000Z', reason: 'order placed' }],
      extra: { pendingShard: 'PENDING#0', pendingDeadline: `2026-11-28T10:30:00.000Z#${orderId}` },
    });

    const before = json(await get(orderId));
    const cancelled = await cancel(orderId);
    const after = json(await get(orderId));

    expect(before).toMatchObject({
      orderId,
      status: 'PENDING_PAYMENT',
      createdAt: '2026-11-28T10:00:00.000Z',
      updatedAt: '2026-11-28T10:00:00.000Z',
      history: [{ status: 'PENDING_PAYMENT', at: '2026-11-28T10:00:00.000Z' }],
    });
    expect(cancelled.statusCode).toBe(200);
    expect(after).toMatchObject({
      status: 'CANCELLED',
      createdAt: '2026-11-28T10:00:00.000Z',
      updatedAt: json(cancelled).updatedAt,
      history: [
        { status: 'PENDING_PAYMENT', at: '2026-11-28T10:00:00.000Z' },
        { status: 'CANCELLED', at: json(cancelled).updatedAt },
      ],
    });
  });

  it('reads an order with its history, and cancels it once', async () => {
    const orderId = String(json(await post(body)).orderId);

    const cancelled = await cancel(orderId);
    const again = await cancel(orderId);
    const read = json(await get(orderId));

    expect(cancelled.statusCode).toBe(200);
    expect(json(cancelled).status).toBe('CANCELLED');
    expect(again.statusCode).toBe(409);
    expect(json(again).code).toBe('INVALID_TRANSITION');
    expect(read.status).toBe('CANCELLED');
    expect((read.history as { status: string }[]).map((entry) => entry.status)).toEqual([
      'PENDING_PAYMENT',
      'CANCELLED',
    ]);
  });

  it('answers 404 problem details for unknown and malformed order ids', async () => {
    const unknown = await get('01JZZZZZZZZZZZZZZZZZZZZZZZ');
    const malformed = await cancel('not-an-id');

    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers?.['content-type']).toBe('application/problem+json');
    expect(json(unknown).code).toBe('ORDER_NOT_FOUND');
    expect(malformed.statusCode).toBe(404);
  });

  it('replays an idempotent create and refuses the key with another body, writing nothing more', async () => {
    const key = `key-${Date.now()}`;

    const first = await post(body, { 'idempotency-key': key });
    const itemsAfterFirst = await countItems();
    const replay = await post({ ...body, items: [...body.items] }, { 'idempotency-key': key });
    const reused = await post({ ...body, currency: 'USD' }, { 'idempotency-key': key });
    const itemsAfterAll = await countItems();

    expect(first.statusCode).toBe(201);
    expect(replay.statusCode).toBe(200);
    expect(json(replay).orderId).toBe(json(first).orderId);
    expect(reused.statusCode).toBe(422);
    expect(json(reused).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(itemsAfterAll).toBe(itemsAfterFirst);
  });

  it('creates exactly one order for concurrent requests with the same idempotency key', async () => {
    const key = `race-${Date.now()}`;

    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(body, { 'idempotency-key': key })),
    );

    const orderIds = new Set(responses.map((response) => json(response).orderId));
    expect(orderIds.size).toBe(1);
    expect(responses.filter((response) => response.statusCode === 201)).toHaveLength(1);
    expect(responses.filter((response) => response.statusCode === 200)).toHaveLength(9);
    const keyItem = await tables.documentClient.send(
      new GetCommand({
        TableName: tables.ordersTableName,
        Key: { PK: `IDEMPOTENCY#customer-1#${key}`, SK: 'IDEMPOTENCY' },
      }),
    );
    expect(keyItem.Item?.orderId).toBe([...orderIds][0]);
  });

  it('rejects bad requests without writing anything', async () => {
    const before = await countItems();

    const invalid = await post({ ...body, items: [{ sku: 'X', quantity: 0, unitPrice: 1 }] });
    const badCurrency = await post({ ...body, currency: 'ABC' });
    const badKey = await post(body, { 'idempotency-key': 'has space' });

    expect(invalid.statusCode).toBe(400);
    expect(json(invalid)).toMatchObject({
      code: 'VALIDATION_FAILED',
      errors: [{ path: 'items/0/quantity' }],
    });
    expect(badCurrency.statusCode).toBe(400);
    expect(badKey.statusCode).toBe(400);
    expect(await countItems()).toBe(before);
  });

  it('takes the customer from the token: customerId may be left out, and must match when sent', async () => {
    const before = await countItems();

    const withoutCustomerId = await post({ currency: 'EUR', items: body.items }, {}, 'customer-7');
    const itemsAfterCreate = await countItems();
    const mismatch = await post(body, {}, 'customer-7');
    const unauthenticated = await post(body, {}, null);

    expect(withoutCustomerId.statusCode).toBe(201);
    expect(itemsAfterCreate).toBeGreaterThan(before);
    const stored = await tables.documentClient.send(
      new GetCommand({
        TableName: tables.ordersTableName,
        Key: { PK: `ORDER#${String(json(withoutCustomerId).orderId)}`, SK: 'ORDER' },
      }),
    );
    expect(stored.Item?.customerId).toBe('customer-7');
    expect(mismatch.statusCode).toBe(403);
    expect(json(mismatch)).toMatchObject({ status: 403, code: 'CUSTOMER_MISMATCH' });
    expect(unauthenticated.statusCode).toBe(401);
    expect(json(unauthenticated).code).toBe('UNAUTHENTICATED');
    expect(await countItems()).toBe(itemsAfterCreate);
  });

  it("answers another customer's order as unknown, for reading and cancelling, and leaves it unchanged", async () => {
    const orderId = String(json(await post(body)).orderId);
    const missing = json(await get('01JZZZZZZZZZZZZZZZZZZZZZZZ', 'customer-2'));

    const read = await get(orderId, 'customer-2');
    const cancelled = await cancel(orderId, 'customer-2');
    const own = json(await get(orderId));

    expect(read.statusCode).toBe(404);
    expect(cancelled.statusCode).toBe(404);
    for (const answer of [json(read), json(cancelled)]) {
      expect({ ...answer, detail: undefined }).toEqual({ ...missing, detail: undefined });
      expect(answer.detail).toBe(`order ${orderId} does not exist`);
    }
    expect(own).toMatchObject({ orderId, status: 'PENDING_PAYMENT', updatedAt: own.createdAt });
    expect((own.history as unknown[]).length).toBe(1);
  });

  it("keeps customers' idempotency keys apart", async () => {
    const key = `shared-${Date.now()}`;

    const first = await post(body, { 'idempotency-key': key }, 'customer-1');
    const second = await post(
      { ...body, customerId: 'customer-2' },
      { 'idempotency-key': key },
      'customer-2',
    );

    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(json(second).orderId).not.toBe(json(first).orderId);
  });
});
