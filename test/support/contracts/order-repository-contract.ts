import { expect } from 'vitest';
import { transition } from '../../../functions/domain/order';
import { OrderStatus } from '../../../functions/domain/order-status';
import { at, type Contract, draftOrder, moved, storedOrder, T0 } from './subject';

const claim = (key: string, fingerprint: string, expiresAt = at(3600)) => ({
  key,
  requestFingerprint: fingerprint,
  expiresAt,
});

/** What every {@link OrderRepository} must do: conditional creation, versioned moves, the lease guard, the index. */
export const orderRepositoryContract = {
  'round-trips a new order with its creation as the whole timeline and no payments': async (subject) => {
    const { order, created } = draftOrder(subject);

    const outcome = await subject.orders.create(order, created);

    expect(outcome).toEqual({ kind: 'created' });
    expect(await subject.orders.get(order.orderId)).toEqual({ order, history: [created], payments: [] });
  },

  'answers an unknown order with undefined': async (subject) => {
    expect(await subject.orders.get(subject.newOrderId())).toBeUndefined();
  },

  'refuses to create an order whose id exists': async (subject) => {
    const { order, created } = draftOrder(subject);
    await subject.orders.create(order, created);

    const again = subject.orders.create({ ...order, customerId: 'someone-else' }, created);

    await expect(again).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    expect((await subject.orders.get(order.orderId))?.order.customerId).toBe('customer-1');
  },

  'answers a live idempotency key with its first order and fingerprint, creating nothing': async (
    subject,
  ) => {
    const first = draftOrder(subject);
    const second = draftOrder(subject);
    await subject.orders.create(first.order, first.created, claim('customer-1#key-1', 'fp-1'));

    const outcome = await subject.orders.create(
      second.order,
      second.created,
      claim('customer-1#key-1', 'fp-2'),
    );

    expect(outcome).toEqual({
      kind: 'keyAlreadyUsed',
      orderId: first.order.orderId,
      requestFingerprint: 'fp-1',
    });
    expect(await subject.orders.get(second.order.orderId)).toBeUndefined();
  },

  'keeps a key used through its last second and frees it the second after': async (subject) => {
    const first = draftOrder(subject);
    const second = draftOrder(subject);
    const third = draftOrder(subject);
    await subject.orders.create(first.order, first.created, claim('customer-1#key-2', 'fp-1', at(60)));

    subject.clock.set(at(60.5));
    const lastSecond = await subject.orders.create(
      second.order,
      second.created,
      claim('customer-1#key-2', 'fp-2'),
    );
    subject.clock.set(at(61));
    const after = await subject.orders.create(third.order, third.created, claim('customer-1#key-2', 'fp-3'));

    expect(lastSecond.kind).toBe('keyAlreadyUsed');
    expect(after).toEqual({ kind: 'created' });
    expect((await subject.orders.get(third.order.orderId))?.order).toEqual(third.order);
  },

  'keeps keys of different customers apart': async (subject) => {
    const first = draftOrder(subject);
    const second = draftOrder(subject);
    await subject.orders.create(first.order, first.created, claim('customer-1#key', 'fp'));

    const outcome = await subject.orders.create(second.order, second.created, claim('customer-2#key', 'fp'));

    expect(outcome).toEqual({ kind: 'created' });
  },

  'saves a move and appends it to the timeline': async (subject) => {
    const { order, created } = draftOrder(subject);
    await subject.orders.create(order, created);
    const paid = transition(order, OrderStatus.PAID, at(5), 'paid');

    await subject.orders.saveTransition(order, paid.next, paid.transition);

    expect(await subject.orders.get(order.orderId)).toEqual({
      order: paid.next,
      history: [created, paid.transition],
      payments: [],
    });
  },

  'refuses a move decided on a stale version and changes nothing': async (subject) => {
    const order = await storedOrder(subject);
    const current = await moved(subject, order, OrderStatus.PAID);
    const stale = transition(order, OrderStatus.CANCELLED, at(5), 'late cancel');

    const write = subject.orders.saveTransition(order, stale.next, stale.transition);

    await expect(write).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    const stored = await subject.orders.get(order.orderId);
    expect(stored?.order).toEqual(current);
    expect(stored?.history.map((entry) => entry.to)).toEqual([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID]);
  },

  'refuses a move decided for another customer': async (subject) => {
    const order = await storedOrder(subject);
    const foreign = { ...order, customerId: 'customer-2' };
    const decided = transition(foreign, OrderStatus.CANCELLED, at(5), 'cancel');

    const write = subject.orders.saveTransition(foreign, decided.next, decided.transition);

    await expect(write).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    expect((await subject.orders.get(order.orderId))?.order.status).toBe(OrderStatus.PENDING_PAYMENT);
  },

  'reports a move of a missing order as not found': async (subject) => {
    const { order } = draftOrder(subject);
    const decided = transition(order, OrderStatus.CANCELLED, at(5), 'cancel');

    const write = subject.orders.saveTransition(order, decided.next, decided.transition);

    await expect(write).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
  },

  'refuses a guarded move while a lease is live, and allows it from the instant it expires': async (
    subject,
  ) => {
    const order = await storedOrder(subject);
    await subject.leases.acquire(order.orderId, 'payer', at(0), 30);
    const cancel = transition(order, OrderStatus.CANCELLED, at(29), 'cancel');

    const during = subject.orders.saveTransition(order, cancel.next, cancel.transition, {
      noLiveLeaseAt: at(29),
    });
    await expect(during).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    await subject.orders.saveTransition(order, cancel.next, cancel.transition, { noLiveLeaseAt: at(30) });

    expect((await subject.orders.get(order.orderId))?.order.status).toBe(OrderStatus.CANCELLED);
  },

  'allows a guarded move with no lease, or a released one': async (subject) => {
    const unleased = await storedOrder(subject);
    const released = await storedOrder(subject);
    await subject.leases.release(await subject.leases.acquire(released.orderId, 'payer', at(0), 30));

    for (const order of [unleased, released]) {
      const cancel = transition(order, OrderStatus.CANCELLED, at(1), 'cancel');
      await subject.orders.saveTransition(order, cancel.next, cancel.transition, { noLiveLeaseAt: at(1) });
    }

    expect((await subject.orders.get(unleased.orderId))?.order.status).toBe(OrderStatus.CANCELLED);
    expect((await subject.orders.get(released.orderId))?.order.status).toBe(OrderStatus.CANCELLED);
  },

  'finds orders awaiting payment past their deadline, most overdue first, at most the limit': async (
    subject,
  ) => {
    const late = await storedOrder(subject, { timeoutSeconds: 10 });
    const later = await storedOrder(subject, { timeoutSeconds: 20 });
    const latest = await storedOrder(subject, { timeoutSeconds: 30 });
    const dueNow = await storedOrder(subject, { timeoutSeconds: 40 });
    await storedOrder(subject, { timeoutSeconds: 50 });
    await moved(subject, await storedOrder(subject, { timeoutSeconds: 5 }), OrderStatus.CANCELLED);
    await moved(subject, await storedOrder(subject, { timeoutSeconds: 5 }), OrderStatus.PAID);

    const all = await subject.orders.findOverduePendingOrders(at(40), 10);
    const limited = await subject.orders.findOverduePendingOrders(at(40), 2);

    expect(all).toEqual([late.orderId, later.orderId, latest.orderId]);
    expect(all).not.toContain(dueNow.orderId);
    expect(limited).toEqual([late.orderId, later.orderId]);
    expect(await subject.orders.findOverduePendingOrders(T0, 10)).toEqual([]);
  },
} satisfies Contract;
