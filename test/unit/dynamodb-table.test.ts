import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  committedChangesOf,
  conditionalWrite,
  ENTITY,
  embeddedPayment,
  historyEntry,
  keys,
  MalformedStreamItemError,
  orderItem,
  paymentItem,
  paymentsOf,
  toHistory,
  toLedgerEntry,
  toOrder,
  toPayment,
} from '../../functions/adapters/dynamodb-table';
import { deriveEvents } from '../../functions/domain/event-derivation';
import { newOrder, type OrderTransition, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, paymentFrom, RefundReason } from '../../functions/domain/payment';
import { StepStatus } from '../../functions/domain/saga-ledger';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const { order, created } = newOrder(
  { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 10 }] },
  { orderId: 'ORDER-1', now: NOW, paymentTimeoutSeconds: 60 },
);

function conflict(): TransactionConflictException {
  return new TransactionConflictException({ message: 'conflict', $metadata: {} });
}

describe('conditionalWrite', () => {
  it('retries a write that met a transaction, and succeeds when the item is free again', async () => {
    let calls = 0;
    await conditionalWrite(async () => {
      calls += 1;
      if (calls < 3) throw conflict();
    });

    expect(calls).toBe(3);
  });

  it('gives up on conflicts after four attempts, with the conflict', async () => {
    let calls = 0;
    const write = conditionalWrite(async () => {
      calls += 1;
      throw conflict();
    });

    await expect(write).rejects.toBeInstanceOf(TransactionConflictException);
    expect(calls).toBe(4);
  });

  it('does not retry a failed condition: that is an answer', async () => {
    let calls = 0;
    const write = conditionalWrite(async () => {
      calls += 1;
      throw new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
    });

    await expect(write).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(calls).toBe(1);
  });
});

describe('the order item`s history', () => {
  it('holds each entry as the status reached, when and why, and reads back as the domain`s transitions', () => {
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const item = {
      ...orderItem(order, created),
      history: [historyEntry(created), historyEntry(paid.transition)],
    };

    expect(orderItem(order, created).history).toEqual([
      { t: OrderStatus.PENDING_PAYMENT, a: NOW.getTime(), r: 'order placed' },
    ]);
    expect(toHistory(item)).toEqual([created, paid.transition]);
  });

  it('reads an item written before issue 21, with every field of each entry, by version', () => {
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const long = ({ orderId: _orderId, ...entry }: OrderTransition) => entry;
    const item = { ...orderItem(order, created), history: [long(paid.transition), long(created)] };

    expect(toHistory(item)).toEqual([created, paid.transition]);
  });

  it('goes on counting versions after the long entries of an old item when short ones follow', () => {
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const fulfilling = transition(paid.next, OrderStatus.FULFILLING, NOW, 'fulfilling');
    const { orderId: _orderId, ...longCreated } = created;
    const item = {
      ...orderItem(order, created),
      history: [longCreated, historyEntry(paid.transition), historyEntry(fulfilling.transition)],
    };

    expect(toHistory(item)).toEqual([created, paid.transition, fulfilling.transition]);
  });

  it('refuses an order item without a history list', () => {
    const { history: _history, ...withoutHistory } = orderItem(order, created);

    expect(() => toHistory(withoutHistory)).toThrow('has no history list');
  });
});

