import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { keys } from '../../functions/adapters/dynamodb-table';
import { signatureHeader } from '../../functions/domain/webhook-signature';
import type { LocalSchedulerSnapshot } from '../../lib/local/aws/scheduler/server';
import type { FakePaymentProvider, FakeRefund } from '../../lib/local/outside-parties/payment-provider';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { ORDERS_TABLE, PAYMENT_WEBHOOK_SECRET } from '../../lib/model';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { type HttpAnswer, type OrderView, requestAs, startTestSystem } from '../support/local-system';

/**
 * The payment window over real HTTP: prepay, signed provider webhooks, refunds of money an order cannot keep,
 * and the payment timeout with its lease. Two local systems: one whose orders time out after 3 s (with a
 * sweeper every second), one whose orders stay payable for 10 minutes.
 */

const SHORT_TIMEOUT_SECONDS = 3;

const orderBody = {
  customerId: 'customer-payments',
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
};
const ORDER_TOTAL = 2500;

interface ProviderEventJson {
  readonly id: string;
  readonly type: 'payment.succeeded' | 'payment.failed' | 'refund.succeeded';
  readonly data: {
    readonly paymentId: string;
    readonly orderId: string;
    readonly amount: number;
    readonly currency: string;
  };
}

/** One local system and what a test needs of it. */
class Harness {
  public readonly table: DynamoDBDocumentClient;
  public readonly leases: DynamoDbLeaseStore;

  public constructor(public readonly system: LocalSystem) {
    this.table = DynamoDBDocumentClient.from(
      new DynamoDBClient(localClientConfig(system.endpoints.dynamodb)),
    );
    this.leases = new DynamoDbLeaseStore({ client: this.table, tableName: ORDERS_TABLE });
  }

  public get provider(): FakePaymentProvider {
    const provider = this.system.paymentProvider;
    if (provider === undefined) throw new Error('the local system started no fake payment provider');
    return provider;
  }

  public get secret(): string {
    const secret = this.system.secrets[PAYMENT_WEBHOOK_SECRET];
    if (secret === undefined) throw new Error(`the local system has no ${PAYMENT_WEBHOOK_SECRET}`);
    return secret;
  }

  public async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer<T>> {
    return await requestAs<T>(this.system, orderBody.customerId, method, path, body, headers);
  }

  public async createOrder(): Promise<OrderView> {
    const created = await this.request<OrderView>('POST', '/orders', JSON.stringify(orderBody));
    if (created.status !== 201) throw new Error(`creating an order answered ${created.status}`);
    return created.body;
  }

  public async order(orderId: string): Promise<OrderView> {
    const read = await this.request<OrderView>('GET', `/orders/${orderId}`);
    if (read.status !== 200) throw new Error(`reading order ${orderId} answered ${read.status}`);
    return read.body;
  }

  /** Posts `rawBody` to the webhook, signed with the system's secret now, unless told otherwise. */
  public async webhook(
    rawBody: string,
    signature: { header?: string | undefined; secret?: string; timestamp?: number } = {},
  ): Promise<HttpAnswer<Record<string, unknown>>> {
    const timestamp = signature.timestamp ?? Math.floor(Date.now() / 1000);
    const header =
      'header' in signature
        ? signature.header
        : signatureHeader(signature.secret ?? this.secret, rawBody, timestamp);
    return await this.request(
      'POST',
      '/webhooks/payments',
      rawBody,
      header === undefined ? {} : { 'payment-signature': header },
    );
  }

