import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  committedChangeOf,
  conditionalWrite,
  ENTITY,
  historyEntry,
  keys,
  MalformedStreamItemError,
  orderItem,
  paymentItem,
  toHistory,
  toLedgerEntry,
  toOrder,
  toPayment,
} from '../../functions/adapters/dynamodb-table';
import { newOrder, transition } from '../../functions/domain/order';
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
  it('holds the creation entry without the order id, and reads back as the domain`s transitions', () => {
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    const item = {
      ...orderItem(order, created),
      history: [historyEntry(paid.transition), historyEntry(created)],
    };

    expect(orderItem(order, created).history).toEqual([
      {
        version: 1,
        from: null,
        to: OrderStatus.PENDING_PAYMENT,
        at: NOW.toISOString(),
        reason: 'order placed',
      },
    ]);
    expect(toHistory(item)).toEqual([created, paid.transition]);
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

describe('committedChangeOf', () => {
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
    const placed = committedChangeOf({ eventName: 'INSERT', newImage: orderItem(order, created) });
    const moved = committedChangeOf({
      eventName: 'MODIFY',
      oldImage: orderItem(order, created),
      newImage: {
        ...orderItem(paid.next, created),
        history: [historyEntry(created), historyEntry(paid.transition)],
      },
    });
    const settled = committedChangeOf({
      eventName: 'MODIFY',
      oldImage: paymentItem(before),
      newImage: paymentItem(after),
    });

    // Assess
    expect(placed).toStrictEqual({ entity: 'order', after: order });
    expect(moved).toStrictEqual({ entity: 'order', before: order, after: paid.next });
    expect(settled).toStrictEqual({ entity: 'payment', before, after });
  });

  it('reports nothing for a removal or for a bookkeeping item', () => {
    expect(committedChangeOf({ eventName: 'REMOVE', oldImage: orderItem(order, created) })).toBeUndefined();
    expect(
      committedChangeOf({
        eventName: 'INSERT',
        newImage: { ...keys.lease('ORDER-1'), entityType: ENTITY.lease, fencingToken: 1 },
      }),
    ).toBeUndefined();
  });
});
