import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoDbOrderRepository,
  transitionUpdate,
} from '../../functions/adapters/dynamodb-order-repository';
import { EMBEDDED_PAYMENTS, embeddedPayment, keys } from '../../functions/adapters/dynamodb-table';
import { ConcurrentModificationError, OrderNotFoundError } from '../../functions/domain/errors';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, paymentFrom } from '../../functions/domain/payment';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables, type TestTables } from '../support/dynamodb';

let tables: TestTables;
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

/**
 * An item's size by DynamoDB's rules: attribute names plus values, strings in UTF-8, a number 1 byte plus 1 per
 * two significant digits, null and booleans 1 byte, lists and maps 3 bytes plus 1 per element.
 */
function itemSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace('.', '')
      .replace(/^0+|0+$/g, '');
    return 1 + Math.ceil(Math.max(digits.length, 1) / 2);
  }
  if (value === null || typeof value === 'boolean') return 1;
  if (Array.isArray(value))
    return 3 + value.reduce((total: number, element) => total + 1 + itemSize(element), 0);
  const entries = Object.entries(value as Record<string, unknown>);
  return entries.reduce(
    (total, [name, element]) => total + 1 + Buffer.byteLength(name) + itemSize(element),
    3,
  );
}

beforeAll(async () => {
  tables = await createTestTables();
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

  it('keeps the order item under 1 KB at every step of the happy path, its timeline one entry per version', async () => {
    // The simulator's order, with a customer id as long as a user pool's subject, its payment in the item's
    // map and the lease's fencing counter as the payment writes leave them, and the reasons the real moves give.
    const { order, created } = newOrder(
      {
        customerId: '3f2b8c1e-5d4a-4b7e-9c2f-1a2b3c4d5e6f',
        currency: 'EUR',
        items: [{ sku: 'SKU-12', quantity: 2, unitPrice: 1012 }],
      },
      {
        orderId: `01SIZE${(sequence++).toString().padStart(20, '0')}`,
        now: NOW,
        paymentTimeoutSeconds: 1800,
      },
    );
    const paymentId = 'pi_3QdT9vJ2eZvKYlo2C1a2b3c4';
    const key = keys.order(order.orderId);
    const stored = async () =>
      (await tables.documentClient.send(new GetCommand({ TableName: tables.ordersTableName, Key: key })))
        .Item ?? {};
    const sizes: number[] = [];
    await repository.create(order, created);
    sizes.push(itemSize(await stored()));
    const payment = paymentFrom(
      { paymentId, orderId: order.orderId, amount: 2024, currency: 'EUR' },
      PaymentStatus.SUCCEEDED,
      NOW,
      {
        recordedBy: PaymentFactSource.WEBHOOK,
      },
    );
    await tables.documentClient.send(
      new UpdateCommand({
        TableName: tables.ordersTableName,
        Key: key,
        UpdateExpression: 'SET #payments.#paymentId = :payment, fencingToken = :token',
        ExpressionAttributeNames: { '#payments': EMBEDDED_PAYMENTS, '#paymentId': paymentId },
        ExpressionAttributeValues: { ':payment': embeddedPayment(payment), ':token': 1 },
      }),
    );
    const paid = transition(order, OrderStatus.PAID, NOW, `paid by ${paymentId}`);
    await repository.saveTransition(order, paid.next, paid.transition);
    sizes.push(itemSize(await stored()));
    const logistics = (n: number) =>
      `logistics 6f1c1a52-0b7e-4d0e-9a52-9d3f6c1e2b7${n} at ${NOW.toISOString()}`;
    const moves: [OrderStatus, string][] = [
      [OrderStatus.FULFILLING, 'fulfilment started'],
      [OrderStatus.FULFILLED, 'fulfilment saga completed'],
      [OrderStatus.OUTBOUND, logistics(1)],
      [OrderStatus.SHIPPED, logistics(2)],
      [OrderStatus.DELIVERED, logistics(3)],
    ];
    let from: OrderStatus = OrderStatus.PAID;
    for (const [to, reason] of moves) {
      const { moved } = await repository.advance(order.orderId, { from: [from], to, at: NOW, reason });
      expect(moved).toBe(true);
      sizes.push(itemSize(await stored()));
      from = to;
    }

    const { history } = (await repository.get(order.orderId)) ?? { history: [] };
    expect(history.map((entry) => [entry.version, entry.to])).toEqual([
      [1, OrderStatus.PENDING_PAYMENT],
      [2, OrderStatus.PAID],
      ...moves.map(([to], index) => [index + 3, to]),
    ]);
    expect(sizes).toHaveLength(7);
    for (const size of sizes) expect(size).toBeLessThan(1024);
  });

  it('creates an order without an idempotency key once; the same id again is a concurrent modification', async () => {
    const { order, created } = placed();
    await repository.create(order, created);

    await expect(repository.create(order, created)).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect((await repository.get(order.orderId))?.history).toEqual([created]);
  });

  it('gets the old item back from a failed single-item condition, which tells a stale move from a missing order', async () => {
    // DynamoDB Local must honour ReturnValuesOnConditionCheckFailure on UpdateItem: the error mapping relies on it.
    const { order, created } = placed();
    await repository.create(order, created);
    const first = transition(order, OrderStatus.PAID, NOW, 'paid');
    await repository.saveTransition(order, first.next, first.transition);
    const stale = transition(order, OrderStatus.CANCELLED, NOW, 'stale');

    const failure = await tables.documentClient
      .send(new UpdateCommand(transitionUpdate(tables.ordersTableName, order, stale.next, stale.transition)))
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(failure).toBeInstanceOf(ConditionalCheckFailedException);
    expect((failure as ConditionalCheckFailedException).Item?.version).toEqual({ N: '2' });
    await expect(repository.saveTransition(order, stale.next, stale.transition)).rejects.toBeInstanceOf(
      ConcurrentModificationError,
    );
  });
});
