import type { Context } from 'aws-lambda';
import type Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance } from 'vitest';
import type { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentProviderUnavailableError } from '../../functions/domain/ports';
import type { SweeperRun } from '../../functions/scheduled/sweeper';
import { BusinessMetric } from '../../lib/business-metrics';
import type { FakePaymentProvider } from '../../lib/local/outside-parties/payment-provider';
import { createTestTables, type TestTables } from '../support/dynamodb';
import {
  confirmedAtStripe,
  lambdaContext,
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentHandlersHarness,
  sampleOrder,
  secondsAfter,
} from '../support/payment-window';

type Handler<Result> = (event: unknown, context: Context) => Promise<Result>;
interface TimeoutResult {
  readonly orderId: string;
  readonly outcome: string;
}

let tables: TestTables;
let fake: FakePaymentProvider;
let stripe: Stripe;
/** Places orders an hour in the past with a one-minute window: overdue now, without waiting. */
let overdueOrders: OrderService;
let fireTimeout: (orderId: string) => Promise<TimeoutResult>;
let sweep: () => Promise<SweeperRun>;
let addMetric: MockInstance;
let warnings: MockInstance;

beforeAll(async () => {
  tables = await createTestTables();
  // What the provider reports reaches us only through the check-back.
  ({ fake, stripe, addMetric, warnings } = await paymentHandlersHarness(tables, {
    // A bank debit stays processing for the whole test.
    processingMs: 600_000,
    environment: { PAYMENT_PROCESSING_GRACE_SECONDS: '7200', SWEEPER_MAX_ORDERS_PER_RUN: '50' },
  }));
  const timeout = (await import('../../functions/scheduled/payment-timeout'))
    .handler as unknown as Handler<TimeoutResult>;
  const sweeper = (await import('../../functions/scheduled/sweeper'))
    .handler as unknown as Handler<SweeperRun>;
  fireTimeout = (orderId) => timeout({ orderId }, lambdaContext);
  sweep = () => sweeper({}, lambdaContext);
  overdueOrders = orderServiceOn(tables, {
    clock: new ManualClock(secondsAfter(new Date(), -3600)),
    paymentTimeoutSeconds: 60,
    newOrderId: orderIds('01CHECKBACK'),
  });
});

afterEach(() => {
  fake.setOutage(0);
  addMetric.mockClear();
  warnings.mockClear();
});

afterAll(async () => {
  await fake?.stop();
});

/** An overdue order whose intent, created before its deadline, the customer confirmed with `paymentMethod`. */
async function overdueConfirmedWith(paymentMethod: string): Promise<string> {
  const { order } = await overdueOrders.placeOrder(sampleOrder);
  await confirmedAtStripe(tables, stripe, order, {
    clock: new ManualClock(secondsAfter(order.createdAt, 10)),
    paymentMethod,
    paymentMethodTypes: ['card', 'us_bank_account'],
  });
  return order.orderId;
}

/** What the invocations since the last clear counted, by metric, with the counts each added. */
function counts(): Record<string, number[]> {
  const byMetric: Record<string, number[]> = {};
  for (const [name, , value] of addMetric.mock.calls as [string, string, number][]) {
    byMetric[name] = [...(byMetric[name] ?? []), value];
  }
  return byMetric;
}

// First: the sweeper examines every overdue order of the table, and the orders below stay overdue.
describe('the sweeper, checking back before it cancels', () => {
  it('counts every outcome each run, 0 included: a provider it cannot ask leaves the orders for the next run', async () => {
    // Prepare
    const orderId = await overdueConfirmedWith('pm_card_visa');
    fake.setOutage(Number.POSITIVE_INFINITY);

    // Act
    const duringOutage = await sweep();
    const countedDuringOutage = counts();
    fake.setOutage(0);
    addMetric.mockClear();
    const afterOutage = await sweep();

    // Assess
    expect(duringOutage).toMatchObject({ checkBackFailed: 1, paid: 0, cancelled: 0, heldForProcessing: 0 });
    expect(countedDuringOutage).toMatchObject({
      [BusinessMetric.CHECK_BACK_FAILURES]: [1],
      [BusinessMetric.PAYMENTS_RECONCILED]: [0],
      [BusinessMetric.ORDERS_HELD_FOR_PROCESSING]: [0],
    });
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining('could not be asked'),
      expect.objectContaining({ checkBackFailed: 1 }),
    );
    expect(afterOutage).toMatchObject({ checkBackFailed: 0, paid: 1 });
    expect(counts()).toMatchObject({
      [BusinessMetric.CHECK_BACK_FAILURES]: [0],
      [BusinessMetric.PAYMENTS_RECONCILED]: [1],
      [BusinessMetric.ORDERS_PAID]: [1],
    });
    expect((await overdueOrders.getOrder(orderId)).order.status).toBe(OrderStatus.PAID);
  });
});

describe('payment-timeout, checking back before it cancels', () => {
  it('pays an overdue order whose payment succeeded at the provider, counting a payment no webhook brought', async () => {
    // Prepare
    const orderId = await overdueConfirmedWith('pm_card_visa');

    // Act
    const result = await fireTimeout(orderId);

    // Assess
    expect(result).toEqual({ orderId, outcome: 'paid' });
    expect((await overdueOrders.getOrder(orderId)).order.status).toBe(OrderStatus.PAID);
    expect(counts()).toEqual({
      [BusinessMetric.PAYMENTS_RECONCILED]: [1],
      [BusinessMetric.ORDERS_PAID]: [1],
    });
  });

  it('keeps an overdue order open while its payment is processing, and counts it held', async () => {
    // Prepare
    const orderId = await overdueConfirmedWith('pm_usBankAccount_success');

    // Act
    const result = await fireTimeout(orderId);

    // Assess
    expect(result).toEqual({ orderId, outcome: 'heldForProcessing' });
    expect((await overdueOrders.getOrder(orderId)).order.status).toBe(OrderStatus.PENDING_PAYMENT);
    expect(counts()).toEqual({ [BusinessMetric.ORDERS_HELD_FOR_PROCESSING]: [1] });
  });

  it('throws, so that Lambda retries the invocation, when the provider cannot be asked; the order stays open', async () => {
    // Prepare
    const orderId = await overdueConfirmedWith('pm_card_visa');
    fake.setOutage(Number.POSITIVE_INFINITY);

    // Act
    const attempt = fireTimeout(orderId);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    expect((await overdueOrders.getOrder(orderId)).order.status).toBe(OrderStatus.PENDING_PAYMENT);
    expect(counts()).toEqual({});
  });
});
