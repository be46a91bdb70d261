import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { keys } from '../../functions/adapters/dynamodb-table';
import type { LocalSchedulerSnapshot } from '../../lib/local/aws/scheduler/server';
import { FAKE_STRIPE_API_VERSION } from '../../lib/local/outside-parties/payment-provider';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { ORDERS_TABLE, PAYMENT_WEBHOOK_SECRET } from '../../lib/model';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { type HttpAnswer, type OrderView, requestAs, startTestSystem } from '../support/local-system';
import {
  fakeStripeOf,
  intentsOf,
  openPayment,
  type PaymentAnswer,
  payOrder,
  postStripeWebhook,
  redeliverEvents,
  refundsOf,
  startPaymentFunctions,
  stripeFor,
  type WebhookSigning,
} from '../support/stripe';

/**
 * The payment window over real HTTP with the official Stripe SDK against the fake Stripe: intents, webhooks as
 * Stripe signs and sends them, refunds of money an order cannot keep, and the payment timeout with its lease.
 * Two local systems: one whose orders time out after 3 s (with a sweeper every second, bank debits that stay
 * processing for 8 s, and a processing grace of 1 s), one whose orders stay payable for 10 minutes.
 */

const SHORT_TIMEOUT_SECONDS = 3;
const SHORT_PROCESSING_MS = 8_000;
const CUSTOMER = 'customer-payments';

const orderBody = {
  customerId: CUSTOMER,
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
};
const ORDER_TOTAL = 2500;

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

  public async request<T = Record<string, unknown>>(method: string, path: string, body?: string) {
    return await requestAs<T>(this.system, CUSTOMER, method, path, body);
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

  public async orderIn(orderId: string, ...statuses: string[]): Promise<OrderView> {
    return await eventually(async () => {
      const read = await this.order(orderId);
      return statuses.includes(read.status) ? read : undefined;
    });
  }

  public openPayment(orderId: string): Promise<PaymentAnswer> {
    return openPayment(this.system, CUSTOMER, orderId);
  }

  public pay(orderId: string, paymentMethod?: string): Promise<string> {
    return payOrder(this.system, CUSTOMER, orderId, paymentMethod);
  }

  public get stripe(): Stripe {
    return stripeFor(this.system);
  }

  public webhook(payload: string, signing?: WebhookSigning): Promise<HttpAnswer> {
    return postStripeWebhook(this.system, payload, signing);
  }

  public async stored(key: { PK: string; SK: string }): Promise<Record<string, unknown> | undefined> {
    const { Item } = await this.table.send(
      new GetCommand({ TableName: ORDERS_TABLE, Key: key, ConsistentRead: true }),
    );
    return Item;
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
      settings: {
        PAYMENT_TIMEOUT_SECONDS: String(SHORT_TIMEOUT_SECONDS),
        PAYMENT_PROCESSING_GRACE_SECONDS: '1',
      },
      scheduleRatesSeconds: { sweeper: 1 },
      payments: { processingMs: SHORT_PROCESSING_MS },
    }),
    startTestSystem({ settings: { PAYMENT_TIMEOUT_SECONDS: '600' } }),
  ]);
  const [shortStart, longStart] = started;
  if (shortStart?.status === 'fulfilled') short = new Harness(shortStart.value);
  if (longStart?.status === 'fulfilled') long = new Harness(longStart.value);
  const failure = started.find((result) => result.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  await startPaymentFunctions(short.system, CUSTOMER);
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

/** Long enough for a committed payment record to reach the refund worker through the stream and Stripe. */
const REFUND_QUIET_MS = 1_500;

/** A Stripe event about `intent` in Stripe's envelope, as a sender holding the signing secret could make one. */
function intentEvent(type: string, intent: object): string {
  return JSON.stringify({
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    object: 'event',
    api_version: FAKE_STRIPE_API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object: intent },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });
}

