import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { keys, toHistory } from '../../functions/adapters/dynamodb-table';
import { ConcurrentModificationError, InvalidTransitionError } from '../../functions/domain/errors';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables, type TestTables } from '../support/dynamodb';

let tables: TestTables;
let service: OrderService;
let repository: DynamoDbOrderRepository;
let nextId = 0;

beforeAll(async () => {
  tables = await createTestTables();
  const now = () => new Date();
  repository = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now,
  });
  service = new OrderService({
    repository,
    timers: { schedule: async () => undefined, cancel: async () => undefined },
    clock: { now },
    ids: { newOrderId: () => `01RACE${(nextId++).toString().padStart(20, '0')}` },
    paymentTimeoutSeconds: 1800,
    idempotencyKeyTtlSeconds: 3600,
  });
});

describe('racing transitions out of PENDING_PAYMENT', () => {
  it('lets exactly one of 100 concurrent attempts win; the others get a conflict', async () => {
    const { order } = await service.placeOrder({
      customerId: 'racer',
      currency: 'EUR',
      items: [{ sku: 'A', quantity: 1, unitPrice: 100 }],
    });
    const attempts = Array.from({ length: 100 }, (_, index) => {
      const target = index % 2 === 0 ? OrderStatus.CANCELLED : OrderStatus.PAID;
      return service.moveOrder(order.orderId, target, `attempt ${index}`);
    });

    const outcomes = await Promise.allSettled(attempts);

    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const losers = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(99);
    for (const loser of losers) {
      expect(
        loser instanceof ConcurrentModificationError || loser instanceof InvalidTransitionError,
        String(loser),
      ).toBe(true);
    }
    const { Item: stored } = await tables.documentClient.send(
      new GetCommand({
        TableName: tables.ordersTableName,
        Key: keys.order(order.orderId),
        ConsistentRead: true,
      }),
    );
    // The stored list holds one entry per version, which is what the timeline's versions are read from.
    expect(stored?.history).toHaveLength(2);
    const history = toHistory(stored ?? {});
    expect(history.map((entry) => entry.version)).toEqual([1, 2]);
    expect(history[1]?.from).toBe(OrderStatus.PENDING_PAYMENT);
    expect(stored?.version).toBe(2);
    expect(stored?.status).toBe(history[1]?.to);
  });

  it('lets one of two moves decided on the same version land; the other is a ConcurrentModificationError', async () => {
    const { order, created } = newOrder(
      { customerId: 'racer', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 100 }] },
      {
        orderId: `01RACE${(nextId++).toString().padStart(20, '0')}`,
        now: new Date(),
        paymentTimeoutSeconds: 60,
      },
    );
    await repository.create(order, created);
    const paid = transition(order, OrderStatus.PAID, new Date(), 'paid');
    const cancelled = transition(order, OrderStatus.CANCELLED, new Date(), 'cancelled');

    const outcomes = await Promise.allSettled([
      repository.saveTransition(order, paid.next, paid.transition),
      repository.saveTransition(order, cancelled.next, cancelled.transition),
    ]);

    const losers = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(losers).toHaveLength(1);
    expect(losers[0]).toBeInstanceOf(ConcurrentModificationError);
    const stored = await repository.get(order.orderId);
    expect(stored?.history.map((entry) => entry.version)).toEqual([1, 2]);
    expect(stored?.history[1]).toEqual(
      stored?.order.status === OrderStatus.PAID ? paid.transition : cancelled.transition,
    );
  });
});
