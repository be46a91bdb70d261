import { describe, expect, it, vi } from 'vitest';
import type { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, RefundReason } from '../../functions/domain/payment';
import type { PaymentService } from '../../functions/domain/payment-service';
import { IntentStatus, PaymentProviderUnavailableError } from '../../functions/domain/ports';
import { createTestTables } from '../support/dynamodb';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import {
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentServiceOn,
  sampleOrder,
  secondsAfter,
} from '../support/payment-window';

const T0 = new Date('2026-11-28T10:00:00.000Z');
const TIMEOUT_SECONDS = 60;
const GRACE_SECONDS = 300;
const DEADLINE = secondsAfter(T0, TIMEOUT_SECONDS);
const CUSTOMER = sampleOrder.customerId;

/**
 * The check-back and the reconciliation through the DynamoDB repositories, on tables of their own, with the
 * in-memory provider standing in for Stripe (its intents are `pi_<orderId>`).
 */
async function paymentWindow(prefix: string): Promise<{
  readonly clock: ManualClock;
  readonly provider: InMemoryPaymentProvider;
  readonly orders: OrderService;
  readonly payments: PaymentService;
  readonly place: () => Promise<string>;
  readonly prepared: (orderId: string) => Promise<string>;
}> {
  const tables = await createTestTables();
  const clock = new ManualClock(T0);
  const provider = new InMemoryPaymentProvider({
    now: () => clock.now(),
    paymentIdFor: (orderId) => `pi_${orderId}`,
  });
  const orders = orderServiceOn(tables, {
    clock,
    paymentTimeoutSeconds: TIMEOUT_SECONDS,
    newOrderId: orderIds(prefix),
  });
  const payments = paymentServiceOn(tables, clock, { provider, processingGraceSeconds: GRACE_SECONDS });
  return {
    clock,
    provider,
    orders,
    payments,
    place: async () => (await orders.placeOrder(sampleOrder)).order.orderId,
    prepared: async (orderId) => (await payments.preparePayment(orderId, CUSTOMER)).intent.paymentId,
  };
}

describe('the check-back before an overdue order is cancelled, on DynamoDB', () => {
  it('cancels the open intent at the provider, then the order; pays the one whose webhook was lost', async () => {
    const { clock, provider, orders, payments, place, prepared } = await paymentWindow('01CHECKBACK');
    const open = await place();
    const openPayment = await prepared(open);
    const paid = await place();
    const paidPayment = await prepared(paid);
    const lost = provider.pay(paidPayment);
    clock.set(DEADLINE);

    const outcomes = [await payments.expireOrder(open, 'timer'), await payments.expireOrder(paid, 'timer')];
    const late = await payments.handleProviderEvent(lost, PaymentFactSource.WEBHOOK);

    expect(outcomes).toEqual(['cancelled', 'paid']);
    expect(late).toBe('duplicate');
    const cancelled = await orders.getOrder(open);
    expect(cancelled.order.status).toBe(OrderStatus.CANCELLED);
    expect(cancelled.payments).toEqual([
      expect.objectContaining({ status: PaymentStatus.CANCELLED, recordedBy: PaymentFactSource.CHECK_BACK }),
    ]);
    expect((await provider.retrieveIntent(openPayment)).status).toBe(IntentStatus.CANCELED);
    const settled = await orders.getOrder(paid);
    expect(settled.order.status).toBe(OrderStatus.PAID);
    expect(settled.payments).toEqual([
      expect.objectContaining({ status: PaymentStatus.SUCCEEDED, recordedBy: PaymentFactSource.CHECK_BACK }),
    ]);
  });

  it('pays the order when the intent succeeds between the check-back and the cancel', async () => {
    const { clock, provider, orders, payments, place, prepared } = await paymentWindow('01CHECKRACE');
    const orderId = await place();
    const paymentId = await prepared(orderId);
    clock.set(DEADLINE);
    const cancel = provider.cancelIntent.bind(provider);
    vi.spyOn(provider, 'cancelIntent').mockImplementationOnce(async (...args) => {
      provider.pay(paymentId);
      return await cancel(...args);
    });

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('paid');
    const { order, history } = await orders.getOrder(orderId);
    expect(order.status).toBe(OrderStatus.PAID);
    expect(history.map((entry) => entry.to)).toEqual([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID]);
  });

  it('sweeps: counts the paid, the processing and the unanswered check-backs, and cancels them after the outage', async () => {
    const { clock, provider, orders, payments, place, prepared } = await paymentWindow('01CHECKSWEEP');
    const paid = await place();
    provider.pay(await prepared(paid));
    const processing = await place();
    const processingPayment = await prepared(processing);
    provider.startProcessing(processingPayment);
    clock.set(secondsAfter(DEADLINE, 1));
    const heldAndPaid = await payments.sweep(10);
    const open = await place();
    await prepared(open);
    clock.set(secondsAfter(DEADLINE, TIMEOUT_SECONDS + 2));
    provider.outage(100);

    const duringOutage = await payments.sweep(10);
    provider.outage(0);
    clock.set(secondsAfter(DEADLINE, GRACE_SECONDS));
    const afterOutage = await payments.sweep(10);
    const success = provider.pay(processingPayment);
    const late = await payments.handleProviderEvent(success, PaymentFactSource.WEBHOOK);

    expect(heldAndPaid).toEqual({
      examined: 2,
      cancelled: 0,
      leased: 0,
      paid: 1,
      heldForProcessing: 1,
      checkBackFailed: 0,
    });
    expect(duringOutage).toMatchObject({ examined: 2, checkBackFailed: 2, cancelled: 0 });
    expect(afterOutage).toMatchObject({ examined: 2, cancelled: 2, checkBackFailed: 0 });
    expect(late).toBe('refundPending');
    expect((await orders.getOrder(processing)).payments).toEqual([
      expect.objectContaining({
        status: PaymentStatus.REFUND_PENDING,
        refundReason: RefundReason.ORDER_CANCELLED,
        recordedBy: PaymentFactSource.WEBHOOK,
      }),
    ]);
  });

  it('cancels nothing on a guess while the provider is down', async () => {
    const { clock, provider, orders, payments, place, prepared } = await paymentWindow('01CHECKDOWN');
    const orderId = await place();
    await prepared(orderId);
    clock.set(DEADLINE);
    provider.outage(1);

    await expect(payments.expireOrder(orderId, 'timer')).rejects.toBeInstanceOf(
      PaymentProviderUnavailableError,
    );
    expect((await orders.getOrder(orderId)).order).toMatchObject({
      status: OrderStatus.PENDING_PAYMENT,
      version: 1,
    });
  });
});