/** The intent as Stripe holds it, claimed to have succeeded. */
async function succeededClaim(harness: Harness, paymentId: string): Promise<string> {
  const intent = await harness.stripe.paymentIntents.retrieve(paymentId);
  return intentEvent('payment_intent.succeeded', { ...intent, status: 'succeeded' });
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

describe('POST /orders/{orderId}/payments', () => {
  it('creates an intent at Stripe for the order, answers its client secret, and asked again the same one', async () => {
    const order = await long.createOrder();

    const created = await long.request<PaymentAnswer>('POST', `/orders/${order.orderId}/payments`);
    const again = await long.request<PaymentAnswer>('POST', `/orders/${order.orderId}/payments`);
    const read = await long.order(order.orderId);

    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      paymentId: expect.stringMatching(/^pi_/),
      orderId: order.orderId,
      amount: ORDER_TOTAL,
      currency: 'EUR',
      status: 'requires_payment_method',
      clientSecret: expect.stringMatching(new RegExp(`^${created.body.paymentId}_secret_`)),
    });
    expect(again).toMatchObject({ status: 200, body: created.body });
    const { paymentId } = created.body;
    expect(intentsOf(long.system, order.orderId)).toEqual([
      expect.objectContaining({
        id: paymentId,
        amount: ORDER_TOTAL,
        currency: 'eur',
        status: 'requires_payment_method',
        client_secret: created.body.clientSecret,
      }),
    ]);
    expect(read.status).toBe('PENDING_PAYMENT');
    expect(read.payments).toEqual([{ paymentId, status: 'PENDING', amount: ORDER_TOTAL, currency: 'EUR' }]);
  });

  it('gives three requests at once one intent at Stripe: the same paymentId and client secret', async () => {
    // On the system whose orders stay payable for minutes: no deadline passes while the requests wait.
    const order = await long.createOrder();

    const answers = await Promise.all(
      [0, 1, 2].map(() => long.request<PaymentAnswer>('POST', `/orders/${order.orderId}/payments`)),
    );

    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 201]);
    const [first] = answers;
    expect(first?.body.paymentId).toMatch(/^pi_/);
    for (const answer of answers) {
      expect(answer.body).toEqual(first?.body);
    }
    expect(intentsOf(long.system, order.orderId)).toEqual([
      expect.objectContaining({ id: first?.body.paymentId }),
    ]);
  });

  it('answers 404 ORDER_NOT_FOUND for an unknown order', async () => {
    const unknownOrderId = ulid();

    const answer = await long.request('POST', `/orders/${unknownOrderId}/payments`);

    expect(answer).toMatchObject({
      status: 404,
      contentType: 'application/problem+json',
      body: { status: 404, code: 'ORDER_NOT_FOUND' },
    });
    expect(intentsOf(long.system, unknownOrderId)).toEqual([]);
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
    expect(intentsOf(long.system, order.orderId)).toEqual([]);
    expect((await long.order(order.orderId)).payments).toEqual([]);
  });
});

