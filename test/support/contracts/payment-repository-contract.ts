import { expect } from 'vitest';
import { transition } from '../../../functions/domain/order';
import { OrderStatus } from '../../../functions/domain/order-status';
import {
  type Payment,
  PaymentFactSource,
  PaymentStatus,
  paymentFrom,
  RefundReason,
} from '../../../functions/domain/payment';
import { type ProviderEvent, ProviderEventSubject } from '../../../functions/domain/ports';
import { at, type Contract, moved, rejectionOf, type StoreSubject, storedOrder } from './subject';

function payment(orderId: string, paymentId: string, status: PaymentStatus, seconds = 1): Payment {
  return paymentFrom({ paymentId, orderId, amount: 2500, currency: 'EUR' }, status, at(seconds));
}

function moveOf(status: PaymentStatus, from: Payment, seconds: number): Payment {
  return { ...from, status, updatedAt: at(seconds).toISOString() };
}

let events = 0;

/** A provider event id not used before, in any table (DynamoDB Local's tables outlive a run). */
function event(name: string) {
  events += 1;
  return { eventId: `evt_${name}_${Date.now()}_${events}`, expiresAt: at(86_400) };
}

async function pendingPayment(subject: StoreSubject, orderId: string, paymentId: string): Promise<Payment> {
  const pending = payment(orderId, paymentId, PaymentStatus.PENDING);
  const lease = await subject.leases.acquire(orderId, 'payer', at(0), 30);
  await subject.payments.recordIntent(pending, lease);
  return pending;
}

