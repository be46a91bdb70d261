import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSchedulerSnapshot } from '../../lib/local/aws/scheduler/server';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { eventually } from '../support/eventually';
import { type OrderView, placeBoxOrder, requestAs, startTestSystem } from '../support/local-system';
import {
  fakeStripeOf,
  intentsOf,
  openPayment,
  paymentsInOpsOrder,
  payOrder,
  redeliverEvents,
  refundsOf,
  startPaymentFunctions,
  stripeFor,
} from '../support/stripe';

/**
 * Issue 20's acceptance cases on the whole local system, with the official Stripe SDK against the fake Stripe:
 * lost and late webhooks are made up for by the reconciler (every second here), the payment timeout asks Stripe
 * before cancelling (and cancels nothing while Stripe cannot answer), and a bank debit still processing holds its
 * order past the deadline. Orders time out after {@link PAYMENT_TIMEOUT_SECONDS} s, with room for a loaded
 * machine between placing an order and asking to pay it; bank debits stay processing for {@link PROCESSING_MS} ms,
 * past the deadline and the 1.5 s a test holds after it.
 */
const PAYMENT_TIMEOUT_SECONDS = 8;
const PROCESSING_MS = 12_000;
const CUSTOMER = 'reconciled';

let system: LocalSystem;

beforeAll(async () => {
  system = await startTestSystem({
    settings: { PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS) },
    scheduleRatesSeconds: { sweeper: 1, 'payment-reconciler': 1 },
    payments: { processingMs: PROCESSING_MS },
  });
  await startPaymentFunctions(system, CUSTOMER);
});

afterAll(async () => {
  await system?.stop();
});

async function order(orderId: string): Promise<OrderView> {
  const read = await requestAs<OrderView>(system, CUSTOMER, 'GET', `/orders/${orderId}`);
  if (read.status !== 200) throw new Error(`reading order ${orderId} answered ${read.status}`);
  return read.body;
}

async function orderIn(orderId: string, statuses: readonly string[], timeoutMs?: number): Promise<OrderView> {
  return await eventually(async () => {
    const read = await order(orderId);
    return statuses.includes(read.status) ? read : undefined;
  }, timeoutMs);
}

const PAID_OR_LATER = ['PAID', 'FULFILLING', 'FULFILLED'] as const;

function statuses(view: OrderView): string[] {
  return view.history.map((entry) => entry.status);
}

/** Checks `check` repeatedly until `until` (epoch ms); the first failure throws. Returns how often it held. */
async function holdsUntil(until: number, check: () => Promise<void>): Promise<number> {
  let checks = 0;
  do {
    await check();
    checks += 1;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } while (Date.now() < until);
  return checks;
}

async function schedules(): Promise<LocalSchedulerSnapshot> {
  return (await requestAs<LocalSchedulerSnapshot>(system, CUSTOMER, 'GET', '/_local/schedules')).body;
}

describe('a lost webhook', () => {
  it('still pays the order through the reconciler, recorded as reconciliation, and a late redelivery changes nothing', async () => {
    // Prepare: every event about the order's intent is lost.
    const placed = await placeBoxOrder(system, CUSTOMER, 1, 1100);
    const { paymentId } = await openPayment(system, CUSTOMER, placed.orderId);
    fakeStripeOf(system).loseWebhooksFor(paymentId);

    // Act
    await stripeFor(system).paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
    const paid = await orderIn(placed.orderId, PAID_OR_LATER);
    const fulfilled = await orderIn(placed.orderId, ['FULFILLED']);
    const redelivered = await redeliverEvents(system, paymentId);
    const sources = await paymentsInOpsOrder(system, placed.orderId);

    // Assess
    // Every event of a type the endpoint is registered for came after the loss began, and was lost.
    const events = fakeStripeOf(system)
      .events()
      .filter((stored) => stored.paymentIntentId === paymentId && stored.delivery !== 'unsubscribed');
    expect(events.map((stored) => stored.event.type)).toContain('payment_intent.succeeded');
    expect(events.map((stored) => stored.delivery)).toEqual(events.map(() => 'lost'));
    expect(statuses(paid).slice(0, 2)).toEqual(['PENDING_PAYMENT', 'PAID']);
    expect(sources).toEqual([
      expect.objectContaining({ paymentId, status: 'SUCCEEDED', recordedBy: 'reconciliation' }),
    ]);
    expect(redelivered.every((answer) => answer.status === 200)).toBe(true);
    expect(redelivered.map((answer) => answer.body.outcome)).toContain('duplicate');
    expect(redelivered.map((answer) => answer.body.outcome)).not.toContain('paid');
    expect(await order(placed.orderId)).toEqual(fulfilled);
    expect(refundsOf(system, paymentId)).toEqual([]);
  }, 60_000);
});

