import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource } from '../../functions/domain/payment';
import type { SweepResult } from '../../functions/domain/payment-service';
import type { SweeperRun } from '../../functions/scheduled/sweeper';
import { createTestTables, type TestTables, useTablesForHandlers } from '../support/dynamodb';
import { httpEvent } from '../support/http-events';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import {
  closedLoopbackPort,
  lambdaContext,
  leaseStoreOn,
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentServiceOn,
  pendingIndexOrderIds,
  sampleOrder,
  secondsAfter,
  swept,
  timerSettings,
} from '../support/payment-window';

type HttpHandler = (event: unknown, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SweeperHandler = (event: unknown, context: Context) => Promise<SweeperRun>;

const T0 = new Date('2026-11-28T10:00:00.000Z');
const SWEEPER_REASON = 'payment deadline passed; cancelled by the sweeper';

function orderIdOf(response: APIGatewayProxyStructuredResultV2): string {
  const body = JSON.parse(response.body ?? 'null') as { orderId?: unknown };
  return String(body.orderId);
}

describe('the sweeper, for orders whose payment timer could not be scheduled', () => {
  let tables: TestTables;
  let createOrder: HttpHandler;
  let loggedErrors: MockInstance;

  beforeAll(async () => {
    tables = await createTestTables();
    const schedulerPort = await closedLoopbackPort();
    useTablesForHandlers(tables, {
      ...timerSettings,
      PAYMENT_TIMEOUT_SECONDS: '1',
      AWS_ENDPOINT_URL_SCHEDULER: `http://127.0.0.1:${schedulerPort}`,
    });
    const { logger } = await import('../../functions/composition-root');
    loggedErrors = vi.spyOn(logger, 'error');
    createOrder = (await import('../../functions/http/create-order')).handler as unknown as HttpHandler;
  });

  function post(): Promise<APIGatewayProxyStructuredResultV2> {
    return createOrder(
      httpEvent({
        method: 'POST',
        path: '/orders',
        routeKey: 'POST /orders',
        body: JSON.stringify(sampleOrder),
        headers: { 'content-type': 'application/json' },
        customer: sampleOrder.customerId,
      }),
      lambdaContext,
    );
  }

  it('The sweeper cancels orders whose schedule creation was made to fail, and only those past their deadline', async () => {
    const started = new Date();
    const newOrderId = orderIds('01SWEEPSVC');
    const patient = orderServiceOn(tables, {
      clock: new ManualClock(started),
      paymentTimeoutSeconds: 3600,
      newOrderId,
    });
    const hasty = orderServiceOn(tables, {
      clock: new ManualClock(started),
      paymentTimeoutSeconds: 1,
      newOrderId,
    });
    const responses = await Promise.all([post(), post(), post()]);
    const untimed = responses.map(orderIdOf);
    const awaiting = [
      (await patient.placeOrder(sampleOrder)).order.orderId,
      (await patient.placeOrder(sampleOrder)).order.orderId,
    ];
    const cancelledByCustomer = (await hasty.placeOrder(sampleOrder)).order.orderId;
    await hasty.cancelOrder(cancelledByCustomer, sampleOrder.customerId);
    const paid = (await hasty.placeOrder(sampleOrder)).order.orderId;
    await hasty.moveOrder(paid, OrderStatus.PAID, 'paid by pi_test');
    const sweeper = paymentServiceOn(tables, new ManualClock(secondsAfter(new Date(), 60)));

    const first = await sweeper.sweep(100);
    const second = await sweeper.sweep(100);

    expect(responses.map((response) => response.statusCode)).toEqual([201, 201, 201]);
    for (const orderId of untimed) {
      expect(loggedErrors).toHaveBeenCalledWith(
        expect.stringContaining('could not be scheduled'),
        expect.objectContaining({ orderId, error: expect.objectContaining({ code: 'ECONNREFUSED' }) }),
      );
    }
    expect(first).toEqual(swept({ examined: 3, cancelled: 3 }));
    expect(second).toEqual(swept({}));
    for (const orderId of untimed) {
      const { order, history } = await patient.getOrder(orderId);
      expect(Date.parse(order.paymentDeadline) - Date.parse(order.createdAt)).toBe(1000);
      expect(order.status).toBe(OrderStatus.CANCELLED);
      expect(history).toHaveLength(2);
      expect(history[1]).toMatchObject({
        from: OrderStatus.PENDING_PAYMENT,
        to: OrderStatus.CANCELLED,
        reason: expect.stringContaining('sweeper'),
      });
    }
    for (const orderId of awaiting) {
      const { order, history } = await patient.getOrder(orderId);
      expect(order).toMatchObject({ status: OrderStatus.PENDING_PAYMENT, version: 1 });
      expect(history).toHaveLength(1);
    }
    const customer = await patient.getOrder(cancelledByCustomer);
    expect(customer.order).toMatchObject({ status: OrderStatus.CANCELLED, version: 2 });
    expect(customer.history.map((entry) => entry.reason)).toEqual(['order placed', 'cancelled by customer']);
    const settled = await patient.getOrder(paid);
    expect(settled.order).toMatchObject({ status: OrderStatus.PAID, version: 2 });
    expect(settled.history.map((entry) => entry.reason)).toEqual(['order placed', 'paid by pi_test']);
  });
});

describe('the sweeper over the sparse pending-payment index', () => {
  it('finds only orders awaiting payment: cancelled and paid orders lose the index keys', async () => {
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const newOrderId = orderIds('01SPARSE');
    const shortDeadline = orderServiceOn(tables, { clock, paymentTimeoutSeconds: 60, newOrderId });
    const longDeadline = orderServiceOn(tables, { clock, paymentTimeoutSeconds: 3600, newOrderId });
    const overdue = [
      (await shortDeadline.placeOrder(sampleOrder)).order.orderId,
      (await shortDeadline.placeOrder(sampleOrder)).order.orderId,
    ];
    const { order: future } = await longDeadline.placeOrder(sampleOrder);
    const cancelledByCustomer = (await shortDeadline.placeOrder(sampleOrder)).order.orderId;
    await shortDeadline.cancelOrder(cancelledByCustomer, sampleOrder.customerId);
    const paid = (await shortDeadline.placeOrder(sampleOrder)).order.orderId;
    await shortDeadline.moveOrder(paid, OrderStatus.PAID, 'paid by pi_test');
    const indexedBefore = await pendingIndexOrderIds(tables);
    clock.set(secondsAfter(T0, 120));

    const result = await paymentServiceOn(tables, clock).sweep(100);

    const indexedAfter = await pendingIndexOrderIds(tables);
    expect([...indexedBefore].sort()).toEqual([...overdue, future.orderId].sort());
    expect(result).toEqual(swept({ examined: 2, cancelled: 2 }));
    expect(indexedAfter).toEqual([future.orderId]);
    for (const orderId of [...overdue, cancelledByCustomer, paid]) {
      const { Item } = await tables.documentClient.send(
        new GetCommand({ TableName: tables.ordersTableName, Key: { PK: `ORDER#${orderId}`, SK: 'ORDER' } }),
      );
      expect(Item?.orderId).toBe(orderId);
      expect(Item).not.toHaveProperty('pendingShard');
      expect(Item).not.toHaveProperty('pendingDeadline');
    }
    const { Item: stillPending } = await tables.documentClient.send(
      new GetCommand({
        TableName: tables.ordersTableName,
        Key: { PK: `ORDER#${future.orderId}`, SK: 'ORDER' },
      }),
    );
    expect(stillPending?.pendingShard).toMatch(/^PENDING#([0-9]|[12][0-9]|3[01])$/);
    expect(stillPending?.pendingDeadline).toBe(`${future.paymentDeadline}#${future.orderId}`);
  });

  it('still finds orders indexed when the index had 8 shards', async () => {
    // Prepare: the shard was the first hash byte modulo 8; modulo 32 now, so the old one is the new one modulo 8.
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const service = orderServiceOn(tables, {
      clock,
      paymentTimeoutSeconds: 60,
      newOrderId: orderIds('01SHARD8'),
    });
    const placed = [];
    for (let count = 0; count < 6; count++)
      placed.push((await service.placeOrder(sampleOrder)).order.orderId);
    const moved: string[] = [];
    for (const orderId of placed) {
      const key = { PK: `ORDER#${orderId}`, SK: 'ORDER' };
      const { Item } = await tables.documentClient.send(
        new GetCommand({ TableName: tables.ordersTableName, Key: key }),
      );
      const shard = Number(String(Item?.pendingShard).replace('PENDING#', ''));
      if (shard < 8) continue;
      await tables.documentClient.send(
        new UpdateCommand({
          TableName: tables.ordersTableName,
          Key: key,
          UpdateExpression: 'SET pendingShard = :old',
          ExpressionAttributeValues: { ':old': `PENDING#${shard % 8}` },
        }),
      );
      moved.push(orderId);
    }
    clock.set(secondsAfter(T0, 120));

    // Act
    const result = await paymentServiceOn(tables, clock).sweep(100);

    // Assess
    expect(moved.length).toBeGreaterThan(0);
    expect(result).toEqual(swept({ examined: placed.length, cancelled: placed.length }));
    expect(await pendingIndexOrderIds(tables)).toEqual([]);
  });

  it('uses its whole budget each run: a backlog of 30 takes three runs of 10', async () => {
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const service = orderServiceOn(tables, {
      clock,
      paymentTimeoutSeconds: 60,
      newOrderId: orderIds('01BOUND'),
    });
    const placed = await Promise.all(Array.from({ length: 30 }, () => service.placeOrder(sampleOrder)));
    const backlog = placed.map(({ order }) => order.orderId);
    clock.set(secondsAfter(T0, 120));
    const sweeper = paymentServiceOn(tables, clock);
    const runs: SweepResult[] = [];

    // These 30 ids fall unevenly into the 8 shards, so a per-shard quota would leave budget unused.
    for (let run = 0; run < 4; run++) {
      runs.push(await sweeper.sweep(10));
    }

    expect(runs.map((result) => result.cancelled)).toEqual([10, 10, 10, 0]);
    expect(runs.every((result) => result.leased === 0)).toBe(true);
    for (const orderId of backlog) {
      const { order, history } = await service.getOrder(orderId);
      expect(order.status).toBe(OrderStatus.CANCELLED);
      expect(history.filter((entry) => entry.to === OrderStatus.CANCELLED)).toHaveLength(1);
    }
  });

  it('skips an overdue order with a live payment lease and cancels it once the lease expired', async () => {
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const service = orderServiceOn(tables, {
      clock,
      paymentTimeoutSeconds: 60,
      newOrderId: orderIds('01LEASED'),
    });
    const leased = (await service.placeOrder(sampleOrder)).order.orderId;
    const free = (await service.placeOrder(sampleOrder)).order.orderId;
    clock.set(secondsAfter(T0, 70));
    await leaseStoreOn(tables).acquire(leased, 'checkout', clock.now(), 30);
    const sweeper = paymentServiceOn(tables, clock);

    const whileLeased = await sweeper.sweep(100);
    const statusWhileLeased = (await service.getOrder(leased)).order.status;
    const freeAfterFirstSweep = (await service.getOrder(free)).order.status;
    clock.set(secondsAfter(T0, 101));
    const afterExpiry = await sweeper.sweep(100);

    expect(whileLeased).toEqual(swept({ examined: 2, cancelled: 1, leased: 1 }));
    expect(statusWhileLeased).toBe(OrderStatus.PENDING_PAYMENT);
    expect(freeAfterFirstSweep).toBe(OrderStatus.CANCELLED);
    expect(afterExpiry).toEqual(swept({ examined: 1, cancelled: 1 }));
    const { order, history } = await service.getOrder(leased);
    expect(order.status).toBe(OrderStatus.CANCELLED);
    expect(history.at(-1)).toMatchObject({ reason: SWEEPER_REASON, at: secondsAfter(T0, 101).toISOString() });
  });
});

/**
 * A payment for an order cancelled before it arrived: the intent is paid after the customer cancelled, so it
 * is REFUND_PENDING from `clock`'s time on. The intent is `pi_<orderId>` at the provider returned.
 */
async function refundOwed(
  tables: TestTables,
  clock: ManualClock,
  orderId: string,
): Promise<{ readonly paymentId: string; readonly provider: InMemoryPaymentProvider }> {
  const orders = orderServiceOn(tables, { clock, paymentTimeoutSeconds: 600, newOrderId: () => orderId });
  const provider = new InMemoryPaymentProvider({ now: () => clock.now(), paymentIdFor: (id) => `pi_${id}` });
  const payments = paymentServiceOn(tables, clock, { provider });
  const { order } = await orders.placeOrder(sampleOrder);
  const { intent } = await payments.preparePayment(order.orderId, order.customerId);
  await orders.cancelOrder(order.orderId, order.customerId);
  const outcome = await payments.handleProviderEvent(
    provider.pay(intent.paymentId),
    PaymentFactSource.WEBHOOK,
  );
  expect(outcome).toBe('refundPending');
  return { paymentId: intent.paymentId, provider };
}

describe('refunds stuck in REFUND_PENDING, over the sparse refund-pending index', () => {
  it('counts only refunds owed for longer than the setting: one stuck, one recent, one refunded -> 1', async () => {
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const stuck = '01STUCK0000000000000000001';
    const refunded = '01STUCK0000000000000000002';
    const recent = '01STUCK0000000000000000003';
    await refundOwed(tables, clock, stuck);
    const { paymentId: refundedPayment, provider } = await refundOwed(tables, clock, refunded);
    clock.set(secondsAfter(T0, 3000));
    await refundOwed(tables, clock, recent);
    clock.set(secondsAfter(T0, 3500));
    await provider.refund({ paymentId: refundedPayment, amount: 1250, currency: 'EUR' }, 'refund-once');
    const [completed] = provider.completeRefunds(refundedPayment);
    if (completed === undefined) throw new Error('the provider completed no refund');
    const confirmation = await paymentServiceOn(tables, clock, { provider }).handleProviderEvent(
      completed,
      PaymentFactSource.WEBHOOK,
    );
    clock.set(secondsAfter(T0, 3700));

    const found = await paymentServiceOn(tables, clock).findStuckRefunds(3600, 20);

    expect(confirmation).toBe('refunded');
    expect(found).toEqual({ count: 1, sample: [{ orderId: stuck, paymentId: `pi_${stuck}` }] });
    const { Item: done } = await tables.documentClient.send(
      new GetCommand({
        TableName: tables.ordersTableName,
        Key: { PK: `ORDER#${refunded}`, SK: `PAYMENT#${refundedPayment}` },
      }),
    );
    expect(done?.status).toBe('REFUNDED');
    expect(done).not.toHaveProperty('refundShard');
    expect(done).not.toHaveProperty('refundPendingSince');
  });

  it('counts every stuck refund but names at most the sample size of them', async () => {
    const tables = await createTestTables();
    const clock = new ManualClock(T0);
    const newOrderId = orderIds('01MANYSTUCK');
    for (let refund = 0; refund < 12; refund++) {
      await refundOwed(tables, clock, newOrderId());
    }
    clock.set(secondsAfter(T0, 7200));

    const found = await paymentServiceOn(tables, clock).findStuckRefunds(3600, 5);

    expect(found.count).toBe(12);
    expect(found.sample).toHaveLength(5);
    expect(new Set(found.sample.map((reference) => reference.orderId)).size).toBe(5);
  });
});

describe('the sweeper handler', () => {
  it('runs in-process on the system clock and returns its SweepResult with the stuck refunds', async () => {
    const tables = await createTestTables();
    useTablesForHandlers(tables, { SWEEPER_MAX_ORDERS_PER_RUN: '500', REFUND_STUCK_AFTER_SECONDS: '1800' });
    // A fresh composition root, so the handler reads this test's table name rather than the one cached above.
    vi.resetModules();
    const { logger } = await import('../../functions/composition-root');
    const warnings = vi.spyOn(logger, 'warn');
    const sweeper = (await import('../../functions/scheduled/sweeper')).handler as unknown as SweeperHandler;
    const stuckRefund = '01HANDLERSTUCK000000000001';
    await refundOwed(tables, new ManualClock(secondsAfter(new Date(), -3600)), stuckRefund);
    const newOrderId = orderIds('01HANDLER');
    const anHourAgo = secondsAfter(new Date(), -3600);
    const overdue = orderServiceOn(tables, {
      clock: new ManualClock(anHourAgo),
      paymentTimeoutSeconds: 60,
      newOrderId,
    });
    const current = orderServiceOn(tables, {
      clock: new ManualClock(new Date()),
      paymentTimeoutSeconds: 3600,
      newOrderId,
    });
    const late = (await overdue.placeOrder(sampleOrder)).order.orderId;
    const onTime = (await current.placeOrder(sampleOrder)).order.orderId;

    const result = await sweeper({}, lambdaContext);

    expect(result).toEqual({ ...swept({ examined: 1, cancelled: 1 }), refundsStuckPending: 1 });
    expect(warnings).toHaveBeenCalledWith(
      expect.stringContaining('refunds stuck in REFUND_PENDING'),
      expect.objectContaining({
        refundsStuckPending: 1,
        stuckAfterSeconds: 1800,
        sample: [{ orderId: stuckRefund, paymentId: `pi_${stuckRefund}` }],
      }),
    );
    const cancelled = await current.getOrder(late);
    expect(cancelled.order.status).toBe(OrderStatus.CANCELLED);
    expect(cancelled.history.at(-1)?.reason).toBe(SWEEPER_REASON);
    expect((await current.getOrder(onTime)).order.status).toBe(OrderStatus.PENDING_PAYMENT);
  });
});
