import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { ConcurrentModificationError, InvalidTransitionError } from '../../functions/domain/errors';
import { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables, type TestTables } from '../support/dynamodb';

let tables: TestTables;
let service: OrderService;
let nextId = 0;

beforeAll(async () => {
  tables = await createTestTables();
  const now = () => new Date();
  service = new OrderService({
    repository: new DynamoDbOrderRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
      pendingIndexName: PENDING_PAYMENT_INDEX.name,
      now,
    }),
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
    const timeline = await tables.documentClient.send(
      new QueryCommand({
        TableName: tables.ordersTableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :transition)',
        ExpressionAttributeValues: { ':pk': `ORDER#${order.orderId}`, ':transition': 'TRANSITION#' },
      }),
    );
    const moves = (timeline.Items ?? []).filter((item) => item.from === OrderStatus.PENDING_PAYMENT);
    expect(moves).toHaveLength(1);
    const stored = await service.getOrder(order.orderId);
    expect(stored.order.version).toBe(2);
    expect(stored.order.status).toBe(moves[0]?.to);
  });
});