describe('a webhook that arrives after the reconciler applied its payment', () => {
  it('changes nothing', async () => {
    // Prepare: events leave Stripe 4 s late, long after the reconciler's next pass.
    const placed = await placeBoxOrder(system, CUSTOMER, 1, 1200);
    const { paymentId } = await openPayment(system, CUSTOMER, placed.orderId);
    fakeStripeOf(system).setWebhookLoss({ delayMs: 4_000 });
    try {
      // Act
      await stripeFor(system).paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
      const paid = await orderIn(placed.orderId, PAID_OR_LATER);
      const paidAt = Date.parse(paid.history.find((entry) => entry.status === 'PAID')?.at ?? '');
      const delivered = await eventually(() =>
        fakeStripeOf(system)
          .deliveries()
          .find(
            (delivery) =>
              delivery.paymentIntentId === paymentId && delivery.type === 'payment_intent.succeeded',
          ),
      );
      const after = await order(placed.orderId);
      const sources = await paymentsInOpsOrder(system, placed.orderId);

      // Assess
      expect(delivered.statusCode).toBe(200);
      expect(Date.parse(delivered.at)).toBeGreaterThan(paidAt);
      expect(statuses(after).filter((status) => status === 'PAID')).toHaveLength(1);
      expect(after.history.slice(0, paid.history.length)).toEqual(paid.history);
      expect(after.payments).toEqual(paid.payments);
      expect(sources).toEqual([
        expect.objectContaining({ paymentId, status: 'SUCCEEDED', recordedBy: 'reconciliation' }),
      ]);
      expect(refundsOf(system, paymentId)).toEqual([]);
    } finally {
      fakeStripeOf(system).setWebhookLoss({ delayMs: 0 });
    }
  }, 60_000);
});

describe('Stripe down during the check-back', () => {
  it('cancels no overdue order while it lasts, and cancels it, intent first, once Stripe answers again', async () => {
    // Prepare: an order with an unpaid intent, then Stripe answers nothing but 503.
    const placed = await placeBoxOrder(system, CUSTOMER, 1, 1300);
    const { paymentId } = await openPayment(system, CUSTOMER, placed.orderId);
    const timerName = `payment-timeout-${placed.orderId}`;
    fakeStripeOf(system).setOutage(Number.POSITIVE_INFINITY);
    let checks: number;
    let failedTimer: LocalSchedulerSnapshot['invocations'][number];
    try {
      // Act: past the deadline, the timer fires and the sweeper runs every second, both unable to ask Stripe.
      failedTimer = await eventually(async () =>
        (await schedules()).invocations.find(
          (invocation) => invocation.scheduleName === timerName && invocation.outcome === 'FAILED',
        ),
      );
      // Three seconds from the failed firing on (several sweeper runs), however late a loaded machine saw it.
      checks = await holdsUntil(
        Math.max(Date.parse(placed.paymentDeadline), Date.now()) + 3_000,
        async () => {
          expect((await order(placed.orderId)).status).toBe('PENDING_PAYMENT');
        },
      );
    } finally {
      fakeStripeOf(system).setOutage(0);
    }
    const cancelled = await orderIn(placed.orderId, ['CANCELLED']);

    // Assess
    expect(Date.parse(failedTimer.startedAt)).toBeGreaterThanOrEqual(Date.parse(placed.paymentDeadline));
    expect(checks).toBeGreaterThan(5);
    expect(statuses(cancelled)).toEqual(['PENDING_PAYMENT', 'CANCELLED']);
    expect(cancelled.payments).toEqual([expect.objectContaining({ paymentId, status: 'CANCELLED' })]);
    expect(intentsOf(system, placed.orderId)).toEqual([
      expect.objectContaining({ id: paymentId, status: 'canceled' }),
    ]);
  }, 60_000);
});

describe('a bank debit still processing at the deadline', () => {
  it('holds the order past its deadline, and the order is paid when the debit succeeds', async () => {
    const placed = await placeBoxOrder(system, CUSTOMER, 1, 1500);

    const paymentId = await payOrder(system, CUSTOMER, placed.orderId, 'pm_usBankAccount_success');
    const processing = (await stripeFor(system).paymentIntents.retrieve(paymentId)).status;
    const checks = await holdsUntil(Date.parse(placed.paymentDeadline) + 1_500, async () => {
      expect((await order(placed.orderId)).status).toBe('PENDING_PAYMENT');
    });
    const paid = await orderIn(placed.orderId, PAID_OR_LATER, PROCESSING_MS + 20_000);

    expect(processing).toBe('processing');
    expect(checks).toBeGreaterThan(5);
    expect(Date.parse(paid.history.find((entry) => entry.status === 'PAID')?.at ?? '')).toBeGreaterThan(
      Date.parse(placed.paymentDeadline),
    );
    expect(statuses(paid)).not.toContain('CANCELLED');
    expect(paid.payments).toEqual([expect.objectContaining({ paymentId, status: 'SUCCEEDED' })]);
    expect(refundsOf(system, paymentId)).toEqual([]);
  }, 60_000);
});