  public async stored(key: { PK: string; SK: string }): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.table.send(
      new GetCommand({ TableName: ORDERS_TABLE, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  public refundsOf(paymentId: string): FakeRefund[] {
    return this.provider.refunds().filter((refund) => refund.paymentId === paymentId);
  }

  public async schedules(): Promise<LocalSchedulerSnapshot> {
    return (await this.request<LocalSchedulerSnapshot>('GET', '/_local/schedules')).body;
  }

  public async stop(): Promise<void> {
    this.table.destroy();
    await this.system.stop();
  }
}

let short: Harness;
let long: Harness;

beforeAll(async () => {
  const started = await Promise.allSettled([
    startTestSystem({
      settings: { PAYMENT_TIMEOUT_SECONDS: String(SHORT_TIMEOUT_SECONDS) },
      scheduleRatesSeconds: { sweeper: 1 },
    }),
    startTestSystem({ settings: { PAYMENT_TIMEOUT_SECONDS: '600' } }),
  ]);
  const [shortStart, longStart] = started;
  if (shortStart?.status === 'fulfilled') short = new Harness(shortStart.value);
  if (longStart?.status === 'fulfilled') long = new Harness(longStart.value);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
});

afterAll(async () => {
  await Promise.all([short?.stop(), long?.stop()]);
});

/** Checks `check` repeatedly until `until` (epoch ms); the first failure throws. Returns how often it held. */
async function holdsUntil(until: number, check: () => Promise<void>): Promise<number> {
  let checks = 0;
  do {
    await check();
    checks += 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < until);
  await check();
  return checks + 1;
}

/** Long enough for a committed payment record to reach the refund worker through the stream and the provider. */
const REFUND_QUIET_MS = 1_500;

function event(
  type: ProviderEventJson['type'],
  orderId: string,
  overrides: Partial<ProviderEventJson['data']> = {},
): ProviderEventJson {
  return {
    id: `evt_${randomUUID()}`,
    type,
    data: { paymentId: `pi_${randomUUID()}`, orderId, amount: ORDER_TOTAL, currency: 'EUR', ...overrides },
  };
}

function statuses(order: OrderView): string[] {
  return order.history.map((entry) => entry.status);
}

/** Paid, and from there only forward into fulfilment, which starts on its own once the payment commits. */
function expectPaid(order: OrderView): void {
  expect(['PAID', 'FULFILLING', 'FULFILLED']).toContain(order.status);
  expect(statuses(order).slice(0, 2)).toEqual(['PENDING_PAYMENT', 'PAID']);
  expect(statuses(order)).not.toContain('CANCELLED');
}

async function paymentStatus(
  harness: Harness,
  orderId: string,
  paymentId: string,
): Promise<string | undefined> {
  return (await harness.stored(keys.payment(orderId, paymentId)))?.status as string | undefined;
}

describe('POST /orders/{orderId}/payments', () => {
  it('creates an intent at the provider for the order and lists it PENDING on the order', async () => {
    const order = await long.createOrder();

    const created = await long.request('POST', `/orders/${order.orderId}/payments`);
    const read = await long.order(order.orderId);

    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      paymentId: expect.any(String),
      orderId: order.orderId,
      amount: ORDER_TOTAL,
      currency: 'EUR',
    });
    const paymentId = String(created.body.paymentId);
    expect(long.provider.intents().filter((intent) => intent.orderId === order.orderId)).toEqual([
      expect.objectContaining({
        paymentId,
        amount: ORDER_TOTAL,
        currency: 'EUR',
        status: 'requires_payment',
      }),
    ]);
    expect(read.status).toBe('PENDING_PAYMENT');
    expect(read.payments).toEqual([{ paymentId, status: 'PENDING', amount: ORDER_TOTAL, currency: 'EUR' }]);
  });

  it('answers 404 ORDER_NOT_FOUND for an unknown order', async () => {
    const unknownOrderId = ulid();

    const answer = await long.request('POST', `/orders/${unknownOrderId}/payments`);

    expect(answer).toMatchObject({
      status: 404,
      contentType: 'application/problem+json',
      body: { status: 404, code: 'ORDER_NOT_FOUND' },
    });
    expect(long.provider.intents().some((intent) => intent.orderId === unknownOrderId)).toBe(false);
  });

  it('answers 409 ORDER_NOT_PAYABLE for a cancelled order and creates no intent', async () => {
    const order = await long.createOrder();
    const cancelled = await long.request('POST', `/orders/${order.orderId}/cancel`);

    const answer = await long.request('POST', `/orders/${order.orderId}/payments`);

    expect(cancelled.status).toBe(200);
    expect(answer).toMatchObject({
      status: 409,
      contentType: 'application/problem+json',
      body: { status: 409, code: 'ORDER_NOT_PAYABLE' },
    });
    expect(long.provider.intents().some((intent) => intent.orderId === order.orderId)).toBe(false);
    expect((await long.order(order.orderId)).payments).toEqual([]);
  });
});

describe('POST /webhooks/payments refuses what it cannot trust', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    { name: 'no signature header', sign: (_body: string) => ({ header: undefined }) },
    { name: 'a malformed signature header', sign: (_body: string) => ({ header: 't=soon,v1=not-hex' }) },
    { name: 'a signature made with another secret', sign: (_body: string) => ({ secret: 'not-the-secret' }) },
    { name: 'a timestamp 301 s old', sign: (_body: string) => ({ timestamp: now() - 301 }) },
    { name: 'a timestamp 301 s ahead', sign: (_body: string) => ({ timestamp: now() + 301 }) },
    {
      name: 'a body changed after signing',
      sign: (body: string) => ({
        header: signatureHeader(long.secret, body.replace(`"amount":${ORDER_TOTAL}`, '"amount":1'), now()),
      }),
    },
  ])('answers 401 to $name and writes nothing', async ({ sign }) => {
    const order = await long.createOrder();
    const before = await long.order(order.orderId);
    const callback = event('payment.succeeded', order.orderId);
    const rawBody = JSON.stringify(callback);

    const answer = await long.webhook(rawBody, sign(rawBody));

    expect(answer).toMatchObject({
      status: 401,
      contentType: 'application/problem+json',
      body: { status: 401, code: 'INVALID_SIGNATURE' },
    });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(before.payments).toEqual([]);
    expect(await long.stored(keys.providerEvent(callback.id))).toBeUndefined();
    expect(await long.stored(keys.paymentOwner(callback.data.paymentId))).toBeUndefined();
    expect(long.refundsOf(callback.data.paymentId)).toEqual([]);
  });

  it.each([
    { name: 'malformed JSON', body: (json: string) => json.slice(0, -2), code: 'MALFORMED_JSON' },
    {
      name: 'JSON of the wrong shape',
      body: (json: string) => json.replace('"payment.succeeded"', '"payment.teleported"'),
      code: 'VALIDATION_FAILED',
    },
  ])('answers 400 $code to $name with a valid signature, and writes nothing', async ({ body, code }) => {
    const order = await long.createOrder();
    const before = await long.order(order.orderId);
    const callback = event('payment.succeeded', order.orderId);

    const answer = await long.webhook(body(JSON.stringify(callback)));

    expect(answer).toMatchObject({
      status: 400,
      contentType: 'application/problem+json',
      body: { status: 400, code },
    });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(await long.stored(keys.providerEvent(callback.id))).toBeUndefined();
  });
});

