import { describe, expect, it, vi } from 'vitest';
import { ConcurrentModificationError, LeaseNotHeldError } from '../../functions/domain/errors';
import { transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentStatus, RefundReason } from '../../functions/domain/payment';
import {
  PaymentService,
  type ProviderEvent,
  ProviderEventType,
} from '../../functions/domain/payment-service';
import { RecordingPaymentProvider } from '../support/in-memory/outside';
import { inMemoryOrderService, T0 } from '../support/in-memory/services';
import { sampleOrder, secondsAfter } from '../support/payment-window';

const TIMEOUT_SECONDS = 900;
const LEASE_SECONDS = 30;
const RETENTION_SECONDS = 7 * 24 * 60 * 60;
const CUSTOMER = sampleOrder.customerId;
/** The order total of `sampleOrder`. */
const AMOUNT = 1250;

function setup(options: { readonly sweepConcurrency?: number } = {}) {
  const { clock, stores, timers, orders } = inMemoryOrderService('01PAYSVC', {
    paymentTimeoutSeconds: TIMEOUT_SECONDS,
  });
  const provider = new RecordingPaymentProvider();
  let owners = 0;
  const payments = new PaymentService({
    orders: stores.orders,
    payments: stores.payments,
    leases: stores.leases,
    provider,
    timers,
    clock,
    newLeaseOwner: () => `owner-${++owners}`,
    leaseSeconds: LEASE_SECONDS,
    eventRetentionSeconds: RETENTION_SECONDS,
    ...options,
  });
  const place = async (): Promise<string> => (await orders.placeOrder(sampleOrder)).order.orderId;
  return { clock, stores, timers, provider, payments, orders, place };
}

let events = 0;

function providerEvent(
  type: ProviderEvent['type'],
  orderId: string,
  data: Partial<ProviderEvent['data']> = {},
): ProviderEvent {
  events += 1;
  return {
    id: `evt_${events}`,
    type,
    data: { paymentId: `pi_${orderId}`, orderId, amount: AMOUNT, currency: 'EUR', ...data },
  };
}

async function statusOf(stores: ReturnType<typeof setup>['stores'], orderId: string) {
  return (await stores.orders.get(orderId))?.order.status;
}