describe('POST /webhooks/payments refuses what it cannot trust', () => {
  const now = () => Math.floor(Date.now() / 1000);

  it.each<{ name: string; sign: (body: string) => WebhookSigning }>([
    { name: 'no signature header', sign: () => ({ header: undefined }) },
    { name: 'a malformed signature header', sign: () => ({ header: 't=soon,v1=not-hex' }) },
    { name: 'a signature made with another secret', sign: () => ({ secret: 'whsec_not_the_secret' }) },
    { name: 'a timestamp 301 s old', sign: () => ({ timestamp: now() - 301 }) },
    { name: 'a timestamp 301 s ahead', sign: () => ({ timestamp: now() + 301 }) },
    {
      name: 'a body changed after signing',
      sign: (body: string) => ({
        header: long.stripe.webhooks.generateTestHeaderString({
          payload: body.replace('"succeeded"', '"processing"'),
          secret: long.system.secrets[PAYMENT_WEBHOOK_SECRET] ?? '',
        }),
      }),
    },
  ])('answers 401 to $name and writes nothing', async ({ sign }) => {
    const order = await long.createOrder();
    const { paymentId } = await long.openPayment(order.orderId);
    const before = await long.order(order.orderId);
    const payload = await succeededClaim(long, paymentId);

    const answer = await long.webhook(payload, sign(payload));

    expect(answer).toMatchObject({
      status: 401,
      contentType: 'application/problem+json',
      body: { status: 401, code: 'INVALID_SIGNATURE' },
    });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(await long.stored(keys.providerEvent(JSON.parse(payload).id))).toBeUndefined();
  });

  it.each([
    { name: 'malformed JSON', body: (json: string) => json.slice(0, -2), code: 'MALFORMED_JSON' },
    {
      name: 'an intent event without the intent id',
      body: (json: string) => json.replace(/"data":\{"object":\{"id":"pi_[^"]+",/, '"data":{"object":{'),
      code: 'VALIDATION_FAILED',
    },
  ])('answers 400 $code to $name with a valid signature, and writes nothing', async ({ body, code }) => {
    const order = await long.createOrder();
    const { paymentId } = await long.openPayment(order.orderId);
    const before = await long.order(order.orderId);
    const payload = await succeededClaim(long, paymentId);
    const sent = body(payload);

    const answer = await long.webhook(sent);

    expect(sent).not.toBe(payload);
    expect(answer).toMatchObject({
      status: 400,
      contentType: 'application/problem+json',
      body: { status: 400, code },
    });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(await long.stored(keys.providerEvent(JSON.parse(payload).id))).toBeUndefined();
  });
});

describe('a signed event changes an order only as far as Stripe confirms it', () => {
  it("ignores a claim that the order's intent succeeded while Stripe says it awaits payment", async () => {
    const order = await long.createOrder();
    const { paymentId } = await long.openPayment(order.orderId);
    const before = await long.order(order.orderId);

    const answer = await long.webhook(await succeededClaim(long, paymentId));

    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'ignored' } });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(before.payments).toEqual([expect.objectContaining({ paymentId, status: 'PENDING' })]);
  });

  it('records as unmatched an event whose intent belongs to another order than the one it names', async () => {
    const holder = await long.createOrder();
    const named = await long.createOrder();
    const { paymentId } = await long.openPayment(holder.orderId);
    const [holderBefore, namedBefore] = [await long.order(holder.orderId), await long.order(named.orderId)];
    const intent = await long.stripe.paymentIntents.retrieve(paymentId);
    const payload = intentEvent('payment_intent.succeeded', {
      ...intent,
      status: 'succeeded',
      metadata: { orderId: named.orderId },
    });

    const answer = await long.webhook(payload);

    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'unmatched' } });
    expect(await long.order(holder.orderId)).toEqual(holderBefore);
    expect(await long.order(named.orderId)).toEqual(namedBefore);
  });

  it('records as unmatched an event for an intent no order holds, even one naming a real order', async () => {
    const order = await long.createOrder();
    const before = await long.order(order.orderId);
    const invented = `pi_${randomUUID().replaceAll('-', '')}`;
    const payload = intentEvent('payment_intent.succeeded', {
      id: invented,
      object: 'payment_intent',
      amount: ORDER_TOTAL,
      currency: 'eur',
      status: 'succeeded',
      metadata: { orderId: order.orderId },
    });

    const answer = await long.webhook(payload);
    const repeat = await long.webhook(payload);

    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'unmatched' } });
    expect(repeat).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
    expect(await long.stored(keys.providerEvent(JSON.parse(payload).id))).toMatchObject({
      unmatched: true,
      eventType: 'payment_intent.succeeded',
      namedOrderId: order.orderId,
    });
    expect(await long.order(order.orderId)).toEqual(before);
    expect(refundsOf(long.system, invented)).toEqual([]);
  });

  it('leaves the order alone when an intent made at Stripe outside the system, naming the order, is paid', async () => {
    const order = await long.createOrder();
    const before = await long.order(order.orderId);
    const outside = await long.stripe.paymentIntents.create({
      amount: ORDER_TOTAL,
      currency: 'eur',
      metadata: { orderId: order.orderId },
    });

    await long.stripe.paymentIntents.confirm(outside.id, { payment_method: 'pm_card_visa' });
    const delivered = await eventually(() =>
      fakeStripeOf(long.system)
        .deliveries()
        .find(
          (delivery) =>
            delivery.paymentIntentId === outside.id && delivery.type === 'payment_intent.succeeded',
        ),
    );

    expect(delivered.statusCode).toBe(200);
    expect(await long.stored(keys.providerEvent(delivered.eventId))).toMatchObject({ unmatched: true });
    expect(await long.order(order.orderId)).toEqual(before);
  });

  it('answers a type it does not handle as ignored', async () => {
    const answer = await long.webhook(intentEvent('customer.created', { id: 'cus_1', object: 'customer' }));

    expect(answer).toMatchObject({ status: 200, body: { received: true, outcome: 'ignored' } });
  });
});