describe('payment.succeeded for an order awaiting payment', () => {
  it('pays the order, removes its timeout schedule, and the passed deadline does not cancel it', async () => {
    const order = await short.createOrder();
    const callback = event('payment.succeeded', order.orderId);

    const answer = await short.webhook(JSON.stringify(callback));
    const paid = await short.order(order.orderId);
    const schedulesAfterPayment = await short.schedules();

    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'paid' } });
    expectPaid(paid);
    expect(paid.payments).toEqual([
      { paymentId: callback.data.paymentId, status: 'SUCCEEDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    const timerName = `payment-timeout-${order.orderId}`;
    expect(schedulesAfterPayment.schedules.map((schedule) => schedule.name)).not.toContain(timerName);
    // Past the deadline, with the sweeper running every second, the order stays paid (and goes on to fulfilment).
    const checks = await holdsUntil(Date.parse(order.paymentDeadline) + 2_500, async () => {
      expectPaid(await short.order(order.orderId));
    });
    expect(checks).toBeGreaterThan(1);
    expect(
      (await short.schedules()).invocations.filter((invocation) => invocation.scheduleName === timerName),
    ).toEqual([]);
  });

  it('applies a duplicate delivery and the same payment under a new event id once', async () => {
    const order = await long.createOrder();

    const delivered = await long.provider.sendCallback({
      type: 'payment.succeeded',
      orderId: order.orderId,
      amount: ORDER_TOTAL,
      currency: 'EUR',
      times: 3,
    });
    const again = await long.webhook(
      JSON.stringify(event('payment.succeeded', order.orderId, { paymentId: delivered.paymentId })),
    );

    expect(delivered.statuses).toEqual([200, 200, 200]);
    expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    const read = await long.order(order.orderId);
    expectPaid(read);
    expect(read.payments).toEqual([
      { paymentId: delivered.paymentId, status: 'SUCCEEDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    await holdsUntil(Date.now() + REFUND_QUIET_MS, async () => {
      expect(long.refundsOf(delivered.paymentId)).toEqual([]);
    });
  });
});

describe('money an order cannot keep is refunded exactly once', () => {
  it('refunds a payment that arrives after the timeout cancelled the order, once', async () => {
    const order = await short.createOrder();
    const cancelled = await eventually(async () => {
      const read = await short.order(order.orderId);
      return read.status === 'CANCELLED' ? read : undefined;
    });
    const callback = event('payment.succeeded', order.orderId);
    const rawBody = JSON.stringify(callback);

    const answer = await short.webhook(rawBody);
    const refunded = await eventually(async () => {
      const read = await short.order(order.orderId);
      return read.payments[0]?.status === 'REFUNDED' ? read : undefined;
    });
    const repeat = await short.webhook(rawBody);

    expect(Date.parse(cancelled.history.at(-1)?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(order.paymentDeadline),
    );
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'refundPending' } });
    expect(refunded.status).toBe('CANCELLED');
    expect(statuses(refunded)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(refunded.payments).toEqual([
      { paymentId: callback.data.paymentId, status: 'REFUNDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    expect(await short.stored(keys.payment(order.orderId, callback.data.paymentId))).toMatchObject({
      refundReason: 'ORDER_CANCELLED',
    });
    expect(repeat).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    await holdsUntil(Date.now() + REFUND_QUIET_MS, async () => {
      expect(short.refundsOf(callback.data.paymentId)).toEqual([
        expect.objectContaining({
          idempotencyKey: `refund-${callback.data.paymentId}`,
          amount: ORDER_TOTAL,
          currency: 'EUR',
        }),
      ]);
    });
  });

  it.each([
    {
      name: 'an amount that does not match the order',
      prepare: async () => {
        const order = await long.createOrder();
        return {
          orderId: order.orderId,
          callback: event('payment.succeeded', order.orderId, { amount: 2499 }),
        };
      },
      reason: 'AMOUNT_MISMATCH',
      orderStatuses: ['PENDING_PAYMENT'],
    },
    {
      name: 'an order nobody created',
      prepare: async () => {
        const orderId = ulid();
        return { orderId, callback: event('payment.succeeded', orderId) };
      },
      reason: 'ORDER_NOT_FOUND',
      orderStatuses: undefined,
    },
    {
      name: 'an order already paid by another payment',
      prepare: async () => {
        const order = await long.createOrder();
        const first = await long.webhook(JSON.stringify(event('payment.succeeded', order.orderId)));
        if (first.body.outcome !== 'paid')
          throw new Error(`the first payment was ${String(first.body.outcome)}`);
        // Fulfilment runs on after payment; waiting for its end keeps the order still while we compare.
        await eventually(async () =>
          (await long.order(order.orderId)).status === 'FULFILLED' ? true : undefined,
        );
        return { orderId: order.orderId, callback: event('payment.succeeded', order.orderId) };
      },
      reason: 'ORDER_ALREADY_PAID',
      orderStatuses: ['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLED'],
    },
  ])(
    'refunds a payment for $name and leaves the order as it was',
    async ({ prepare, reason, orderStatuses }) => {
      const { orderId, callback } = await prepare();
      const orderBefore = await long.request<OrderView>('GET', `/orders/${orderId}`);
      const { paymentId } = callback.data;

      const answer = await long.webhook(JSON.stringify(callback));
      const finalStatus = await eventually(async () => {
        const status = await paymentStatus(long, orderId, paymentId);
        return status === 'REFUNDED' ? status : undefined;
      });

      expect(answer).toMatchObject({ status: 200, body: { outcome: 'refundPending' } });
      expect(finalStatus).toBe('REFUNDED');
      expect(await long.stored(keys.payment(orderId, paymentId))).toMatchObject({ refundReason: reason });
      expect(long.refundsOf(paymentId)).toEqual([
        expect.objectContaining({ idempotencyKey: `refund-${paymentId}`, amount: callback.data.amount }),
      ]);
      const orderAfter = await long.request<OrderView>('GET', `/orders/${orderId}`);
      if (orderStatuses === undefined) {
        expect(orderBefore.status).toBe(404);
        expect(orderAfter.status).toBe(404);
      } else {
        expect(statuses(orderAfter.body)).toEqual(orderStatuses);
        expect(orderAfter.body.status).toBe(orderBefore.body.status);
        expect(orderAfter.body.updatedAt).toBe(orderBefore.body.updatedAt);
      }
    },
  );
});

describe('payment.failed', () => {
  it('records the failure, keeps the order payable, and a later success for the same payment pays it', async () => {
    const order = await long.createOrder();
    const failed = event('payment.failed', order.orderId);
    const succeeded: ProviderEventJson = { ...event('payment.succeeded', order.orderId), data: failed.data };

    const failedAnswer = await long.webhook(JSON.stringify(failed));
    const afterFailure = await long.order(order.orderId);
    const succeededAnswer = await long.webhook(JSON.stringify(succeeded));
    const afterSuccess = await long.order(order.orderId);

    expect(failedAnswer).toMatchObject({ status: 200, body: { outcome: 'failureRecorded' } });
    expect(afterFailure.status).toBe('PENDING_PAYMENT');
    expect(afterFailure.payments).toEqual([
      { paymentId: failed.data.paymentId, status: 'FAILED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    expect(succeededAnswer).toMatchObject({ status: 200, body: { outcome: 'paid' } });
    expectPaid(afterSuccess);
    expect(afterSuccess.payments).toEqual([
      { paymentId: failed.data.paymentId, status: 'SUCCEEDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
  });
});

describe('the payment lease', () => {
  it('keeps an overdue order from being cancelled while it is live, and not after it expired', async () => {
    const order = await short.createOrder();
    const lease = await short.leases.acquire(order.orderId, `e2e-${randomUUID()}`, new Date(), 6);
    const timerName = `payment-timeout-${order.orderId}`;

    const cancel = await short.request('POST', `/orders/${order.orderId}/cancel`);
    const prepay = await short.request('POST', `/orders/${order.orderId}/payments`);
    // Past the deadline, the timer fires and is refused, and the sweeper runs, while the lease is live.
    const refusedTimer = await eventually(async () =>
      (await short.schedules()).invocations.find(
        (invocation) => invocation.scheduleName === timerName && invocation.outcome === 'FAILED',
      ),
    );
    const checks = await holdsUntil(lease.expiresAt.getTime() - 500, async () => {
      expect((await short.order(order.orderId)).status).toBe('PENDING_PAYMENT');
    });
    const cancelled = await eventually(async () => {
      const read = await short.order(order.orderId);
      return read.status === 'CANCELLED' ? read : undefined;
    });

    expect(cancel).toMatchObject({
      status: 409,
      contentType: 'application/problem+json',
      body: { code: 'PAYMENT_IN_PROGRESS' },
    });
    expect(prepay).toMatchObject({ status: 409, body: { code: 'PAYMENT_IN_PROGRESS' } });
    expect(Date.parse(refusedTimer.startedAt)).toBeGreaterThanOrEqual(Date.parse(order.paymentDeadline));
    expect(Date.parse(refusedTimer.startedAt)).toBeLessThan(lease.expiresAt.getTime());
    expect(checks).toBeGreaterThan(1);
    expect(statuses(cancelled)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(Date.parse(cancelled.history.at(-1)?.at ?? '')).toBeGreaterThanOrEqual(lease.expiresAt.getTime());
  });
});
