import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import {
  PaymentDeadlineNotReachedError,
  PaymentInProgressError,
  ValidationError,
} from '../../functions/domain/errors';
import type { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { createTestTables, type TestTables, useTablesForHandlers } from '../support/dynamodb';
import {
  lambdaContext,
  leaseStoreOn,
  ManualClock,
  orderIds,
  orderServiceOn,
  sampleOrder,
  secondsAfter,
} from '../support/payment-window';

interface TimeoutResult {
  readonly orderId: string;
  readonly outcome: string;
}

type TimeoutHandler = (event: unknown, context: Context) => Promise<TimeoutResult>;

let tables: TestTables;
let fire: (event: unknown) => Promise<TimeoutResult>;
/** Places orders an hour in the past with a one-minute window: overdue now, without waiting. */
let overdueOrders: OrderService;
/** Places orders now with an hour to pay. */
let currentOrders: OrderService;
let leases: DynamoDbLeaseStore;

beforeAll(async () => {
  tables = await createTestTables();
  useTablesForHandlers(tables);
  const handler = (await import('../../functions/scheduled/payment-timeout'))
    .handler as unknown as TimeoutHandler;
  fire = (event) => handler(event, lambdaContext);
  const newOrderId = orderIds('01TIMEOUT');
  overdueOrders = orderServiceOn(tables, {
    clock: new ManualClock(secondsAfter(new Date(), -3600)),
    paymentTimeoutSeconds: 60,
    newOrderId,
  });
  currentOrders = orderServiceOn(tables, {
    clock: new ManualClock(new Date()),
    paymentTimeoutSeconds: 3600,
    newOrderId,
  });
  leases = leaseStoreOn(tables);
});

async function placeOverdue(): Promise<string> {
  return (await overdueOrders.placeOrder(sampleOrder)).order.orderId;
}

async function cancellationsOf(orderId: string): Promise<number> {
  const { history } = await currentOrders.getOrder(orderId);
  return history.filter((entry) => entry.to === OrderStatus.CANCELLED).length;
}

describe('the payment-timeout handler', () => {
  it('cancels an overdue order awaiting payment', async () => {
    const orderId = await placeOverdue();

    const result = await fire({ orderId });

    expect(result).toEqual({ orderId, outcome: 'cancelled' });
    const { order, history } = await currentOrders.getOrder(orderId);
    expect(order).toMatchObject({ status: OrderStatus.CANCELLED, version: 2 });
    expect(history.at(-1)).toMatchObject({
      from: OrderStatus.PENDING_PAYMENT,
      to: OrderStatus.CANCELLED,
      reason: 'payment deadline passed',
    });
  });

  it('changes nothing when the same timer fires again', async () => {
    const orderId = await placeOverdue();

    const first = await fire({ orderId });
    const duplicate = await fire({ orderId });

    expect(first.outcome).toBe('cancelled');
    expect(duplicate).toEqual({ orderId, outcome: 'notPending' });
    expect(await cancellationsOf(orderId)).toBe(1);
    expect((await currentOrders.getOrder(orderId)).order.version).toBe(2);
  });

  it('throws PaymentDeadlineNotReachedError when fired before the deadline, and changes nothing', async () => {
    const { order: placed } = await currentOrders.placeOrder(sampleOrder);

    const early = fire({ orderId: placed.orderId });

    await expect(early).rejects.toBeInstanceOf(PaymentDeadlineNotReachedError);
    await expect(early).rejects.toMatchObject({
      name: 'PaymentDeadlineNotReachedError',
      deadline: placed.paymentDeadline,
    });
    const { order, history } = await currentOrders.getOrder(placed.orderId);
    expect(order).toEqual(placed);
    expect(history).toHaveLength(1);
  });

  it('throws PaymentInProgressError while a payment lease is live, and cancels once it is released', async () => {
    const orderId = await placeOverdue();
    const lease = await leases.acquire(orderId, 'checkout', new Date(), 30);
    const before = await currentOrders.getOrder(orderId);

    const whileLeased = fire({ orderId });
    await whileLeased.catch(() => undefined);
    const during = await currentOrders.getOrder(orderId);
    await leases.release(lease);
    const retried = await fire({ orderId });

    await expect(whileLeased).rejects.toMatchObject({ name: 'PaymentInProgressError', orderId });
    await expect(whileLeased).rejects.toBeInstanceOf(PaymentInProgressError);
    expect(during).toEqual(before);
    expect(retried).toEqual({ orderId, outcome: 'cancelled' });
  });

  it('refuses an event without an order id as a ValidationError', async () => {
    const invalid = fire({});

    await expect(invalid).rejects.toBeInstanceOf(ValidationError);
    await expect(invalid).rejects.toMatchObject({
      name: 'ValidationError',
      issues: [expect.objectContaining({ path: 'orderId' })],
    });
  });

  it('cancels exactly once when 20 duplicate firings race for one overdue order', async () => {
    const orderId = await placeOverdue();

    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => fire({ orderId })));

    const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(failures).toEqual([]);
    const results = outcomes.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [outcome.value.outcome] : [],
    );
    expect(results.filter((outcome) => outcome === 'cancelled')).toHaveLength(1);
    expect(results.filter((outcome) => outcome === 'notPending')).toHaveLength(19);
    expect(await cancellationsOf(orderId)).toBe(1);
    expect((await currentOrders.getOrder(orderId)).order).toMatchObject({
      status: OrderStatus.CANCELLED,
      version: 2,
    });
  });
});
