import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { keys, paymentItem } from '../../functions/adapters/dynamodb-table';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentStatus, paymentFrom, RefundReason } from '../../functions/domain/payment';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables } from '../support/dynamodb';

const NOW = new Date('2026-11-28T10:00:00.000Z');
let orders: DynamoDbOrderRepository;
let client: DynamoDBDocumentClient;
let tableName: string;
let payments: DynamoDbPaymentRepository;
let leases: DynamoDbLeaseStore;
let sequence = 0;

beforeAll(async () => {
  const tables = await createTestTables();
  client = tables.documentClient;
  tableName = tables.ordersTableName;
  orders = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => NOW,
  });
  payments = new DynamoDbPaymentRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
  });
  leases = new DynamoDbLeaseStore({ client: tables.documentClient, tableName: tables.ordersTableName });
});

async function placedWithPayment() {
  const orderId = `01PAYREPO${(sequence++).toString().padStart(17, '0')}`;
  const { order, created } = newOrder(
    { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 10 }] },
    { orderId, now: NOW, paymentTimeoutSeconds: 60 },
  );
  await orders.create(order, created);
  const reported = { paymentId: `pi_${orderId}`, orderId, amount: 10, currency: 'EUR' };
  const pending = paymentFrom(reported, PaymentStatus.PENDING, NOW);
  await payments.recordIntent(pending, await leases.acquire(orderId, 'payer', NOW, 30));
  return { order, created, reported, pending };
}

describe('DynamoDbPaymentRepository with the order`s timeline in its item', () => {
  it('records a payment and the order`s PAID move with its timeline entry in one write', async () => {
    const { order, created, reported, pending } = await placedWithPayment();
    const succeeded = paymentFrom(reported, PaymentStatus.SUCCEEDED, NOW, { existing: pending });
    const paid = transition(order, OrderStatus.PAID, NOW, `paid by ${reported.paymentId}`);

    const outcome = await payments.recordPaid(succeeded, pending, {
      previous: order,
      next: paid.next,
      transition: paid.transition,
    });

    expect(outcome).toEqual({ kind: 'written' });
    const stored = await orders.get(order.orderId);
    expect(stored?.order).toEqual(paid.next);
    expect(stored?.history).toEqual([created, paid.transition]);
    expect(stored?.payments).toEqual([succeeded]);
  });

  it('writes neither payment nor timeline entry when the order moved on', async () => {
    const { order, created, reported, pending } = await placedWithPayment();
    const cancelled = transition(order, OrderStatus.CANCELLED, NOW, 'cancelled by customer');
    await orders.saveTransition(order, cancelled.next, cancelled.transition);
    const paid = transition(order, OrderStatus.PAID, NOW, `paid by ${reported.paymentId}`);

    const outcome = await payments.recordPaid(
      paymentFrom(reported, PaymentStatus.SUCCEEDED, NOW, { existing: pending }),
      pending,
      { previous: order, next: paid.next, transition: paid.transition },
    );

    expect(outcome).toEqual({ kind: 'orderChanged' });
    const stored = await orders.get(order.orderId);
    expect(stored?.history).toEqual([created, cancelled.transition]);
    expect(stored?.payments).toEqual([pending]);
  });

  it('moves a payment and the order together, and reports a payment that changed meanwhile', async () => {
    const { order, created, reported, pending } = await placedWithPayment();
    const succeeded = paymentFrom(reported, PaymentStatus.SUCCEEDED, NOW, { existing: pending });
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    await payments.recordPaid(succeeded, pending, {
      previous: order,
      next: paid.next,
      transition: paid.transition,
    });
    const fulfilling = transition(paid.next, OrderStatus.FULFILLING, NOW, 'fulfilment started');
    await orders.saveTransition(paid.next, fulfilling.next, fulfilling.transition);
    const failed = transition(fulfilling.next, OrderStatus.FULFILLMENT_FAILED, NOW, 'out of stock');
    const refund = paymentFrom(reported, PaymentStatus.REFUND_PENDING, NOW, {
      existing: succeeded,
      refundReason: RefundReason.FULFILLMENT_FAILED,
    });
    const move = { previous: fulfilling.next, next: failed.next, transition: failed.transition };

    const stale = await payments.recordPaymentWithTransition(
      refund,
      { ...succeeded, updatedAt: 'earlier' },
      move,
    );
    const written = await payments.recordPaymentWithTransition(refund, succeeded, move);

    expect(stale).toEqual({ kind: 'paymentChanged' });
    expect(written).toEqual({ kind: 'written' });
    const stored = await orders.get(order.orderId);
    expect(stored?.history).toEqual([created, paid.transition, fulfilling.transition, failed.transition]);
    expect(stored?.payments.map((payment) => payment.status)).toEqual([PaymentStatus.REFUND_PENDING]);
  });

  it('moves a payment stored by the previous code in its own item, alone or with the order', async () => {
    const orderId = `01PAYREPO${(sequence++).toString().padStart(17, '0')}`;
    const { order, created } = newOrder(
      { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 10 }] },
      { orderId, now: NOW, paymentTimeoutSeconds: 60 },
    );
    // As the previous code stored it: no payment map in the order item, the intent an item of its own.
    await orders.create(order, created);
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.order(orderId),
        UpdateExpression: 'REMOVE payments',
      }),
    );
    const reported = { paymentId: `pi_${orderId}`, orderId, amount: 10, currency: 'EUR' };
    const pending = paymentFrom(reported, PaymentStatus.PENDING, NOW);
    await client.send(new PutCommand({ TableName: tableName, Item: paymentItem(pending) }));
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const succeeded = paymentFrom(reported, PaymentStatus.SUCCEEDED, NOW, { existing: pending });
    const fulfilling = transition(paid.next, OrderStatus.FULFILLING, NOW, 'fulfilment started');
    const failed = transition(fulfilling.next, OrderStatus.FULFILLMENT_FAILED, NOW, 'out of stock');
    const owed = paymentFrom(reported, PaymentStatus.REFUND_PENDING, NOW, {
      existing: succeeded,
      refundReason: RefundReason.FULFILLMENT_FAILED,
    });

    const outcomes = [
      await payments.recordPaid(succeeded, pending, { previous: order, ...paid }),
      await orders.saveTransition(paid.next, fulfilling.next, fulfilling.transition),
      await payments.recordPaymentWithTransition(owed, succeeded, { previous: fulfilling.next, ...failed }),
    ];

    expect(outcomes).toEqual([{ kind: 'written' }, undefined, { kind: 'written' }]);
    const { Item } = await client.send(
      new GetCommand({
        TableName: tableName,
        Key: keys.payment(orderId, reported.paymentId),
        ConsistentRead: true,
      }),
    );
    expect(Item).toMatchObject({ status: PaymentStatus.REFUND_PENDING, refundShard: expect.any(String) });
    const stored = await orders.get(order.orderId);
    expect(stored?.order).toEqual(failed.next);
    expect(stored?.payments).toEqual([owed]);
  });
});