/** What every {@link PaymentRepository} must do: fenced intents, payment moves from the state read, events once. */
export const paymentRepositoryContract = {
  'records an intent under the current lease, with the order it belongs to': async (subject) => {
    const order = await storedOrder(subject);

    const pending = await pendingPayment(subject, order.orderId, `pi_${order.orderId}`);

    expect(await subject.payments.get(order.orderId, pending.paymentId)).toEqual(pending);
    expect((await subject.orders.get(order.orderId))?.payments).toEqual([pending]);
  },

  'answers an unknown payment with undefined': async (subject) => {
    expect(await subject.payments.get(subject.newOrderId(), 'pi_unknown')).toBeUndefined();
  },

  'refuses an intent under a lease that was taken over, or released': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const stale = await subject.leases.acquire(orderId, 'stale', at(0), 10);
    const current = await subject.leases.acquire(orderId, 'current', at(10), 30);
    await subject.leases.release(current);

    const underStale = await rejectionOf(
      subject.payments.recordIntent(payment(orderId, 'pi_stale', PaymentStatus.PENDING), stale),
    );
    const underReleased = await rejectionOf(
      subject.payments.recordIntent(payment(orderId, 'pi_released', PaymentStatus.PENDING), current),
    );

    expect(underStale).toMatchObject({ code: 'LEASE_NOT_HELD' });
    expect(underReleased).toMatchObject({ code: 'LEASE_NOT_HELD' });
    expect(await subject.payments.get(orderId, 'pi_stale')).toBeUndefined();
    expect(await subject.payments.get(orderId, 'pi_released')).toBeUndefined();
  },

  'takes the same intent recorded again as done (a retried write that went through)': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const pending = payment(orderId, 'pi_retried', PaymentStatus.PENDING);
    const lease = await subject.leases.acquire(orderId, 'payer', at(0), 30);
    await subject.payments.recordIntent(pending, lease);

    await subject.payments.recordIntent(pending, lease);

    expect(await subject.payments.get(orderId, 'pi_retried')).toEqual(pending);
    expect((await subject.orders.get(orderId))?.payments).toEqual([pending]);
  },

  'refuses a second intent with the same payment id': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const pending = await pendingPayment(subject, orderId, 'pi_twice');
    const lease = await subject.leases.acquire(orderId, 'again', at(30), 30);

    const again = subject.payments.recordIntent({ ...pending, amount: 1 }, lease);

    await expect(again).rejects.toThrow();
    expect(await subject.payments.get(orderId, 'pi_twice')).toEqual(pending);
  },

  'moves a payment only from the state it was read in': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const pending = await pendingPayment(subject, orderId, 'pi_fail');
    const failed = moveOf(PaymentStatus.FAILED, pending, 2);

    const first = await subject.payments.recordPayment(failed, pending);
    const replay = await subject.payments.recordPayment(failed, pending);
    const stale = await subject.payments.recordPayment(moveOf(PaymentStatus.FAILED, pending, 3), pending);

    expect([first, replay, stale]).toEqual([
      { kind: 'written' },
      { kind: 'paymentChanged' },
      { kind: 'paymentChanged' },
    ]);
    expect(await subject.payments.get(orderId, 'pi_fail')).toEqual(failed);
  },

  'creates a payment only if it is absent': async (subject) => {
    const orderId = subject.newOrderId();
    const refund = payment(orderId, 'pi_new', PaymentStatus.REFUND_PENDING);

    const first = await subject.payments.recordPayment(refund, undefined);
    const second = await subject.payments.recordPayment(moveOf(refund.status, refund, 3), undefined);

    expect([first, second]).toEqual([{ kind: 'written' }, { kind: 'paymentChanged' }]);
    expect(await subject.payments.get(orderId, 'pi_new')).toEqual(refund);
  },

  'pays the order and settles the payment together': async (subject) => {
    const order = await storedOrder(subject);
    const pending = await pendingPayment(subject, order.orderId, 'pi_paid');
    const paid = transition(order, OrderStatus.PAID, at(5), 'paid');
    const succeeded = moveOf(PaymentStatus.SUCCEEDED, pending, 5);

    const outcome = await subject.payments.recordPaid(succeeded, pending, { previous: order, ...paid });

    expect(outcome).toEqual({ kind: 'written' });
    expect(await subject.orders.get(order.orderId)).toMatchObject({
      order: paid.next,
      payments: [succeeded],
    });
  },

  'writes no payment when the order moved on': async (subject) => {
    const order = await storedOrder(subject);
    await moved(subject, order, OrderStatus.CANCELLED);
    const pending = await pendingPayment(subject, order.orderId, 'pi_late');
    const paid = transition(order, OrderStatus.PAID, at(5), 'paid');

    const outcome = await subject.payments.recordPaid(moveOf(PaymentStatus.SUCCEEDED, pending, 5), pending, {
      previous: order,
      ...paid,
    });
    const refund = moveOf(PaymentStatus.REFUND_PENDING, pending, 6);
    const retried = await subject.payments.recordPayment(refund, pending);

    expect(outcome).toEqual({ kind: 'orderChanged' });
    expect(retried).toEqual({ kind: 'written' });
    expect((await subject.orders.get(order.orderId))?.order.status).toBe(OrderStatus.CANCELLED);
    expect(await subject.payments.get(order.orderId, 'pi_late')).toEqual(refund);
  },

  'answers a payment changed under a paying order as paymentChanged, and leaves the order': async (
    subject,
  ) => {
    const order = await storedOrder(subject);
    const pending = await pendingPayment(subject, order.orderId, 'pi_moved');
    await subject.payments.recordPayment(moveOf(PaymentStatus.FAILED, pending, 2), pending);
    const paid = transition(order, OrderStatus.PAID, at(5), 'paid');

    const outcome = await subject.payments.recordPaid(moveOf(PaymentStatus.SUCCEEDED, pending, 5), pending, {
      previous: order,
      ...paid,
    });

    expect(outcome).toEqual({ kind: 'paymentChanged' });
    expect((await subject.orders.get(order.orderId))?.order.status).toBe(OrderStatus.PENDING_PAYMENT);
  },

  'moves a payment with its order transition together, from exactly what was read': async (subject) => {
    const order = await storedOrder(subject);
    const pending = await pendingPayment(subject, order.orderId, 'pi_refund');
    const succeeded = moveOf(PaymentStatus.SUCCEEDED, pending, 2);
    const paid = transition(order, OrderStatus.PAID, at(2), 'paid');
    await subject.payments.recordPaid(succeeded, pending, { previous: order, ...paid });
    const fulfilling = await moved(subject, paid.next, OrderStatus.FULFILLING);
    const failed = transition(fulfilling, OrderStatus.FULFILLMENT_FAILED, at(9), 'out of stock');
    const owed = {
      ...moveOf(PaymentStatus.REFUND_PENDING, succeeded, 9),
      refundReason: RefundReason.FULFILLMENT_FAILED,
    };

    const stalePayment = await subject.payments.recordPaymentWithTransition(owed, pending, {
      previous: fulfilling,
      ...failed,
    });
    const staleOrder = await subject.payments.recordPaymentWithTransition(owed, succeeded, {
      previous: paid.next,
      ...transition(paid.next, OrderStatus.FULFILLING, at(9), 'again'),
    });
    const written = await subject.payments.recordPaymentWithTransition(owed, succeeded, {
      previous: fulfilling,
      ...failed,
    });

    expect([stalePayment, staleOrder, written]).toEqual([
      { kind: 'paymentChanged' },
      { kind: 'orderChanged' },
      { kind: 'written' },
    ]);
    expect(await subject.orders.get(order.orderId)).toMatchObject({ order: failed.next, payments: [owed] });
  },

  'counts refunds owed since before a time, and samples their payments oldest first': async (subject) => {
    const orders = [subject.newOrderId(), subject.newOrderId(), subject.newOrderId(), subject.newOrderId()];
    const [early, earlier, settled, recent] = orders as [string, string, string, string];
    for (const [orderId, seconds] of [
      [early, 10],
      [earlier, 5],
      [settled, 5],
      [recent, 20],
    ] as const) {
      await subject.payments.recordPayment(
        payment(orderId, `pi_${orderId}`, PaymentStatus.REFUND_PENDING, seconds),
        undefined,
      );
    }
    const owed = (await subject.payments.get(settled, `pi_${settled}`)) as Payment;
    await subject.payments.recordPayment(moveOf(PaymentStatus.REFUNDED, owed, 6), owed);

    const all = await subject.payments.findRefundsPendingSince(at(20), 10);
    const sample = await subject.payments.findRefundsPendingSince(at(20), 1);

    expect(all).toEqual({
      count: 2,
      sample: [
        { orderId: earlier, paymentId: `pi_${earlier}` },
        { orderId: early, paymentId: `pi_${early}` },
      ],
    });
    expect(sample).toEqual({ count: 2, sample: [{ orderId: earlier, paymentId: `pi_${earlier}` }] });
  },

  'records an event that matches no payment once, claiming its id': async (subject) => {
    const claim = event('unmatched');
    const unmatched: ProviderEvent = {
      id: claim.eventId,
      type: 'payment_intent.succeeded',
      subject: ProviderEventSubject.PAYMENT_INTENT,
      paymentId: `pi_stranger_${subject.newOrderId()}`,
      orderId: subject.newOrderId(),
      created: at(3),
    };

    const first = await subject.payments.recordUnmatchedEvent(unmatched, claim);
    const again = await subject.payments.recordUnmatchedEvent({ ...unmatched, orderId: undefined }, claim);

    expect([first, again]).toEqual([{ kind: 'written' }, { kind: 'duplicateEvent' }]);
  },

  'keeps the reconciliation checkpoint, moved only from where it was read': async (subject) => {
    const before = await subject.payments.reconciliationCheckpoint();

    const first = await subject.payments.saveReconciliationCheckpoint(at(10), undefined);
    const afterFirst = await subject.payments.reconciliationCheckpoint();
    const asIfAbsent = await subject.payments.saveReconciliationCheckpoint(at(30), undefined);
    const fromStale = await subject.payments.saveReconciliationCheckpoint(at(30), at(5));
    const moved = await subject.payments.saveReconciliationCheckpoint(at(20), at(10));

    expect(before).toBeUndefined();
    expect(afterFirst).toEqual(at(10));
    expect([first, asIfAbsent, fromStale, moved]).toEqual([true, false, false, true]);
    expect(await subject.payments.reconciliationCheckpoint()).toEqual(at(20));
  },

  'keeps who learnt each payment fact, and reads a payment recorded without one': async (subject) => {
    const { orderId } = await storedOrder(subject);
    const untold = await pendingPayment(subject, orderId, 'pi_untold');
    const checkout = paymentFrom(
      { paymentId: 'pi_told', orderId, amount: 2500, currency: 'EUR' },
      PaymentStatus.PENDING,
      at(1),
      { recordedBy: PaymentFactSource.CHECKOUT },
    );
    await subject.payments.recordIntent(checkout, await subject.leases.acquire(orderId, 'again', at(40), 30));
    const reconciled = {
      ...moveOf(PaymentStatus.FAILED, checkout, 50),
      recordedBy: PaymentFactSource.RECONCILIATION,
    };
    await subject.payments.recordPayment(reconciled, checkout);

    expect(await subject.payments.get(orderId, 'pi_told')).toEqual(reconciled);
    expect(await subject.payments.get(orderId, 'pi_untold')).not.toHaveProperty('recordedBy');
    expect(await subject.payments.get(orderId, 'pi_untold')).toEqual(untold);
  },
} satisfies Contract;