describe('the reconciliation, on DynamoDB', () => {
  it('applies what webhooks did not bring, once, and keeps its checkpoint in the table', async () => {
    const { clock, provider, orders, payments, place, prepared } = await paymentWindow('01RECONCILE');
    const undelivered = await place();
    const undeliveredPayment = await prepared(undelivered);
    const lost = provider.pay(undeliveredPayment);
    const unannounced = await place();
    const unannouncedPayment = await prepared(unannounced);
    provider.acknowledge(provider.pay(unannouncedPayment).id);
    const refunded = await place();
    const refundedPayment = await prepared(refunded);
    await orders.cancelOrder(refunded, CUSTOMER);
    await payments.handleProviderEvent(provider.pay(refundedPayment), PaymentFactSource.WEBHOOK);
    await provider.refund({ paymentId: refundedPayment, amount: 1250, currency: 'EUR' }, 'refund-1');
    provider.completeRefunds(refundedPayment);
    for (const { event } of provider.events) {
      if (event.paymentId === refundedPayment) provider.acknowledge(event.id);
    }
    clock.set(secondsAfter(T0, 30));

    const first = await payments.reconcile({
      maxEvents: 10,
      maxOrders: 10,
      maxRefunds: 10,
      openIntentMinAgeSeconds: 1,
    });
    clock.set(secondsAfter(T0, 90));
    const second = await payments.reconcile({
      maxEvents: 10,
      maxOrders: 10,
      maxRefunds: 10,
      openIntentMinAgeSeconds: 1,
    });
    const late = await payments.handleProviderEvent(lost, PaymentFactSource.WEBHOOK);

    expect(first.changed).toEqual([
      {
        orderId: undelivered,
        paymentId: undeliveredPayment,
        outcome: 'paid',
        foundBy: 'undeliveredEvent',
      },
      { orderId: unannounced, paymentId: unannouncedPayment, outcome: 'paid', foundBy: 'openOrder' },
      { orderId: refunded, paymentId: refundedPayment, outcome: 'refunded', foundBy: 'pendingRefund' },
    ]);
    expect(second).toMatchObject({
      since: secondsAfter(T0, 30 - 5 * 60).toISOString(),
      eventsExamined: 1,
      changed: [],
    });
    expect(late).toBe('duplicate');
    for (const orderId of [undelivered, unannounced]) {
      const { order, payments: recorded } = await orders.getOrder(orderId);
      expect(order.status).toBe(OrderStatus.PAID);
      expect(recorded[0]?.recordedBy).toBe(PaymentFactSource.RECONCILIATION);
    }
    expect((await orders.getOrder(refunded)).payments[0]).toMatchObject({
      status: PaymentStatus.REFUNDED,
      recordedBy: PaymentFactSource.RECONCILIATION,
    });
  });
});
