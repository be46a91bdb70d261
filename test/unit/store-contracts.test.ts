import { describe, expect, it } from 'vitest';
import type { Order, OrderTransition } from '../../functions/domain/order';
import type { PaymentLease, TransitionGuard } from '../../functions/domain/ports';
import { leaseStoreContract } from '../support/contracts/lease-store-contract';
import { orderRepositoryContract } from '../support/contracts/order-repository-contract';
import { paymentRepositoryContract } from '../support/contracts/payment-repository-contract';
import { describeContract, type StoreSubject, T0 } from '../support/contracts/subject';
import {
  InMemoryLeaseStore,
  InMemoryOrderRepository,
  InMemoryPaymentRepository,
  InMemoryTable,
} from '../support/in-memory/table';
import { ManualClock, orderIds } from '../support/payment-window';

/** A broken repository: the last writer wins, whatever version its move was decided on. */
class LastWriterWinsOrderRepository extends InMemoryOrderRepository {
  public override async saveTransition(
    previous: Order,
    next: Order,
    transition: OrderTransition,
    guard?: TransitionGuard,
  ): Promise<void> {
    const stored = this.table.orders.get(previous.orderId)?.order;
    await super.saveTransition(stored ?? previous, next, transition, guard);
  }
}

/** A broken lease store: a takeover starts the fencing tokens again, so a stale holder's token is current. */
class ResettingLeaseStore extends InMemoryLeaseStore {
  public override async acquire(
    orderId: string,
    owner: string,
    now: Date,
    seconds: number,
  ): Promise<PaymentLease> {
    if (!this.table.hasLiveLease(orderId, now)) this.table.leases.delete(orderId);
    return await super.acquire(orderId, owner, now, seconds);
  }
}

/** A broken repository: it moves a payment from whatever state it is in, so a replayed callback is applied again. */
class CarelessPaymentRepository extends InMemoryPaymentRepository {
  public override async recordPayment(...[payment]: Parameters<InMemoryPaymentRepository['recordPayment']>) {
    this.table.putPayment(payment);
    return { kind: 'written' } as const;
  }
}

function inMemorySubject(
  build: {
    orders?: (table: InMemoryTable, now: () => Date) => InMemoryOrderRepository;
    leases?: (table: InMemoryTable) => InMemoryLeaseStore;
    payments?: (table: InMemoryTable) => InMemoryPaymentRepository;
  } = {},
): StoreSubject {
  const table = new InMemoryTable();
  const clock = new ManualClock(T0);
  const now = () => clock.now();
  return {
    orders: build.orders?.(table, now) ?? new InMemoryOrderRepository(table, now),
    payments: build.payments?.(table) ?? new InMemoryPaymentRepository(table),
    leases: build.leases?.(table) ?? new InMemoryLeaseStore(table),
    clock,
    newOrderId: orderIds('01MEMORY'),
  };
}

describeContract('the in-memory order repository', orderRepositoryContract, async () => inMemorySubject());
describeContract('the in-memory lease store', leaseStoreContract, async () => inMemorySubject());
describeContract('the in-memory payment repository', paymentRepositoryContract, async () =>
  inMemorySubject(),
);

describe('the store contracts can fail', () => {
  it('catches an order repository that lets a stale move overwrite a newer one', async () => {
    const subject = inMemorySubject({
      orders: (table, now) => new LastWriterWinsOrderRepository(table, now),
    });

    const check =
      orderRepositoryContract['refuses a move decided on a stale version and changes nothing'](subject);

    await expect(check).rejects.toThrow(/promise resolved/);
  });

  it('catches a lease store whose fencing tokens do not grow across a takeover', async () => {
    const subject = inMemorySubject({ leases: (table) => new ResettingLeaseStore(table) });

    const check =
      leaseStoreContract['lets the lease be taken over from the instant it expires, with a token one higher'](
        subject,
      );

    await expect(check).rejects.toMatchObject({ actual: expect.objectContaining({ fencingToken: 1 }) });
  });

  it('catches a payment repository that applies a replayed provider event again', async () => {
    const subject = inMemorySubject({ payments: (table) => new CarelessPaymentRepository(table) });

    const check = paymentRepositoryContract['moves a payment only from the state it was read in'](subject);

    await expect(check).rejects.toMatchObject({
      actual: [{ kind: 'written' }, { kind: 'written' }, { kind: 'written' }],
    });
  });
});
