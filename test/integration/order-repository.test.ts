import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { ConcurrentModificationError, OrderNotFoundError } from '../../functions/domain/errors';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables } from '../support/dynamodb';

let repository: DynamoDbOrderRepository;
const NOW = new Date('2026-11-28T10:00:00.000Z');
let sequence = 0;

function placed() {
  const orderId = `01REPO${(sequence++).toString().padStart(20, '0')}`;
  return newOrder(
    { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 10 }] },
    { orderId, now: NOW, paymentTimeoutSeconds: 60 },
  );
}

beforeAll(async () => {
  const tables = await createTestTables();
  repository = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => NOW,
  });
});

describe('DynamoDbOrderRepository', () => {
  it('round-trips an order and its timeline', async () => {
    const { order, created } = placed();
    await repository.create(order, created);
    const paid = transition(order, OrderStatus.PAID, NOW, 'paid');
    await repository.saveTransition(order, paid.next, paid.transition);

    const stored = await repository.get(order.orderId);

    expect(stored?.order).toEqual(paid.next);
    expect(stored?.history).toEqual([created, paid.transition]);
  });

  it('refuses a transition decided on a stale version and changes nothing', async () => {
    const { order, created } = placed();
    await repository.create(order, created);
    const first = transition(order, OrderStatus.PAID, NOW, 'paid');
    await repository.saveTransition(order, first.next, first.transition);
    const second = transition(first.next, OrderStatus.FULFILLING, NOW, 'fulfilling');
    await repository.saveTransition(first.next, second.next, second.transition);
    // Decided on version 2 (PAID), which is gone: the write must fail though its timeline slot (v3) is taken too.
    const stale = transition(first.next, OrderStatus.FULFILLING, NOW, 'late duplicate');

    await expect(repository.saveTransition(first.next, stale.next, stale.transition)).rejects.toBeInstanceOf(
      ConcurrentModificationError,
    );
    const stored = await repository.get(order.orderId);
    expect(stored?.order.version).toBe(3);
    expect(stored?.history.map((entry) => entry.reason)).toEqual(['order placed', 'paid', 'fulfilling']);
  });

  it('reports a transition of a missing order as not found', async () => {
    const { order } = placed();
    const cancelled = transition(order, OrderStatus.CANCELLED, NOW, 'cancel');

    await expect(
      repository.saveTransition(order, cancelled.next, cancelled.transition),
    ).rejects.toBeInstanceOf(OrderNotFoundError);
    expect(await repository.get(order.orderId)).toBeUndefined();
  });

  it('treats an expired idempotency key as free again', async () => {
    const first = placed();
    const second = placed();
    const claim = {
      key: `expiring-${sequence}`,
      requestFingerprint: 'f1',
      expiresAt: new Date(NOW.getTime() - 1000),
    };

    await repository.create(first.order, first.created, claim);
    const outcome = await repository.create(second.order, second.created, {
      ...claim,
      requestFingerprint: 'f2',
    });

    expect(outcome).toEqual({ kind: 'created' });
  });
});
