import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import Stripe from 'stripe';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestTables, type TestTables, useTablesForHandlers } from '../support/dynamodb';
import { httpEvent } from '../support/http-events';
import { lambdaContext } from '../support/payment-window';

type Handler = (event: unknown, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

const SECRET = 'whsec_handler_test_secret';

let tables: TestTables;
let webhook: Handler;

beforeAll(async () => {
  tables = await createTestTables();
  // The provider is never called here: an event for an intent no order holds is settled from the table alone.
  useTablesForHandlers(tables, {
    PAYMENT_WEBHOOK_SECRET: SECRET,
    PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9',
    PAYMENT_PROVIDER_API_KEY: 'sk_test_never_used',
  });
  webhook = (await import('../../functions/http/payment-webhook')).handler as unknown as Handler;
});

function stripeEvent(id: string, type: string, object: Record<string, unknown>): string {
  return JSON.stringify({
    id,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    api_version: Stripe.API_VERSION,
    livemode: false,
    pending_webhooks: 1,
    data: { object },
  });
}

function deliver(payload: string, signature: string | undefined) {
  return webhook(
    httpEvent({
      method: 'POST',
      path: '/webhooks/payments',
      routeKey: 'POST /webhooks/payments',
      body: payload,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...(signature === undefined ? {} : { 'Stripe-Signature': signature }),
      },
    }),
    lambdaContext,
  );
}

function sign(payload: string, options: { secret?: string; timestamp?: number } = {}): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SECRET,
    ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
  });
}

function json(response: APIGatewayProxyStructuredResultV2): Record<string, unknown> {
  return JSON.parse(response.body ?? 'null') as Record<string, unknown>;
}

async function itemCount(): Promise<number> {
  const scan = await tables.client.send(
    new ScanCommand({ TableName: tables.ordersTableName, Select: 'COUNT' }),
  );
  return scan.Count ?? 0;
}

describe('POST /webhooks/payments', () => {
  it('applies an event Stripe signed: one for an intent no order holds is unmatched, then a duplicate', async () => {
    const payload = stripeEvent('evt_unmatched_1', 'payment_intent.succeeded', {
      id: 'pi_nobody_knows',
      object: 'payment_intent',
      metadata: { orderId: '01JD0000000000000000000009' },
    });

    const first = await deliver(payload, sign(payload));
    const again = await deliver(payload, sign(payload));

    expect(first.statusCode).toBe(200);
    expect(json(first)).toEqual({ received: true, outcome: 'unmatched' });
    expect(json(again)).toEqual({ received: true, outcome: 'duplicate' });
  });

  it.each([
    ['signed with another secret', (payload: string) => sign(payload, { secret: 'whsec_wrong' })],
    [
      'signed more than 300 s ago',
      (payload: string) => sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
    ],
    ['not signed at all', () => undefined],
  ])('refuses an event %s with 401 and writes nothing', async (_case, signature) => {
    const payload = stripeEvent('evt_refused', 'payment_intent.succeeded', {
      id: 'pi_refused',
      object: 'payment_intent',
      metadata: {},
    });
    const before = await itemCount();

    const response = await deliver(payload, signature(payload));

    expect(response.statusCode).toBe(401);
    expect(json(response)).toMatchObject({ code: 'INVALID_SIGNATURE' });
    expect(await itemCount()).toBe(before);
  });

  it.each([
    ['no event at all', '{}'],
    ['an array', '[]'],
    [
      'a payment_intent event whose object has no id',
      stripeEvent('evt_no_id', 'payment_intent.succeeded', { object: 'payment_intent' }),
    ],
  ])(
    'answers a verified body that is %s with 400 VALIDATION_FAILED, writing nothing',
    async (_case, payload) => {
      const before = await itemCount();

      const response = await deliver(payload, sign(payload));

      expect(response.statusCode).toBe(400);
      expect(json(response)).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(await itemCount()).toBe(before);
    },
  );

  it('acknowledges a verified event of a type it does not handle as ignored, writing nothing', async () => {
    const payload = stripeEvent('evt_customer', 'customer.created', { id: 'cus_1', object: 'customer' });
    const before = await itemCount();

    const response = await deliver(payload, sign(payload));

    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual({ received: true, outcome: 'ignored' });
    expect(await itemCount()).toBe(before);
  });
});
