import { describe, expect, it } from 'vitest';
import { newOrder, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import {
  decideSucceededPayment,
  isOpenPayment,
  PAYMENT_STATUSES,
  type Payment,
  PaymentStatus,
  paymentFrom,
  RefundReason,
} from '../../functions/domain/payment';

const NOW = new Date('2026-11-28T10:00:00.000Z');
const { order } = newOrder(
  { customerId: 'c', currency: 'EUR', items: [{ sku: 'A', quantity: 2, unitPrice: 500 }] },
  { orderId: 'ORDER-1', now: NOW, paymentTimeoutSeconds: 60 },
);
const reported = { paymentId: 'pi_1', orderId: 'ORDER-1', amount: 1000, currency: 'EUR' };

function payment(status: Payment['status']): Payment {
  return paymentFrom(reported, status, NOW);
}

describe('decideSucceededPayment', () => {
  it('pays an order awaiting payment whose amount and currency match, with or without an intent', () => {
    expect(decideSucceededPayment(reported, order, undefined)).toEqual({ kind: 'pay' });
    expect(decideSucceededPayment(reported, order, payment(PaymentStatus.PENDING))).toEqual({ kind: 'pay' });
    expect(decideSucceededPayment(reported, order, payment(PaymentStatus.FAILED))).toEqual({ kind: 'pay' });
  });

  it('pays past the deadline while no timeout has cancelled the order: the first conditional write wins', () => {
    const late = { ...order, paymentDeadline: '2026-11-28T09:00:00.000Z' };

    expect(decideSucceededPayment(reported, late, undefined)).toEqual({ kind: 'pay' });
  });

  it.each([
    [
      'a cancelled order',
      transition(order, OrderStatus.CANCELLED, NOW, 'x').next,
      RefundReason.ORDER_CANCELLED,
    ],
    [
      'an order already paid',
      transition(order, OrderStatus.PAID, NOW, 'x').next,
      RefundReason.ORDER_ALREADY_PAID,
    ],
    ['an unknown order', undefined, RefundReason.ORDER_NOT_FOUND],
    ['another amount', { ...order, totalAmount: 999 }, RefundReason.AMOUNT_MISMATCH],
    ['another currency', { ...order, currency: 'USD' }, RefundReason.AMOUNT_MISMATCH],
  ])('owes a refund for money that arrives for %s', (_, target, reason) => {
    expect(decideSucceededPayment(reported, target, undefined)).toEqual({ kind: 'refund', reason });
  });

  it.each([PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_PENDING, PaymentStatus.REFUNDED])(
    'changes nothing for a payment already %s',
    (status) => {
      const existing = payment(status);

      expect(decideSucceededPayment(reported, order, existing)).toEqual({
        kind: 'alreadySettled',
        payment: existing,
      });
    },
  );
});

describe('isOpenPayment', () => {
  it('is open before any record, and while pending or failed; every other status is final', () => {
    expect(isOpenPayment(undefined)).toBe(true);
    expect(PAYMENT_STATUSES.filter((status) => isOpenPayment(payment(status)))).toEqual([
      PaymentStatus.PENDING,
      PaymentStatus.FAILED,
    ]);
  });
});
