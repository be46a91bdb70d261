import type { Context } from 'aws-lambda';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, type MockInstance } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { PaymentsUnreconcilableError, ValidationError } from '../../functions/domain/errors';
import type { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentStatus, paymentFrom } from '../../functions/domain/payment';
import type { ReconciliationReport } from '../../functions/domain/payment-service';
import { BusinessMetric } from '../../lib/business-metrics';
import type { FakePaymentProvider } from '../../lib/local/outside-parties/payment-provider';
import { SETTING_DEFAULTS } from '../../lib/model';
import { createTestTables, type TestTables } from '../support/dynamodb';
import {
  confirmedAtStripe,
  lambdaContext,
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentHandlersHarness,
  sampleOrder,
} from '../support/payment-window';

type ReconcilerHandler = (event: unknown, context: Context) => Promise<ReconciliationReport>;

let tables: TestTables;
let fake: FakePaymentProvider;
let stripe: Stripe;
let orders: OrderService;
let reconcile: (event: unknown) => Promise<ReconciliationReport>;
let addMetric: MockInstance;
let warnings: MockInstance;

beforeAll(async () => {
  tables = await createTestTables();
  // Every event the fake emits stays undelivered, as if the webhook were lost.
  ({ fake, stripe, addMetric, warnings } = await paymentHandlersHarness(tables, {
    environment: { RECONCILE_MAX_EVENTS: '50', RECONCILE_MAX_ORDERS: '50', RECONCILE_MAX_REFUNDS: '50' },
  }));
  const handler = (await import('../../functions/scheduled/payment-reconciler'))
    .handler as unknown as ReconcilerHandler;
  reconcile = (event) => handler(event, lambdaContext);
  orders = orderServiceOn(tables, {
    clock: new ManualClock(new Date()),
    paymentTimeoutSeconds: 3600,
    newOrderId: orderIds('01RECONCILER'),
  });
});

afterAll(async () => {
  await fake?.stop();
});

/** An order with an intent the customer paid at the provider, whose webhook never arrived. */
async function paidWithoutWebhook(): Promise<{ readonly orderId: string; readonly paymentId: string }> {
  const { order } = await orders.placeOrder(sampleOrder);
  const paymentId = await confirmedAtStripe(tables, stripe, order, {
    clock: new ManualClock(new Date()),
    paymentMethod: 'pm_card_visa',
    paymentMethodTypes: ['card'],
  });
  return { orderId: order.orderId, paymentId };
}

/** The counts the last invocation added for `metric`. */
function counted(metric: BusinessMetric): unknown[] {
  return addMetric.mock.calls.filter(([name]) => name === metric).map(([, , value]) => value);
}

describe('the payment reconciler handler', () => {
  it('applies a payment whose webhook was lost, counts and names it, and tries to cancel its timer; the next pass counts 0', async () => {
    // Prepare
    const { orderId, paymentId } = await paidWithoutWebhook();
    addMetric.mockClear();
    warnings.mockClear();

    // Act
    const first = await reconcile({});
    const firstCounts = {
      reconciled: counted(BusinessMetric.PAYMENTS_RECONCILED),
      paid: counted(BusinessMetric.ORDERS_PAID),
    };
    addMetric.mockClear();
    // An invocation without a payload is a scheduled pass too.
    const second = await reconcile(undefined);

    // Assess
    expect(first.changed).toEqual([{ orderId, paymentId, outcome: 'paid', foundBy: 'undeliveredEvent' }]);
    expect(firstCounts).toEqual({ reconciled: [1], paid: [1] });
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining('webhooks are being lost'),
      expect.objectContaining({ changed: first.changed }),
    );
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining('could not delete the payment timeout schedule'),
      expect.objectContaining({ orderId }),
    );
    expect((await orders.getOrder(orderId)).order.status).toBe(OrderStatus.PAID);
    expect(second.changed).toEqual([]);
    expect(counted(BusinessMetric.PAYMENTS_RECONCILED)).toEqual([0]);
    expect(counted(BusinessMetric.ORDERS_PAID)).toEqual([]);
  });

  it('looks from `since` when given one, and leaves the stored checkpoint where it was', async () => {
    // Prepare
    const payments = new DynamoDbPaymentRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    });
    await reconcile({});
    const before = await payments.reconciliationCheckpoint();
    const since = '2026-12-01T08:30:00+01:00';

    // Act
    const report = await reconcile({ since });

    // Assess
    expect(before).toBeInstanceOf(Date);
    expect(report.since).toBe('2026-12-01T07:30:00.000Z');
    expect(await payments.reconciliationCheckpoint()).toEqual(before);
  });

  it.each([
    ['a time that is not ISO 8601', { since: 'yesterday' }],
    ['a date without a time', { since: '2026-12-01' }],
    ['a number', { since: 1764576000 }],
  ])('refuses %s as `since`, and counts nothing', async (_, event) => {
    // Prepare
    addMetric.mockClear();

    // Act
    const attempt = reconcile(event);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({ issues: [expect.objectContaining({ path: 'since' })] });
    expect(counted(BusinessMetric.PAYMENTS_RECONCILED)).toEqual([]);
  });

  // Last: the payment it cannot settle stays open, and every later pass would report it again.
  it('applies what it can and fails the invocation for a payment the provider will not show', async () => {
    // Prepare
    const { orderId: paidOrder } = await paidWithoutWebhook();
    const { order } = await orders.placeOrder(sampleOrder);
    const lease = await new DynamoDbLeaseStore({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    }).acquire(order.orderId, 'another account', new Date(), 30);
    const unknownToStripe = `pi_other_account_${order.orderId}`;
    await new DynamoDbPaymentRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    }).recordIntent(
      paymentFrom(
        {
          paymentId: unknownToStripe,
          orderId: order.orderId,
          amount: order.totalAmount,
          currency: order.currency,
        },
        PaymentStatus.PENDING,
        // Older than the pass's minimum age: its webhook should have come long ago.
        new Date(Date.now() - (SETTING_DEFAULTS.RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS + 1) * 1000),
      ),
      lease,
    );
    addMetric.mockClear();

    // Act
    const attempt = reconcile({});

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PaymentsUnreconcilableError);
    await expect(attempt).rejects.toMatchObject({ paymentIds: [unknownToStripe] });
    expect((await orders.getOrder(paidOrder))?.order.status).toBe(OrderStatus.PAID);
    expect(counted(BusinessMetric.PAYMENTS_RECONCILED)).toEqual([1]);
  });
});