describe('a payment confirmed at Stripe for an order awaiting payment', () => {
  it('pays the order, removes its timeout schedule, and the passed deadline does not cancel it', async () => {
    const order = await short.createOrder();

    const paymentId = await short.pay(order.orderId);
    const paid = await short.orderIn(order.orderId, 'PAID', 'FULFILLING', 'FULFILLED');
    // The webhook removes the timer right after it commits the payment, which the order shows first.
    const timerName = `payment-timeout-${order.orderId}`;
    await eventually(async () =>
      (await short.schedules()).schedules.some((schedule) => schedule.name === timerName) ? undefined : true,
    );
    // On a loaded machine the payment may take longer than the 3 s window, and the timer fire before it is gone.
    const removedInTime = Date.now() < Date.parse(order.paymentDeadline);

    expectPaid(paid);
    expect(paid.payments).toEqual([{ paymentId, status: 'SUCCEEDED', amount: ORDER_TOTAL, currency: 'EUR' }]);
    // Past the deadline, with the sweeper running every second, the order stays paid (and goes on to fulfilment).
    const checks = await holdsUntil(Date.parse(order.paymentDeadline) + 2_500, async () => {
      expectPaid(await short.order(order.orderId));
    });
    expect(checks).toBeGreaterThan(1);
    const firings = (await short.schedules()).invocations.filter(
      (invocation) => invocation.scheduleName === timerName,
    );
    // Removed in time, it never fires; fired before its removal, it found the order paid and left it so.
    if (removedInTime) expect(firings).toEqual([]);
    else expect(firings.map((firing) => firing.outcome)).not.toContain('FAILED');
  });

  it('changes nothing when Stripe delivers its events again', async () => {
    const order = await long.createOrder();
    const paymentId = await long.pay(order.orderId);
    await long.orderIn(order.orderId, 'FULFILLED');
    const before = await long.order(order.orderId);

    const replayed = await redeliverEvents(long.system, paymentId);

    expect(replayed.map((answer) => answer.status)).toContain(200);
    expect(replayed.every((answer) => answer.status === 200)).toBe(true);
    expect(replayed.map((answer) => answer.body.outcome)).toContain('duplicate');
    expect(replayed.map((answer) => answer.body.outcome)).not.toContain('paid');
    expect(await long.order(order.orderId)).toEqual(before);
    await holdsUntil(Date.now() + REFUND_QUIET_MS, async () => {
      expect(refundsOf(long.system, paymentId)).toEqual([]);
    });
  });
});