describe('the strict decoders of stored items', () => {
  const payment = paymentFrom(
    { paymentId: 'pi_1', orderId: 'ORDER-1', amount: 10, currency: 'EUR' },
    PaymentStatus.REFUND_PENDING,
    NOW,
    { refundReason: RefundReason.ORDER_CANCELLED, recordedBy: PaymentFactSource.RECONCILIATION },
  );

  it('read back exactly the domain values that were written, without keys, entity type or index keys', () => {
    // Act
    const decodedOrder = toOrder(structuredClone(orderItem(order, created)));
    const decodedPayment = toPayment(structuredClone(paymentItem(payment)));

    // Assess
    expect(decodedOrder).toStrictEqual(order);
    expect(decodedPayment).toStrictEqual(payment);
  });

  it('refuse a stored order whose field has the wrong type, naming the item and the field', () => {
    // Prepare
    const corrupt = { ...orderItem(order, created), version: '2' };

    // Act
    const decoding = () => toOrder(corrupt);

    // Assess
    expect(decoding).toThrow(MalformedStreamItemError);
    expect(decoding).toThrow(/ORDER#ORDER-1\/ORDER.*version/);
  });

  it('refuse a payment with an unknown refund reason', () => {
    expect(() => toPayment({ ...paymentItem(payment), refundReason: 'BECAUSE' })).toThrow(
      MalformedStreamItemError,
    );
  });

  it('read a payment stored before sources were recorded, and refuse an unknown source', () => {
    const { recordedBy: _, ...older } = paymentItem(payment);

    expect(toPayment(older)).not.toHaveProperty('recordedBy');
    expect(() => toPayment({ ...paymentItem(payment), recordedBy: 'rumour' })).toThrow(
      MalformedStreamItemError,
    );
  });

  it('read a saga step entry and refuse one with an unknown status', () => {
    // Prepare
    const entry = {
      ...keys.sagaStep('ORDER-1', 'warehouse-pick'),
      entityType: ENTITY.sagaStep,
      orderId: 'ORDER-1',
      step: 'warehouse-pick',
      status: StepStatus.DONE,
      result: { pickId: 'P-1' },
      updatedAt: NOW.toISOString(),
    };

    // Act
    const decoded = toLedgerEntry(entry);

    // Assess
    expect(decoded).toStrictEqual({
      orderId: 'ORDER-1',
      step: 'warehouse-pick',
      status: StepStatus.DONE,
      result: { pickId: 'P-1' },
      updatedAt: NOW.toISOString(),
    });
    expect(() => toLedgerEntry({ ...entry, status: 'HALF_DONE' })).toThrow(MalformedStreamItemError);
  });

  it('keep saga steps in the order`s partition', () => {
    expect(keys.sagaStep('ORDER-1', 'warehouse-pick')).toEqual({
      PK: keys.order('ORDER-1').PK,
      SK: 'SAGA#warehouse-pick',
    });
  });
});

describe('committedChangesOf', () => {
  it('turns a stream record of an order or a payment into domain values before and after', () => {
    // Prepare
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const before = paymentFrom(
      { paymentId: 'pi_1', orderId: 'ORDER-1', amount: 10, currency: 'EUR' },
      PaymentStatus.PENDING,
      NOW,
    );
    const after = { ...before, status: PaymentStatus.SUCCEEDED };

    // Act
    const placed = committedChangesOf({ eventName: 'INSERT', newImage: orderItem(order, created) });
    const moved = committedChangesOf({
      eventName: 'MODIFY',
      oldImage: orderItem(order, created),
      newImage: {
        ...orderItem(paid.next, created),
        history: [historyEntry(created), historyEntry(paid.transition)],
      },
    });
    const settled = committedChangesOf({
      eventName: 'MODIFY',
      oldImage: paymentItem(before),
      newImage: paymentItem(after),
    });

    // Assess
    expect(placed).toStrictEqual([{ entity: 'order', after: order }]);
    expect(moved).toStrictEqual([{ entity: 'order', before: order, after: paid.next }]);
    expect(settled).toStrictEqual([{ entity: 'payment', before, after }]);
  });

  it('reports a payment in the order item`s map with the order: its intent, then PAID and SUCCEEDED in one write', () => {
    // Prepare
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const pending = paymentFrom(
      { paymentId: 'pi_1', orderId: order.orderId, amount: 10, currency: 'EUR' },
      PaymentStatus.PENDING,
      NOW,
      { recordedBy: PaymentFactSource.CHECKOUT },
    );
    const succeeded = { ...pending, status: PaymentStatus.SUCCEEDED, recordedBy: PaymentFactSource.WEBHOOK };
    const placed = orderItem(order, created);
    const withIntent = { ...placed, payments: { pi_1: embeddedPayment(pending) }, fencingToken: 1 };
    const paidItem = {
      ...orderItem(paid.next, created),
      history: [historyEntry(created), historyEntry(paid.transition)],
      payments: { pi_1: embeddedPayment(succeeded) },
    };

    // Act
    const intent = committedChangesOf({ eventName: 'MODIFY', oldImage: placed, newImage: withIntent });
    const settled = committedChangesOf({ eventName: 'MODIFY', oldImage: withIntent, newImage: paidItem });

    // Assess
    expect(intent).toStrictEqual([
      { entity: 'payment', after: pending },
      { entity: 'order', before: order, after: order },
    ]);
    expect(settled).toStrictEqual([
      { entity: 'payment', before: pending, after: succeeded },
      { entity: 'order', before: order, after: paid.next },
    ]);
    expect(settled.flatMap(deriveEvents).map((event) => event.type)).toEqual([
      'PaymentSucceeded',
      'OrderStatusChanged',
    ]);
    expect(paymentsOf([paidItem])).toEqual([succeeded]);
  });

  it('reads the payments of an order item without a map, and those in items of their own', () => {
    const { payments: _none, ...previousLayout } = orderItem(order, created);
    const owed = paymentFrom(
      { paymentId: 'pi_2', orderId: order.orderId, amount: 10, currency: 'EUR' },
      PaymentStatus.REFUND_PENDING,
      NOW,
      { refundReason: RefundReason.ORDER_CANCELLED },
    );

    expect(paymentsOf([previousLayout, paymentItem(owed)])).toEqual([owed]);
    expect(committedChangesOf({ eventName: 'INSERT', newImage: previousLayout })).toStrictEqual([
      { entity: 'order', after: order },
    ]);
  });

  it('reports nothing for a removal or for a bookkeeping item', () => {
    expect(committedChangesOf({ eventName: 'REMOVE', oldImage: orderItem(order, created) })).toEqual([]);
    expect(
      committedChangesOf({
        eventName: 'INSERT',
        newImage: { ...keys.lease('ORDER-1'), entityType: ENTITY.lease, fencingToken: 1 },
      }),
    ).toEqual([]);
  });
});
