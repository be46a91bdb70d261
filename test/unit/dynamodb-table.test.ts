import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  conditionalWrite,
  historyEntry,
  orderItem,
  toHistory,
} from '../../functions/adapters/dynamodb-table';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';

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
