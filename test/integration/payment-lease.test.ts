import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { LeaseNotHeldError, PaymentInProgressError } from '../../functions/domain/errors';
import { newOrder } from '../../functions/domain/order';
import { PaymentStatus, paymentFrom } from '../../functions/domain/payment';
import type { PaymentLease } from '../../functions/domain/ports';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { createTestTables } from '../support/dynamodb';

let leases: DynamoDbLeaseStore;
let payments: DynamoDbPaymentRepository;
let orders: DynamoDbOrderRepository;
let sequence = 0;
const T0 = new Date('2026-11-28T10:00:00.000Z');

function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

/** A stored order: the lease lives in its item. */
async function nextOrderId(): Promise<string> {
  const orderId = `01LEASE${(sequence++).toString().padStart(19, '0')}`;
  const { order, created } = newOrder(
    { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 100 }] },
    { orderId, now: T0, paymentTimeoutSeconds: 60 },
  );
  await orders.create(order, created);
  return orderId;
}

beforeAll(async () => {
  const tables = await createTestTables();
  leases = new DynamoDbLeaseStore({ client: tables.documentClient, tableName: tables.ordersTableName });
  orders = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => T0,
  });
  payments = new DynamoDbPaymentRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
  });
});

describe('the payment lease lock', () => {
  it('gives the lease to exactly one of 50 concurrent acquirers', async () => {
    const orderId = await nextOrderId();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) => leases.acquire(orderId, `owner-${index}`, at(0), 30)),
    );

    const holders = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(holders).toHaveLength(1);
    expect(refused).toHaveLength(49);
    expect(refused.every((reason) => reason instanceof PaymentInProgressError)).toBe(true);
  });

  it('is taken over only after it expired, with a higher fencing token', async () => {
    const orderId = await nextOrderId();
    const first = await leases.acquire(orderId, 'first', at(0), 30);

    const tooEarly = leases.acquire(orderId, 'second', at(29), 30);
    await expect(tooEarly).rejects.toBeInstanceOf(PaymentInProgressError);
    const takeover = await leases.acquire(orderId, 'second', at(30), 30);

    expect(takeover.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(takeover.owner).toBe('second');
  });

  it('refuses the release of a stale owner and keeps the new holder', async () => {
    const orderId = await nextOrderId();
    const stale = await leases.acquire(orderId, 'stale', at(0), 10);
    const current = await leases.acquire(orderId, 'current', at(11), 30);

    await expect(leases.release(stale)).rejects.toBeInstanceOf(LeaseNotHeldError);
    await expect(leases.acquire(orderId, 'third', at(12), 30)).rejects.toBeInstanceOf(PaymentInProgressError);
    await leases.release(current);
    const afterRelease = await leases.acquire(orderId, 'third', at(12), 30);

    expect(afterRelease.fencingToken).toBe(current.fencingToken + 1);
  });

  it('refuses a write under a fenced-out lease and accepts it under the current one', async () => {
    const orderId = await nextOrderId();
    const stale: PaymentLease = await leases.acquire(orderId, 'stale', at(0), 10);
    const current = await leases.acquire(orderId, 'current', at(11), 30);
    const intent = (paymentId: string) =>
      paymentFrom({ paymentId, orderId, amount: 100, currency: 'EUR' }, PaymentStatus.PENDING, at(12));

    await expect(payments.recordIntent(intent(`pi_stale_${orderId}`), stale)).rejects.toBeInstanceOf(
      LeaseNotHeldError,
    );
    await payments.recordIntent(intent(`pi_current_${orderId}`), current);

    expect(await payments.get(orderId, `pi_stale_${orderId}`)).toBeUndefined();
    expect(await payments.get(orderId, `pi_current_${orderId}`)).toMatchObject({ status: 'PENDING' });
  });
});
