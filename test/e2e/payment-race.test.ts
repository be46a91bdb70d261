import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionInvocationError } from '../../lib/local/invoker';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { bearerFor, type CustomerRequestInit, fetchAs } from '../support/auth';
import { eventually } from '../support/eventually';
import { fakeStripeOf, openPayment, redeliverEvents, stripeFor } from '../support/stripe';

/**
 * The payment window's central race, on the whole local system: for every order the customer confirms its
 * intent at Stripe at the moment the payment timeout fires, whose check-back asks Stripe and cancels the intent
 * there before the order; duplicate timer firings and replayed webhook deliveries are mixed in.
 */
const ORDERS = 500;
const PAYMENT_TIMEOUT_SECONDS = 10;
/**
 * Payments are confirmed at the deadline, and, to be sure both outcomes occur, half the window early or a second
 * late for some: each order's race starts as soon as its intent is open, so a slow machine delays it less than
 * the window.
 */
const OFFSETS_MS = [0, 0, -(PAYMENT_TIMEOUT_SECONDS * 1000) / 2, 1000] as const;

interface OrderView {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: string;
  readonly paymentDeadline: string;
  readonly payments: readonly { readonly paymentId: string; readonly status: string }[];
}

let system: LocalSystem;

beforeAll(async () => {
  system = await startLocalSystem({
    port: 0,
    functionLogLevel: 'SILENT',
    functionConcurrency: 6,
    settings: { PAYMENT_TIMEOUT_SECONDS: String(PAYMENT_TIMEOUT_SECONDS) },
  });
});

afterAll(async () => {
  await system?.stop();
});

async function json<T>(customer: string, path: string, init?: CustomerRequestInit): Promise<T> {
  const response = await fetchAs(system, customer, path, init);
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${path} answered ${response.status}`);
  return (await response.json()) as T;
}

async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  action: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map(action))));
  }
  return results;
}

/** A timer firing that arrives a few milliseconds before its deadline is retried, as Scheduler would. */
async function fireTimeout(orderId: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await system.invoker.invoke('payment-timeout', { orderId });
      return;
    } catch (error) {
      const retryable =
        error instanceof FunctionInvocationError &&
        [
          'PaymentDeadlineNotReachedError',
          'PaymentInProgressError',
          'PaymentProviderUnavailableError',
        ].includes(error.errorType);
      if (!retryable) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The customer confirms at Stripe; an intent the check-back cancelled first refuses it, as Stripe does. */
async function confirm(paymentId: string): Promise<void> {
  try {
    await stripeFor(system).paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) throw error;
  }
}

describe('a payment confirmed at Stripe against the payment timeout', () => {
  it(`ends each of ${ORDERS} orders paid xor CANCELLED, and leaves no succeeded intent unpaid or unrefunded`, async () => {
    const provider = fakeStripeOf(system);
    // Tokens first, so that placing an order is one request and its race starts at once.
    await Promise.all(Array.from({ length: ORDERS }, (_, index) => bearerFor(system, `racer-${index}`)));
    const startedAt = Date.now();
    const races: Promise<void>[] = [];
    const race = async (order: OrderView, paymentId: string, index: number): Promise<void> => {
      const offset = OFFSETS_MS[index % OFFSETS_MS.length] ?? 0;
      const waitMs = Date.parse(order.paymentDeadline) + offset - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
      await Promise.all([
        confirm(paymentId),
        fireTimeout(order.orderId),
        ...(index % 2 === 0 ? [fireTimeout(order.orderId)] : []),
      ]);
      const replayed = await redeliverEvents(system, paymentId);
      const refused = replayed.filter((answer) => answer.status !== 200);
      if (refused.length > 0) throw new Error(`a replayed event answered ${refused[0]?.status}`);
    };
    const orders = await inBatches(
      Array.from({ length: ORDERS }, (_, index) => index),
      25,
      async (index) => {
        const order = await json<OrderView>(`racer-${index}`, '/orders', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            customerId: `racer-${index}`,
            currency: 'EUR',
            items: [{ sku: 'RACE', quantity: 1, unitPrice: 100 + index }],
          }),
        });
        const { paymentId } = await openPayment(system, order.customerId, order.orderId);
        races.push(race(order, paymentId, index));
        return order;
      },
    );
    await Promise.all(races);

    const settled = await eventually(
      async () => {
        const views = await inBatches(orders, 50, (order) =>
          json<OrderView>(order.customerId, `/orders/${order.orderId}`),
        );
        const open = views.filter(
          (view) =>
            view.status === 'PENDING_PAYMENT' ||
            view.payments.some((payment) => payment.status === 'REFUND_PENDING'),
        );
        return open.length === 0 ? views : undefined;
      },
      90_000,
      250,
    );
    const intentStatus = new Map(
      provider.intents().map((intent) => [intent.metadata.orderId, intent.status]),
    );
    const refunds = provider.refunds();
    const elapsedSeconds = (Date.now() - startedAt) / 1000;

    // A paid order goes on into fulfilment by itself; what matters is that it was paid and never cancelled.
    const paid = settled.filter((view) => ['PAID', 'FULFILLING', 'FULFILLED'].includes(view.status));
    const cancelled = settled.filter((view) => view.status === 'CANCELLED');
    expect(paid.length + cancelled.length).toBe(ORDERS);
    expect(paid.length).toBeGreaterThan(0);
    expect(cancelled.length).toBeGreaterThan(0);
    for (const view of paid) {
      expect(view.payments.map((payment) => payment.status)).toEqual(['SUCCEEDED']);
      expect(intentStatus.get(view.orderId)).toBe('succeeded');
    }
    // The check-back cancels the intent at Stripe before the order, so no payment can land on a cancelled order:
    // none is charged, and nothing needs refunding.
    for (const view of cancelled) {
      expect(view.payments.map((payment) => payment.status)).toEqual(['CANCELLED']);
      expect(intentStatus.get(view.orderId)).toBe('canceled');
    }
    expect(refunds).toEqual([]);
    console.info(
      `payment race: ${ORDERS} orders, each confirmed at Stripe at its deadline and its events delivered twice, ` +
        `${ORDERS + Math.ceil(ORDERS / 2)} direct timer firings besides Scheduler's; ` +
        `${paid.length} paid, ${cancelled.length} CANCELLED, ${refunds.length} refunds, ` +
        `settled in ${elapsedSeconds.toFixed(1)} s`,
    );
  }, 180_000);
});