describe('money an order cannot keep is refunded exactly once', () => {
  it('refunds a payment made after the customer cancelled (their cancel leaves the intent payable at Stripe)', async () => {
    const order = await long.createOrder();
    const { paymentId } = await long.openPayment(order.orderId);
    const cancelled = await long.request('POST', `/orders/${order.orderId}/cancel`);

    const confirmed = await long.stripe.paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
    const refunded = await eventually(async () => {
      const read = await long.order(order.orderId);
      return read.payments[0]?.status === 'REFUNDED' ? read : undefined;
    });
    const replayed = await redeliverEvents(long.system, paymentId);

    expect(cancelled.status).toBe(200);
    expect(confirmed.status).toBe('succeeded');
    expect(statuses(refunded)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(refunded.payments).toEqual([
      { paymentId, status: 'REFUNDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    expect(await long.stored(keys.payment(order.orderId, paymentId))).toMatchObject({
      refundReason: 'ORDER_CANCELLED',
    });
    expect(replayed.every((answer) => answer.status === 200)).toBe(true);
    expect(replayed.map((answer) => answer.body.outcome)).not.toContain('refundPending');
    await holdsUntil(Date.now() + REFUND_QUIET_MS, async () => {
      expect(refundsOf(long.system, paymentId)).toEqual([
        expect.objectContaining({ amount: ORDER_TOTAL, currency: 'eur', status: 'succeeded' }),
      ]);
    });
  });

  it('cancels an order whose bank debit is still processing past the grace, and refunds the late success once', async () => {
    const order = await short.createOrder();

    const paymentId = await short.pay(order.orderId, 'pm_usBankAccount_success');
    const cancelled = await short.orderIn(order.orderId, 'CANCELLED');
    const refunded = await eventually(async () => {
      const read = await short.order(order.orderId);
      return read.payments[0]?.status === 'REFUNDED' ? read : undefined;
    }, SHORT_PROCESSING_MS + 20_000);

    expect(Date.parse(cancelled.history.at(-1)?.at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(order.paymentDeadline) + 1_000,
    );
    expect(statuses(refunded)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(refunded.payments).toEqual([
      { paymentId, status: 'REFUNDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    expect(await short.stored(keys.payment(order.orderId, paymentId))).toMatchObject({
      refundReason: 'ORDER_CANCELLED',
    });
    await holdsUntil(Date.now() + REFUND_QUIET_MS, async () => {
      expect(refundsOf(short.system, paymentId)).toHaveLength(1);
    });
  }, 40_000);
});

describe('a declined card', () => {
  it('records the failure, keeps the order payable with the same intent, and a good card then pays it', async () => {
    const order = await long.createOrder();

    const declined = await long.pay(order.orderId, 'pm_card_chargeDeclined').catch((error: unknown) => error);
    const afterFailure = await eventually(async () => {
      const read = await long.order(order.orderId);
      return read.payments[0]?.status === 'FAILED' ? read : undefined;
    });
    const retry = await long.openPayment(order.orderId);
    const paymentId = await long.pay(order.orderId);
    const afterSuccess = await long.orderIn(order.orderId, 'PAID', 'FULFILLING', 'FULFILLED');

    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(declined).toMatchObject({ statusCode: 402, code: 'card_declined' });
    expect(afterFailure.status).toBe('PENDING_PAYMENT');
    expect(afterFailure.payments).toEqual([
      { paymentId, status: 'FAILED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
    expect(retry).toMatchObject({ paymentId, status: 'requires_payment_method' });
    expect(intentsOf(long.system, order.orderId)).toHaveLength(1);
    expectPaid(afterSuccess);
    expect(afterSuccess.payments).toEqual([
      { paymentId, status: 'SUCCEEDED', amount: ORDER_TOTAL, currency: 'EUR' },
    ]);
  });
});

describe('the payment lease', () => {
  it('keeps an overdue order from being cancelled while it is live, and not after it expired', async () => {
    const order = await short.createOrder();
    const lease = await short.leases.acquire(order.orderId, `e2e-${randomUUID()}`, new Date(), 6);
    const timerName = `payment-timeout-${order.orderId}`;

    const [cancel, prepay] = await Promise.all([
      short.request('POST', `/orders/${order.orderId}/cancel`),
      short.request('POST', `/orders/${order.orderId}/payments`),
    ]);
    // Answered after the 3 s deadline (a loaded machine), it may have been judged when the order was past paying.
    const prepayInTime = Date.now() < Date.parse(order.paymentDeadline);
    // Past the deadline, the timer fires and is refused, and the sweeper runs, while the lease is live.
    const refusedTimer = await eventually(async () =>
      (await short.schedules()).invocations.find(
        (invocation) => invocation.scheduleName === timerName && invocation.outcome === 'FAILED',
      ),
    );
    const checks = await holdsUntil(lease.expiresAt.getTime() - 500, async () => {
      expect((await short.order(order.orderId)).status).toBe('PENDING_PAYMENT');
    });
    const cancelled = await short.orderIn(order.orderId, 'CANCELLED');

    expect(cancel).toMatchObject({
      status: 409,
      contentType: 'application/problem+json',
      body: { code: 'PAYMENT_IN_PROGRESS' },
    });
    expect(prepay.status).toBe(409);
    expect(prepayInTime ? ['PAYMENT_IN_PROGRESS'] : ['PAYMENT_IN_PROGRESS', 'ORDER_NOT_PAYABLE']).toContain(
      prepay.body.code,
    );
    expect(intentsOf(short.system, order.orderId)).toEqual([]);
    expect(Date.parse(refusedTimer.startedAt)).toBeGreaterThanOrEqual(Date.parse(order.paymentDeadline));
    expect(Date.parse(refusedTimer.startedAt)).toBeLessThan(lease.expiresAt.getTime());
    expect(checks).toBeGreaterThan(1);
    expect(statuses(cancelled)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(Date.parse(cancelled.history.at(-1)?.at ?? '')).toBeGreaterThanOrEqual(lease.expiresAt.getTime());
  });
});
