import { describe, it } from 'vitest';
import { newOrder, type Order, type OrderTransition, transition } from '../../../functions/domain/order';
import type { OrderStatus } from '../../../functions/domain/order-status';
import type { LeaseStore, OrderRepository, PaymentRepository } from '../../../functions/domain/ports';
import type { ManualClock } from '../payment-window';

/**
 * What every store contract runs against: the three stores over one table (in memory, or DynamoDB), the clock
 * the order repository reads "now" from, and fresh order ids. Each check gets a subject of its own.
 */
export interface StoreSubject {
  readonly orders: OrderRepository;
  readonly payments: PaymentRepository;
  readonly leases: LeaseStore;
  readonly clock: ManualClock;
  readonly newOrderId: () => string;
}

export type ContractCheck = (subject: StoreSubject) => Promise<void>;

/** A contract: checks by title, so a test can run one of them against a store that must fail it. */
export type Contract = Readonly<Record<string, ContractCheck>>;

export function describeContract(
  title: string,
  contract: Contract,
  subject: () => Promise<StoreSubject>,
): void {
  describe(title, () => {
    for (const [name, check] of Object.entries(contract)) {
      it(name, async () => {
        await check(await subject());
      });
    }
  });
}

export const T0 = new Date('2026-11-28T10:00:00.000Z');

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

/** A new order awaiting payment (due `timeoutSeconds` after `now`), not yet stored. */
export function draftOrder(
  subject: StoreSubject,
  options: { readonly now?: Date; readonly timeoutSeconds?: number; readonly customerId?: string } = {},
): { order: Order; created: OrderTransition } {
  return newOrder(
    {
      customerId: options.customerId ?? 'customer-1',
      currency: 'EUR',
      items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
    },
    {
      orderId: subject.newOrderId(),
      now: options.now ?? T0,
      paymentTimeoutSeconds: options.timeoutSeconds ?? 60,
    },
  );
}

export async function storedOrder(
  subject: StoreSubject,
  options: Parameters<typeof draftOrder>[1] = {},
): Promise<Order> {
  const { order, created } = draftOrder(subject, options);
  await subject.orders.create(order, created);
  return order;
}

/** Moves a stored order through `statuses` one conditional write at a time; returns the last version. */
export async function moved(subject: StoreSubject, order: Order, ...statuses: OrderStatus[]): Promise<Order> {
  let current = order;
  for (const status of statuses) {
    const decided = transition(current, status, T0, `to ${status}`);
    await subject.orders.saveTransition(current, decided.next, decided.transition);
    current = decided.next;
  }
  return current;
}

/** What `pending` was rejected with; fails if it was fulfilled. Lets a check hold several refusals at once. */
export async function rejectionOf(pending: Promise<unknown>): Promise<unknown> {
  return await pending.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}