describe('PaymentService.preparePayment', () => {
  it("creates the order's intent under a fresh lease, records it as pending and releases the lease", async () => {
    const { payments, stores, provider, place } = setup();
    const orderId = await place();

    const intent = await payments.preparePayment(orderId, CUSTOMER);
    const again = await payments.preparePayment(orderId, CUSTOMER);

    expect(intent).toMatchObject({ orderId, amount: AMOUNT, currency: 'EUR' });
    expect(await stores.payments.get(orderId, intent.paymentId)).toStrictEqual({
      paymentId: intent.paymentId,
      orderId,
      status: PaymentStatus.PENDING,
      amount: AMOUNT,
      currency: 'EUR',
      createdAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
    });
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`, `intent-${orderId}-2`]);
    expect(again.paymentId).not.toBe(intent.paymentId);
  });

  it("treats another customer's order as missing and takes no lease", async () => {
    const { payments, stores, provider, place } = setup();
    const orderId = await place();

    await expect(payments.preparePayment(orderId, 'customer-2')).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
    await expect(payments.preparePayment('01MISSING', CUSTOMER)).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
    expect(stores.table.leases.size).toBe(0);
    expect(provider.intentKeys).toEqual([]);
  });

  it('refuses an order no longer awaiting payment', async () => {
    const { payments, orders, place } = setup();
    const orderId = await place();
    await orders.cancelOrder(orderId, CUSTOMER);

    const preparing = payments.preparePayment(orderId, CUSTOMER);

    await expect(preparing).rejects.toMatchObject({
      code: 'ORDER_NOT_PAYABLE',
      message: expect.stringContaining('it is CANCELLED'),
    });
  });

  it('refuses from the instant the deadline passes, and prepares until then', async () => {
    const { payments, clock, provider, place } = setup();
    const orderId = await place();
    const deadline = secondsAfter(T0, TIMEOUT_SECONDS);

    clock.set(new Date(deadline.getTime() - 1));
    await payments.preparePayment(orderId, CUSTOMER);
    clock.set(deadline);
    const late = payments.preparePayment(orderId, CUSTOMER);

    await expect(late).rejects.toMatchObject({
      code: 'ORDER_NOT_PAYABLE',
      message: expect.stringContaining(`its payment deadline ${deadline.toISOString()} has passed`),
    });
    expect(provider.intentKeys).toHaveLength(1);
  });

  it('refuses while another holds the lease, without calling the provider', async () => {
    const { payments, stores, provider, place } = setup();
    const orderId = await place();
    await stores.leases.acquire(orderId, 'someone else', T0, LEASE_SECONDS);

    const preparing = payments.preparePayment(orderId, CUSTOMER);

    await expect(preparing).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    expect(provider.intentKeys).toEqual([]);
  });

  it('takes over a lease that expired, with the next fencing token', async () => {
    const { payments, stores, clock, provider, place } = setup();
    const orderId = await place();
    await stores.leases.acquire(orderId, 'crashed', T0, LEASE_SECONDS);
    clock.set(secondsAfter(T0, LEASE_SECONDS));

    await payments.preparePayment(orderId, CUSTOMER);

    expect(provider.intentKeys).toEqual([`intent-${orderId}-2`]);
  });

  it('records nothing when its lease expired and was taken over while the provider answered (fencing)', async () => {
    const { payments, stores, clock, provider, place } = setup();
    const orderId = await place();
    provider.beforeIntent = async () => {
      clock.set(secondsAfter(T0, LEASE_SECONDS));
      await stores.leases.acquire(orderId, 'successor', clock.now(), LEASE_SECONDS);
    };

    const preparing = payments.preparePayment(orderId, CUSTOMER);

    await expect(preparing).rejects.toMatchObject({ code: 'LEASE_NOT_HELD' });
    expect(stores.table.payments.size).toBe(0);
    expect(stores.table.leases.get(orderId)).toMatchObject({ owner: 'successor', fencingToken: 2 });
  });

  it('releases the lease when the provider fails, so the customer may try again at once', async () => {
    const { payments, provider, place } = setup();
    const orderId = await place();
    const failure = new Error('provider unavailable');
    provider.beforeIntent = async () => {
      throw failure;
    };

    await expect(payments.preparePayment(orderId, CUSTOMER)).rejects.toBe(failure);
    provider.beforeIntent = async () => undefined;
    const retried = await payments.preparePayment(orderId, CUSTOMER);

    expect(retried.orderId).toBe(orderId);
  });

  it('returns the intent when the lease was lost only by the time it was released', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    vi.spyOn(stores.leases, 'release').mockRejectedValueOnce(new LeaseNotHeldError(orderId, 1));

    const intent = await payments.preparePayment(orderId, CUSTOMER);

    expect(await stores.payments.get(orderId, intent.paymentId)).toMatchObject({
      status: PaymentStatus.PENDING,
    });
  });

  it('reports any other failure to release the lease', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const failure = new Error('table unavailable');
    vi.spyOn(stores.leases, 'release').mockRejectedValueOnce(failure);

    await expect(payments.preparePayment(orderId, CUSTOMER)).rejects.toBe(failure);
  });
});

describe('PaymentService.handleProviderEvent', () => {
  it('pays a matching order, settles the payment, cancels the timer and claims the event for the retention', async () => {
    const { payments, stores, timers, clock, place } = setup();
    const orderId = await place();
    clock.set(secondsAfter(T0, 10));
    const event = providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId);

    const outcome = await payments.handleProviderEvent(event);

    const stored = await stores.orders.get(orderId);
    expect(outcome).toBe('paid');
    expect(stored?.order).toMatchObject({ status: OrderStatus.PAID, version: 2 });
    expect(stored?.history.at(-1)).toMatchObject({ to: OrderStatus.PAID, reason: `paid by pi_${orderId}` });
    expect(stored?.payments).toEqual([
      expect.objectContaining({
        status: PaymentStatus.SUCCEEDED,
        amount: AMOUNT,
        createdAt: clock.now().toISOString(),
      }),
    ]);
    expect(timers.cancelled).toEqual([orderId]);
    expect(stores.table.providerEvents.get(event.id)).toEqual(secondsAfter(clock.now(), RETENTION_SECONDS));
  });

  it('answers a replayed event, and another report of the settled payment, as duplicates', async () => {
    const { payments, timers, place } = setup();
    const orderId = await place();
    const event = providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId);
    await payments.handleProviderEvent(event);

    const replay = await payments.handleProviderEvent(event);
    const report = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );

    expect([replay, report]).toEqual(['duplicate', 'duplicate']);
    expect(timers.cancelled).toHaveLength(1);
  });

  it.each([
    ['an amount that does not match', { amount: AMOUNT + 1 }, RefundReason.AMOUNT_MISMATCH],
    ['a currency that does not match', { currency: 'USD' }, RefundReason.AMOUNT_MISMATCH],
  ])(
    'keeps no money for %s: the payment owes a refund and the order still awaits payment',
    async (_, data, reason) => {
      const { payments, stores, timers, place } = setup();
      const orderId = await place();

      const outcome = await payments.handleProviderEvent(
        providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId, data),
      );

      expect(outcome).toBe('refundPending');
      expect(await stores.payments.get(orderId, `pi_${orderId}`)).toMatchObject({
        status: PaymentStatus.REFUND_PENDING,
        refundReason: reason,
      });
      expect(await statusOf(stores, orderId)).toBe(OrderStatus.PENDING_PAYMENT);
      expect(timers.cancelled).toEqual([]);
    },
  );

  it('owes a refund for money that arrives for a cancelled or unknown order', async () => {
    const { payments, orders, stores, place } = setup();
    const orderId = await place();
    await orders.cancelOrder(orderId, CUSTOMER);

    const cancelled = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );
    const unknown = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, '01UNKNOWN'),
    );

    expect([cancelled, unknown]).toEqual(['refundPending', 'refundPending']);
    expect((await stores.payments.get(orderId, `pi_${orderId}`))?.refundReason).toBe(
      RefundReason.ORDER_CANCELLED,
    );
    expect((await stores.payments.get('01UNKNOWN', 'pi_01UNKNOWN'))?.refundReason).toBe(
      RefundReason.ORDER_NOT_FOUND,
    );
  });

  it('applies a callback to the order its payment id was first recorded for, whatever order it names', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const other = await place();
    const intent = await payments.preparePayment(orderId, CUSTOMER);

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, other, { paymentId: intent.paymentId }),
    );

    expect(outcome).toBe('paid');
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PAID);
    expect(await statusOf(stores, other)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('records a failure once, and never over a settled payment', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const paidId = await place();
    await payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, paidId));

    const failed = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_FAILED, orderId),
    );
    const again = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_FAILED, orderId),
    );
    const afterPaid = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_FAILED, paidId),
    );

    expect([failed, again, afterPaid]).toEqual(['failureRecorded', 'duplicate', 'duplicate']);
    expect(await stores.payments.get(orderId, `pi_${orderId}`)).toMatchObject({
      status: PaymentStatus.FAILED,
    });
    expect(await stores.payments.get(paidId, `pi_${paidId}`)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
    });
  });

  it('pays an order whose earlier attempt failed, keeping when the payment was first recorded', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    await payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_FAILED, orderId));
    clock.set(secondsAfter(T0, 10));

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );

    expect(outcome).toBe('paid');
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PAID);
    expect(await stores.payments.get(orderId, `pi_${orderId}`)).toMatchObject({
      createdAt: T0.toISOString(),
      updatedAt: secondsAfter(T0, 10).toISOString(),
    });
  });

  it('marks a refund owed as refunded once, and ignores refunds it never asked for', async () => {
    const { payments, stores, clock, place } = setup();
    const owedId = await place();
    const paidId = await place();
    await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, owedId, { amount: 1 }),
    );
    await payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, paidId));
    clock.set(secondsAfter(T0, 60));

    const refunded = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.REFUND_SUCCEEDED, owedId),
    );
    const again = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.REFUND_SUCCEEDED, owedId),
    );
    const notOwed = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.REFUND_SUCCEEDED, paidId),
    );
    const unknown = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.REFUND_SUCCEEDED, '01NONE'),
    );

    expect([refunded, again, notOwed, unknown]).toEqual(['refunded', 'duplicate', 'ignored', 'ignored']);
    expect(await stores.payments.get(owedId, `pi_${owedId}`)).toMatchObject({
      status: PaymentStatus.REFUNDED,
      updatedAt: secondsAfter(T0, 60).toISOString(),
    });
  });

  it('decides again when the timeout cancels the order first, and owes a refund instead', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const recordPaid = stores.payments.recordPaid.bind(stores.payments);
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockImplementationOnce(async (...args) => {
      const [, , { previous }] = args;
      const cancelled = transition(previous, OrderStatus.CANCELLED, T0, 'timed out');
      await stores.orders.saveTransition(previous, cancelled.next, cancelled.transition);
      return await recordPaid(...args);
    });

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );

    expect(outcome).toBe('refundPending');
    expect(paying).toHaveBeenCalledTimes(1);
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.CANCELLED);
    expect((await stores.payments.get(orderId, `pi_${orderId}`))?.refundReason).toBe(
      RefundReason.ORDER_CANCELLED,
    );
  });

  it.each([
    ['the order', 'orderChanged'],
    ['the payment', 'paymentChanged'],
  ] as const)('tries again after %s changed under the first write, and pays', async (_, kind) => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockResolvedValueOnce({ kind });

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );

    expect(outcome).toBe('paid');
    expect(paying).toHaveBeenCalledTimes(2);
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PAID);
  });

  it.each([
    [ProviderEventType.PAYMENT_FAILED, 'failureRecorded'],
    [ProviderEventType.PAYMENT_SUCCEEDED, 'refundPending'],
  ] as const)('tries a %s payment write again after a lost race', async (type, expected) => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    const writing = vi
      .spyOn(stores.payments, 'recordPayment')
      .mockResolvedValueOnce({ kind: 'paymentChanged' });

    const outcome = await payments.handleProviderEvent(providerEvent(type, orderId, { amount: 1 }));

    expect(outcome).toBe(expected);
    expect(writing).toHaveBeenCalledTimes(2);
  });

  it('tries a refund confirmation again after a lost race', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId, { amount: 1 }),
    );
    const writing = vi
      .spyOn(stores.payments, 'recordPayment')
      .mockResolvedValueOnce({ kind: 'orderChanged' });

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.REFUND_SUCCEEDED, orderId),
    );

    expect(outcome).toBe('refunded');
    expect(writing).toHaveBeenCalledTimes(2);
  });

  it('answers a payment whose event another delivery claimed first as a duplicate, and keeps the timer', async () => {
    const { payments, stores, timers, place } = setup();
    const orderId = await place();
    vi.spyOn(stores.payments, 'recordPaid').mockResolvedValueOnce({ kind: 'duplicateEvent' });

    const outcome = await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId),
    );

    expect(outcome).toBe('duplicate');
    expect(timers.cancelled).toEqual([]);
  });

  it('gives up with a conflict after five lost races', async () => {
    const { payments, stores, timers, place } = setup();
    const orderId = await place();
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockResolvedValue({ kind: 'orderChanged' });

    const outcome = payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId));

    await expect(outcome).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION', orderId });
    expect(paying).toHaveBeenCalledTimes(5);
    expect(timers.cancelled).toEqual([]);
  });
});

describe('PaymentService.expireOrder', () => {
  it('cancels an order from the instant its deadline passes, with the reason given', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    const deadline = secondsAfter(T0, TIMEOUT_SECONDS);

    clock.set(new Date(deadline.getTime() - 1));
    await expect(payments.expireOrder(orderId, 'timer')).rejects.toMatchObject({
      code: 'PAYMENT_DEADLINE_NOT_REACHED',
    });
    clock.set(deadline);
    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('cancelled');
    expect((await stores.orders.get(orderId))?.history.at(-1)).toMatchObject({
      to: OrderStatus.CANCELLED,
      reason: 'timer',
      at: deadline.toISOString(),
    });
  });

  it('leaves alone an order that is missing or no longer awaiting payment', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    await payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId));
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));

    expect(await payments.expireOrder(orderId, 'timer')).toBe('notPending');
    expect(await payments.expireOrder('01MISSING', 'timer')).toBe('notPending');
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PAID);
  });

  it('waits while a payment is being prepared', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));
    await stores.leases.acquire(orderId, 'payer', clock.now(), LEASE_SECONDS);

    const expiring = payments.expireOrder(orderId, 'timer');

    await expect(expiring).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('reads again after a conflict, and finds the payment won', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));
    const save = stores.orders.saveTransition.bind(stores.orders);
    const saving = vi.spyOn(stores.orders, 'saveTransition').mockImplementationOnce(async (...args) => {
      await payments.handleProviderEvent(providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, orderId));
      return await save(...args);
    });

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('notPending');
    expect(saving).toHaveBeenCalledTimes(1);
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.PAID);
  });

  it('cancels on the second round after a transient conflict, and gives up after five', async () => {
    const { payments, stores, clock, place } = setup();
    const once = await place();
    const always = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));
    const save = stores.orders.saveTransition.bind(stores.orders);
    let conflicts = 0;
    const saving = vi.spyOn(stores.orders, 'saveTransition').mockImplementation(async (previous, ...rest) => {
      if (previous.orderId === always || conflicts === 0) {
        conflicts += 1;
        throw new ConcurrentModificationError(previous.orderId);
      }
      return await save(previous, ...rest);
    });

    const first = await payments.expireOrder(once, 'timer');
    const second = payments.expireOrder(always, 'timer');

    expect(first).toBe('cancelled');
    await expect(second).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    expect(saving).toHaveBeenCalledTimes(2 + 5);
  });

  it('does not retry a failure that is not a conflict', async () => {
    const { payments, stores, clock, place } = setup();
    const orderId = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS));
    const failure = new Error('table unavailable');
    const saving = vi.spyOn(stores.orders, 'saveTransition').mockRejectedValue(failure);

    await expect(payments.expireOrder(orderId, 'timer')).rejects.toBe(failure);
    expect(saving).toHaveBeenCalledTimes(1);
  });
});

describe('PaymentService.sweep and findStuckRefunds', () => {
  it('cancels the overdue orders up to the limit, counts the leased ones, and leaves the rest', async () => {
    const { payments, stores, clock, place } = setup();
    const overdue = [await place(), await place(), await place()];
    clock.set(secondsAfter(T0, 60));
    const notYet = await place();
    clock.set(secondsAfter(T0, TIMEOUT_SECONDS + 1));
    const [leased, first, second] = overdue as [string, string, string];
    await stores.leases.acquire(leased, 'payer', clock.now(), LEASE_SECONDS);

    const limited = await payments.sweep(1);
    const rest = await payments.sweep(10);

    expect(limited).toEqual({ examined: 1, cancelled: 0, leased: 1 });
    expect(rest).toEqual({ examined: 3, cancelled: 2, leased: 1 });
    expect((await stores.orders.get(first))?.history.at(-1)).toMatchObject({
      to: OrderStatus.CANCELLED,
      reason: 'payment deadline passed; cancelled by the sweeper',
    });
    expect(await statusOf(stores, second)).toBe(OrderStatus.CANCELLED);
    expect(await statusOf(stores, notYet)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('skips an order the index reports early, and stops on any other failure', async () => {
    const { payments, stores, place } = setup();
    const early = await place();
    vi.spyOn(stores.orders, 'findOverduePendingOrders').mockResolvedValue([early]);

    const skipped = await payments.sweep(10);
    const failure = new Error('table unavailable');
    vi.spyOn(stores.orders, 'get').mockRejectedValue(failure);

    expect(skipped).toEqual({ examined: 1, cancelled: 0, leased: 0 });
    await expect(payments.sweep(10)).rejects.toBe(failure);
  });

  it.each([
    { sweepConcurrency: undefined, expected: 8 },
    { sweepConcurrency: 2, expected: 2 },
  ])(
    'expires at most $expected orders at the same time (sweepConcurrency $sweepConcurrency)',
    async ({ sweepConcurrency, expected }) => {
      const { payments, stores, clock, place } = setup(
        sweepConcurrency === undefined ? {} : { sweepConcurrency },
      );
      for (let index = 0; index < 10; index++) await place();
      clock.set(secondsAfter(T0, TIMEOUT_SECONDS + 1));
      const get = stores.orders.get.bind(stores.orders);
      let inFlight = 0;
      let most = 0;
      const reading = vi.spyOn(stores.orders, 'get').mockImplementation(async (orderId) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight -= 1;
        return await get(orderId);
      });

      const result = await payments.sweep(10);

      expect(result.cancelled).toBe(10);
      expect(most).toBe(expected);
      expect(reading).toHaveBeenCalledTimes(10);
    },
  );

  it('counts the refunds owed for longer than the given time', async () => {
    const { payments, clock, place } = setup();
    const old = await place();
    await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, old, { amount: 1 }),
    );
    clock.set(secondsAfter(T0, 100));
    const recent = await place();
    await payments.handleProviderEvent(
      providerEvent(ProviderEventType.PAYMENT_SUCCEEDED, recent, { amount: 1 }),
    );
    clock.set(secondsAfter(T0, 200));

    const stuck = await payments.findStuckRefunds(150, 5);
    const none = await payments.findStuckRefunds(200, 5);

    expect(stuck).toEqual({ count: 1, orderIds: [old] });
    expect(none).toEqual({ count: 0, orderIds: [] });
  });
});
