import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionInvocationError } from '../../lib/local/invoker';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { bearerFor, type CustomerRequestInit, fetchAs } from '../support/auth';
import { eventually } from '../support/eventually';

/**
 * The payment window's central race, on the whole local system: for every order a payment callback and the
 * payment timeout arrive at the same moment, with duplicate callbacks and duplicate timer firings mixed in.
 */
const ORDERS = 500;
const PAYMENT_TIMEOUT_SECONDS = 6;
/**
 * Callbacks are sent at the deadline, and, to be sure both outcomes occur, half the window early or a second late
 * for some: each order's race starts as soon as it is placed, so a slow machine delays it less than the window.
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
        ['PaymentDeadlineNotReachedError', 'PaymentInProgressError'].includes(error.errorType);
      if (!retryable) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('payment callback against payment timeout', () => {
  it(`ends each of ${ORDERS} orders paid xor CANCELLED and refunds every late payment exactly once`, async () => {
    const provider = system.paymentProvider;
    if (provider === undefined) throw new Error('the local system has no fake payment provider');
    // Tokens first, so that placing an order is one request and its race starts at once.
    await Promise.all(Array.from({ length: ORDERS }, (_, index) => bearerFor(system, `racer-${index}`)));
    const startedAt = Date.now();
    const races: Promise<void>[] = [];
    const race = async (order: OrderView, index: number): Promise<void> => {
      const offset = OFFSETS_MS[index % OFFSETS_MS.length] ?? 0;
      const waitMs = Date.parse(order.paymentDeadline) + offset - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitMs)));
      await Promise.all([
        provider.sendCallback({
          type: 'payment.succeeded',
          orderId: order.orderId,
          amount: 100 + index,
          currency: 'EUR',
          paymentId: `pi_race_${index}`,
          times: 2,
        }),
        fireTimeout(order.orderId),
        ...(index % 2 === 0 ? [fireTimeout(order.orderId)] : []),
      ]);
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
        races.push(race(order, index));
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
    }
    for (const view of cancelled) {
      expect(view.payments.map((payment) => payment.status)).toEqual(['REFUNDED']);
    }
    const refundsPerPayment = new Map<string, number>();
    for (const refund of refunds) {
      refundsPerPayment.set(refund.paymentId, (refundsPerPayment.get(refund.paymentId) ?? 0) + 1);
    }
    expect([...refundsPerPayment.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(refundsPerPayment.keys())).toEqual(
      new Set(cancelled.flatMap((view) => view.payments.map((payment) => payment.paymentId))),
    );
    console.info(
      `payment race: ${ORDERS} orders, ${ORDERS * 2} callbacks (each sent twice), ` +
        `${ORDERS + Math.ceil(ORDERS / 2)} direct timer firings besides Scheduler's; ` +
        `${paid.length} paid, ${cancelled.length} CANCELLED, ${refunds.length} refunds, ` +
        `settled in ${elapsedSeconds.toFixed(1)} s`,
    );
  }, 180_000);
});
