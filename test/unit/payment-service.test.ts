import { describe, expect, it, vi } from 'vitest';
import { ConcurrentModificationError, LeaseNotHeldError } from '../../functions/domain/errors';
import { transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, paymentFrom, RefundReason } from '../../functions/domain/payment';
import type { PaymentService } from '../../functions/domain/payment-service';
import {
  IntentStatus,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  type ProviderEvent,
  ProviderEventSubject,
} from '../../functions/domain/ports';
import {
  inMemoryOrderService,
  inMemoryPaymentService,
  PAYMENT_TEST_SETTINGS,
  T0,
} from '../support/in-memory/services';
import { sampleOrder, secondsAfter, swept } from '../support/payment-window';

const TIMEOUT_SECONDS = 900;
const {
  leaseSeconds: LEASE_SECONDS,
  eventRetentionSeconds: RETENTION_SECONDS,
  processingGraceSeconds: GRACE_SECONDS,
} = PAYMENT_TEST_SETTINGS;
const CUSTOMER = sampleOrder.customerId;
/** The order total of `sampleOrder`. */
const AMOUNT = 1250;
/** The instant every order placed at T0 is due. */
const DEADLINE = secondsAfter(T0, TIMEOUT_SECONDS);
const SWEEPER_REASON = 'payment deadline passed; cancelled by the sweeper';

/** A pause that only yields, so a request waiting for another one's lease lets it run. */
const yieldOnce = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface SetupOptions {
  readonly sweepConcurrency?: number;
  /** The orders' payment window, {@link TIMEOUT_SECONDS} unless a test needs a longer one. */
  readonly paymentTimeoutSeconds?: number;
  /** Leave the pause out, so the service waits with its own default (real timers). */
  readonly defaultPause?: boolean;
}

function setup(options: SetupOptions = {}) {
  const base = inMemoryOrderService('01PAYSVC', {
    paymentTimeoutSeconds: options.paymentTimeoutSeconds ?? TIMEOUT_SECONDS,
  });
  const { clock, stores, timers, orders } = base;
  const pause = vi.fn(yieldOnce);
  const { payments, provider } = inMemoryPaymentService(base, {
    ...(options.defaultPause === true ? {} : { pause }),
    ...(options.sweepConcurrency === undefined ? {} : { sweepConcurrency: options.sweepConcurrency }),
  });
  const place = async (): Promise<string> => (await orders.placeOrder(sampleOrder)).order.orderId;
  /** The customer's checkout: the order's open intent id. */
  const prepared = async (orderId: string): Promise<string> =>
    (await payments.preparePayment(orderId, CUSTOMER)).intent.paymentId;
  /** The provider's webhook delivers the event, and the endpoint acknowledges it. */
  const webhook = async (event: ProviderEvent) => {
    provider.acknowledge(event.id);
    return await payments.handleProviderEvent(event, PaymentFactSource.WEBHOOK);
  };
  const statusOf = async (orderId: string) => (await stores.orders.get(orderId))?.order.status;
  const paymentOf = async (orderId: string, paymentId: string) =>
    await stores.payments.get(orderId, paymentId);
  return {
    clock,
    stores,
    timers,
    provider,
    pause,
    payments,
    orders,
    place,
    prepared,
    webhook,
    statusOf,
    paymentOf,
  };
}

let forged = 0;

/** An event as a signed webhook could carry it, about an intent, whatever its state at the provider. */
function eventAbout(
  paymentId: string,
  orderId: string | undefined,
  type = 'payment_intent.succeeded',
  subject: ProviderEvent['subject'] = ProviderEventSubject.PAYMENT_INTENT,
): ProviderEvent {
  forged += 1;
  return { id: `evt_other_${forged}`, type, subject, paymentId, orderId, created: T0 };
}

describe('PaymentService.preparePayment', () => {
  it("creates the order's intent under a fresh lease, records it as pending from the checkout and releases the lease", async () => {
    const { payments, stores, provider, place, paymentOf } = setup();
    const orderId = await place();

    const { intent, created } = await payments.preparePayment(orderId, CUSTOMER);

    expect(created).toBe(true);
    expect(intent).toMatchObject({
      orderId,
      amount: AMOUNT,
      currency: 'EUR',
      status: IntentStatus.REQUIRES_PAYMENT_METHOD,
      clientSecret: expect.stringContaining(intent.paymentId),
    });
    expect(await paymentOf(orderId, intent.paymentId)).toStrictEqual({
      paymentId: intent.paymentId,
      orderId,
      status: PaymentStatus.PENDING,
      amount: AMOUNT,
      currency: 'EUR',
      createdAt: T0.toISOString(),
      updatedAt: T0.toISOString(),
      recordedBy: PaymentFactSource.CHECKOUT,
    });
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`]);
    expect(stores.table.leases.get(orderId)).toEqual({ fencingToken: 1, expiresAt: 0 });
  });

  it('answers a second request with the open intent: same id and client secret, created false', async () => {
    const { payments, stores, provider, place } = setup();
    const orderId = await place();
    const first = await payments.preparePayment(orderId, CUSTOMER);

    const second = await payments.preparePayment(orderId, CUSTOMER);

    expect(second).toEqual({ intent: first.intent, created: false });
    expect(provider.intentKeys).toHaveLength(1);
    expect(stores.table.payments.size).toBe(1);
    // Its lease (taking it is the order's read) is released again, so nothing waits on it.
    expect(stores.table.leases.get(orderId)).toEqual({ fencingToken: 2, expiresAt: 0 });
  });

  it('gives one intent to two requests in parallel: the second waits for the first and answers its intent', async () => {
    const { payments, stores, provider, pause, place } = setup();
    const orderId = await place();

    const answers = await Promise.all([
      payments.preparePayment(orderId, CUSTOMER),
      payments.preparePayment(orderId, CUSTOMER),
    ]);

    const [first, second] = answers;
    expect(second?.intent.paymentId).toBe(first?.intent.paymentId);
    expect(second?.intent.clientSecret).toBe(first?.intent.clientSecret);
    expect(answers.map((answer) => answer.created).sort()).toEqual([false, true]);
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`]);
    expect(stores.table.payments.size).toBe(1);
    expect(pause).toHaveBeenCalledWith(100);
  });

  it('lets the customer pay a declined intent again: the payment is FAILED, the same intent is answered', async () => {
    const { payments, provider, place, prepared, webhook, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);

    const declined = await webhook(provider.fail(paymentId, 'Your card was declined.'));
    const failedRecord = await paymentOf(orderId, paymentId);
    const again = await payments.preparePayment(orderId, CUSTOMER);
    const paid = await webhook(provider.pay(paymentId));

    expect(declined).toBe('failureRecorded');
    expect(failedRecord).toMatchObject({
      status: PaymentStatus.FAILED,
      recordedBy: PaymentFactSource.WEBHOOK,
    });
    expect(again).toMatchObject({
      created: false,
      intent: { paymentId, lastPaymentError: 'Your card was declined.' },
    });
    expect(paid).toBe('paid');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(provider.intentKeys).toHaveLength(1);
  });

  it('creates a new intent when the open one can no longer be paid at the provider', async () => {
    const { payments, provider, place, prepared } = setup();
    const orderId = await place();
    const first = await prepared(orderId);
    await provider.cancelIntent(first, 'cancelled-elsewhere');

    const next = await payments.preparePayment(orderId, CUSTOMER);

    expect(next.created).toBe(true);
    expect(next.intent.paymentId).not.toBe(first);
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`, `intent-${orderId}-2`]);
  });

  it('creates a new intent past a payment owing a refund, without reading the closed payment again', async () => {
    const { payments, provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const mismatched = await prepared(orderId);
    provider.update(mismatched, { amount: AMOUNT + 1 });
    await webhook(provider.pay(mismatched));
    const readsBefore = provider.callsOf('retrieveIntent').length;

    const next = await payments.preparePayment(orderId, CUSTOMER);

    expect(await paymentOf(orderId, mismatched)).toMatchObject({ status: PaymentStatus.REFUND_PENDING });
    expect(next).toMatchObject({ created: true, intent: { orderId, amount: AMOUNT } });
    expect(provider.callsOf('retrieveIntent').slice(readsBefore)).toEqual([]);
  });

  it('asks the provider about the newest open payment first', async () => {
    const { payments, clock, provider, place, prepared } = setup();
    const orderId = await place();
    const older = await prepared(orderId);
    // Cancelled at the provider while its record is still pending: the next request creates a second intent.
    await provider.cancelIntent(older, 'cancelled-elsewhere');
    clock.set(secondsAfter(T0, 10));
    const newer = await prepared(orderId);
    const readsBefore = provider.callsOf('retrieveIntent').length;

    const again = await payments.preparePayment(orderId, CUSTOMER);

    expect(again).toMatchObject({ created: false, intent: { paymentId: newer } });
    expect(provider.callsOf('retrieveIntent').slice(readsBefore)).toEqual([
      { method: 'retrieveIntent', paymentId: newer },
    ]);
  });

  it('applies an intent paid while its webhook is on the way, and offers no second one', async () => {
    const { payments, provider, place, prepared, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    provider.pay(paymentId);

    const again = payments.preparePayment(orderId, CUSTOMER);

    await expect(again).rejects.toMatchObject({
      code: 'ORDER_NOT_PAYABLE',
      message: expect.stringContaining(`its payment ${paymentId} has succeeded`),
    });
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.CHECK_BACK,
    });
    expect(provider.intentKeys).toHaveLength(1);
  });

  it('answers the intent another request created between its first read and its lease', async () => {
    const { payments, stores, provider, place } = setup();
    const orderId = await place();
    const acquire = stores.leases.acquire.bind(stores.leases);
    let competitor: Awaited<ReturnType<PaymentService['preparePayment']>> | undefined;
    vi.spyOn(stores.leases, 'acquire').mockImplementationOnce(async (...args) => {
      competitor = await payments.preparePayment(orderId, CUSTOMER);
      return await acquire(...args);
    });

    const late = await payments.preparePayment(orderId, CUSTOMER);

    expect(competitor?.created).toBe(true);
    expect(late).toEqual({ intent: competitor?.intent, created: false });
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`]);
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
    expect(provider.calls).toEqual([]);
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

    clock.set(new Date(DEADLINE.getTime() - 1));
    await payments.preparePayment(orderId, CUSTOMER);
    clock.set(DEADLINE);
    const late = payments.preparePayment(orderId, CUSTOMER);

    await expect(late).rejects.toMatchObject({
      code: 'ORDER_NOT_PAYABLE',
      message: expect.stringContaining(`its payment deadline ${DEADLINE.toISOString()} has passed`),
    });
    expect(provider.intentKeys).toHaveLength(1);
  });

  it('waits a bounded time for another holder of the lease, then refuses without creating an intent', async () => {
    const { payments, stores, provider, pause, place } = setup();
    const orderId = await place();
    await stores.leases.acquire(orderId, 'someone else', T0, LEASE_SECONDS);

    const preparing = payments.preparePayment(orderId, CUSTOMER);

    await expect(preparing).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    expect(pause.mock.calls).toEqual([[100], [200], [400], [800], [800]]);
    expect(provider.intentKeys).toEqual([]);
  });

  it('waits between the rounds with real timers when no pause is injected', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const { payments, stores, provider, place } = setup({ defaultPause: true });
      const orderId = await place();
      await stores.leases.acquire(orderId, 'someone else', T0, LEASE_SECONDS);
      let settled = false;
      const preparing = payments.preparePayment(orderId, CUSTOMER).finally(() => {
        settled = true;
      });
      const refused = expect(preparing).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });

      await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 800 - 1);
      const settledBeforeLastPause = settled;
      await vi.advanceTimersByTimeAsync(1);

      expect([settledBeforeLastPause, settled]).toEqual([false, true]);
      await refused;
      expect(provider.intentKeys).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
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

  it('releases the lease when the provider is unavailable, so the customer may try again at once', async () => {
    const { payments, provider, place } = setup();
    const orderId = await place();
    provider.outage(1);

    await expect(payments.preparePayment(orderId, CUSTOMER)).rejects.toBeInstanceOf(
      PaymentProviderUnavailableError,
    );
    const retried = await payments.preparePayment(orderId, CUSTOMER);

    expect(retried).toMatchObject({ created: true, intent: { orderId } });
    expect(provider.intentKeys).toEqual([`intent-${orderId}-1`, `intent-${orderId}-2`]);
  });

  it('returns the intent when the lease was lost only by the time it was released', async () => {
    const { payments, stores, place, paymentOf } = setup();
    const orderId = await place();
    vi.spyOn(stores.leases, 'release').mockRejectedValueOnce(new LeaseNotHeldError(orderId, 1));

    const { intent } = await payments.preparePayment(orderId, CUSTOMER);

    expect(await paymentOf(orderId, intent.paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
  });

  it('reports any other failure to release the lease', async () => {
    const { payments, stores, place } = setup();
    const orderId = await place();
    await payments.preparePayment(orderId, CUSTOMER);
    const failure = new Error('table unavailable');
    vi.spyOn(stores.leases, 'release').mockRejectedValueOnce(failure);

    await expect(payments.preparePayment(orderId, CUSTOMER)).rejects.toBe(failure);
  });
});

describe('PaymentService.handleProviderEvent', () => {
  it('confirms a success with the provider, pays the order and cancels the timer, claiming no event id', async () => {
    const { payments, stores, timers, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    clock.set(secondsAfter(T0, 10));
    const event = provider.pay(paymentId);

    const outcome = await payments.handleProviderEvent(event, PaymentFactSource.WEBHOOK);

    const stored = await stores.orders.get(orderId);
    expect(outcome).toBe('paid');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(stored?.order.version).toBe(2);
    expect(stored?.history.at(-1)).toMatchObject({ to: OrderStatus.PAID, reason: `paid by ${paymentId}` });
    expect(stored?.payments).toEqual([
      {
        paymentId,
        orderId,
        status: PaymentStatus.SUCCEEDED,
        amount: AMOUNT,
        currency: 'EUR',
        createdAt: T0.toISOString(),
        updatedAt: clock.now().toISOString(),
        recordedBy: PaymentFactSource.WEBHOOK,
      },
    ]);
    expect(provider.callsOf('retrieveIntent')).toEqual([{ method: 'retrieveIntent', paymentId }]);
    expect(timers.cancelled).toEqual([orderId]);
    // Applied by a conditional write from the state read: a redelivery finds it applied, no claim needed.
    expect(stores.table.providerEvents.size).toBe(0);
    expect(await payments.handleProviderEvent(event, PaymentFactSource.WEBHOOK)).toBe('duplicate');
  });

  it('changes nothing on a replayed callback, nor on another report of the settled payment', async () => {
    const { stores, timers, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const event = provider.pay(paymentId);
    await webhook(event);
    const settled = await stores.orders.get(orderId);

    const replay = await webhook(event);
    const report = await webhook(eventAbout(paymentId, orderId));

    expect([replay, report]).toEqual(['duplicate', 'duplicate']);
    expect(await stores.orders.get(orderId)).toEqual(settled);
    expect(timers.cancelled).toHaveLength(1);
  });

  it('does not trust the body: a success event for an intent the provider has not settled changes nothing', async () => {
    const { place, prepared, webhook, statusOf, paymentOf, stores } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const event = eventAbout(paymentId, orderId, 'payment_intent.succeeded');

    const outcome = await webhook(event);

    expect(outcome).toBe('ignored');
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
    expect(stores.table.providerEvents.has(event.id)).toBe(false);
  });

  it('leaves the order awaiting payment while the intent is processing', async () => {
    const { provider, place, prepared, webhook, statusOf, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);

    const outcome = await webhook(provider.startProcessing(paymentId));

    expect(outcome).toBe('ignored');
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
  });

  it.each([
    ['an amount that does not match', { amount: AMOUNT + 1 }],
    ['a currency that does not match', { currency: 'USD' }],
  ])(
    'keeps no money for %s: the payment owes a refund and the order still awaits payment',
    async (_, changes) => {
      const { timers, provider, place, prepared, webhook, statusOf, paymentOf } = setup();
      const orderId = await place();
      const paymentId = await prepared(orderId);
      provider.update(paymentId, changes);

      const outcome = await webhook(provider.pay(paymentId));

      expect(outcome).toBe('refundPending');
      expect(await paymentOf(orderId, paymentId)).toMatchObject({
        status: PaymentStatus.REFUND_PENDING,
        refundReason: RefundReason.AMOUNT_MISMATCH,
        ...changes,
      });
      expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
      expect(timers.cancelled).toEqual([]);
    },
  );

  it('records as unmatched an event whose order a read does not find, and changes no payment', async () => {
    const { stores, provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    vi.spyOn(stores.orders, 'get').mockResolvedValueOnce(undefined);

    const outcome = await webhook(provider.pay(paymentId));

    expect(outcome).toBe('unmatched');
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
  });

  it('owes a refund once for a payment of an order cancelled before it arrived, and settles it once refunded', async () => {
    const { payments, orders, provider, clock, place, prepared, webhook, statusOf, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await orders.cancelOrder(orderId, CUSTOMER);
    const paid = provider.pay(paymentId);

    const owed = await webhook(paid);
    const replay = await webhook(paid);
    const notYet = await webhook(
      eventAbout(paymentId, orderId, 'refund.created', ProviderEventSubject.REFUND),
    );
    await provider.refund({ paymentId, amount: AMOUNT, currency: 'EUR' }, `refund-${paymentId}`);
    clock.set(secondsAfter(T0, 60));
    const [completed] = provider.completeRefunds(paymentId);
    const refunded = await payments.handleProviderEvent(
      completed as ProviderEvent,
      PaymentFactSource.WEBHOOK,
    );
    const again = await webhook(
      eventAbout(paymentId, orderId, 'charge.refunded', ProviderEventSubject.REFUND),
    );

    expect([owed, replay, notYet, refunded, again]).toEqual([
      'refundPending',
      'duplicate',
      'ignored',
      'refunded',
      'duplicate',
    ]);
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.REFUNDED,
      refundReason: RefundReason.ORDER_CANCELLED,
      updatedAt: secondsAfter(T0, 60).toISOString(),
      recordedBy: PaymentFactSource.WEBHOOK,
    });
  });

  it('ignores a refund event for a payment that owes none, or that it never recorded a refund for', async () => {
    const { provider, place, prepared, webhook } = setup();
    const paidId = await place();
    const paid = await prepared(paidId);
    await webhook(provider.pay(paid));
    const openId = await place();
    const open = await prepared(openId);

    const notOwed = await webhook(eventAbout(paid, paidId, 'charge.refunded', ProviderEventSubject.REFUND));
    const pending = await webhook(eventAbout(open, openId, 'charge.refunded', ProviderEventSubject.REFUND));

    expect([notOwed, pending]).toEqual(['ignored', 'ignored']);
    expect(provider.callsOf('refundsOf')).toEqual([]);
  });

  it('records an event for an intent it never created once, and changes no order', async () => {
    const { stores, provider, place, webhook, statusOf } = setup();
    const orderId = await place();
    const stranger = await provider.createIntent({ orderId, amount: AMOUNT, currency: 'EUR' }, 'elsewhere');
    const event = provider.pay(stranger.paymentId);

    const first = await webhook(event);
    const again = await webhook(event);

    expect([first, again]).toEqual(['unmatched', 'duplicate']);
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
    expect([...stores.table.unmatchedEvents.values()]).toEqual([event]);
    expect(stores.table.payments.size).toBe(0);
    expect(provider.callsOf('retrieveIntent')).toEqual([]);
  });

  it('records an event that names no order, for an intent it never created, and changes nothing', async () => {
    const { stores, clock, provider, place, webhook } = setup();
    const orderId = await place();
    const stranger = await provider.createIntent({ orderId, amount: AMOUNT, currency: 'EUR' }, 'elsewhere');
    const anonymous = { ...provider.pay(stranger.paymentId), orderId: undefined };

    const outcome = await webhook(anonymous);

    expect(outcome).toBe('unmatched');
    expect([...stores.table.unmatchedEvents.keys()]).toEqual([anonymous.id]);
    // Only an unmatched event is claimed, for the retention: it changes no order, so nothing else remembers it.
    expect(stores.table.providerEvents.get(anonymous.id)).toEqual(
      secondsAfter(clock.now(), RETENTION_SECONDS),
    );
    expect(stores.table.payments.size).toBe(0);
    // Read once, for the order its metadata names, which does not hold it.
    expect(provider.callsOf('retrieveIntent')).toEqual([
      { method: 'retrieveIntent', paymentId: stranger.paymentId },
    ]);
  });

  it('records an event whose metadata names another order than the one holding the intent, and changes neither', async () => {
    const { stores, provider, place, prepared, webhook, statusOf, paymentOf } = setup();
    const orderId = await place();
    const other = await place();
    const paymentId = await prepared(orderId);
    const misnamed = { ...provider.pay(paymentId), orderId: other };

    const first = await webhook(misnamed);
    const again = await webhook(misnamed);

    expect([first, again]).toEqual(['unmatched', 'duplicate']);
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await statusOf(other)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
    expect([...stores.table.unmatchedEvents.keys()]).toEqual([misnamed.id]);
  });

  it('applies an event that carries no order id to the order holding the intent', async () => {
    const { provider, place, prepared, webhook, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const anonymous = { ...provider.pay(paymentId), orderId: undefined };

    expect(await webhook(anonymous)).toBe('paid');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
  });

  it('records a failure once, and never over a settled payment', async () => {
    const { provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const paidId = await place();
    const paidPayment = await prepared(paidId);
    await webhook(provider.pay(paidPayment));

    const failed = await webhook(provider.fail(paymentId, 'declined'));
    const again = await webhook(provider.fail(paymentId, 'declined again'));
    const afterPaid = await webhook(eventAbout(paidPayment, paidId, 'payment_intent.payment_failed'));

    expect([failed, again, afterPaid]).toEqual(['failureRecorded', 'duplicate', 'duplicate']);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.FAILED });
    expect(await paymentOf(paidId, paidPayment)).toMatchObject({ status: PaymentStatus.SUCCEEDED });
  });

  it('ignores an intent asking for a payment method when no attempt failed', async () => {
    const { place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);

    const outcome = await webhook(eventAbout(paymentId, orderId, 'payment_intent.created'));

    expect(outcome).toBe('ignored');
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
  });

  it('pays an order whose earlier attempt failed, keeping when the payment was first recorded', async () => {
    const { clock, provider, place, prepared, webhook, statusOf, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await webhook(provider.fail(paymentId, 'declined'));
    clock.set(secondsAfter(T0, 10));

    const outcome = await webhook(provider.pay(paymentId));

    expect(outcome).toBe('paid');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      createdAt: T0.toISOString(),
      updatedAt: secondsAfter(T0, 10).toISOString(),
    });
  });

  it('closes the payment of an intent cancelled at the provider, once, and never a settled one', async () => {
    const { provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await provider.cancelIntent(paymentId, 'cancel-elsewhere');
    const cancelled = provider.latestEventOf(paymentId);
    const paidId = await place();
    const paid = await prepared(paidId);
    await webhook(provider.pay(paid));

    const first = await webhook(cancelled);
    const again = await webhook(eventAbout(paymentId, orderId, 'payment_intent.canceled'));
    const overPaid = await webhook(eventAbout(paid, paidId, 'payment_intent.canceled'));

    expect([first, again, overPaid]).toEqual(['cancelled', 'duplicate', 'duplicate']);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.CANCELLED });
  });

  it('leaves a payment owing a refund alone when its intent is reported cancelled', async () => {
    const { orders, provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await orders.cancelOrder(orderId, CUSTOMER);
    await webhook(provider.pay(paymentId));
    const succeeded = await provider.retrieveIntent(paymentId);
    vi.spyOn(provider, 'retrieveIntent').mockResolvedValueOnce({
      ...succeeded,
      status: IntentStatus.CANCELED,
    });

    const outcome = await webhook(eventAbout(paymentId, orderId, 'payment_intent.canceled'));

    expect(outcome).toBe('ignored');
    expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.REFUND_PENDING });
  });

  it('decides again when the timeout cancels the order first, and owes a refund instead', async () => {
    const { stores, provider, place, prepared, webhook, statusOf, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const recordPaid = stores.payments.recordPaid.bind(stores.payments);
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockImplementationOnce(async (...args) => {
      const [, , { previous }] = args;
      const cancelled = transition(previous, OrderStatus.CANCELLED, T0, 'timed out');
      await stores.orders.saveTransition(previous, cancelled.next, cancelled.transition);
      return await recordPaid(...args);
    });

    const outcome = await webhook(provider.pay(paymentId));

    expect(outcome).toBe('refundPending');
    expect(paying).toHaveBeenCalledTimes(1);
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    expect((await paymentOf(orderId, paymentId))?.refundReason).toBe(RefundReason.ORDER_CANCELLED);
  });

  it.each([
    ['the order', 'orderChanged'],
    ['the payment', 'paymentChanged'],
  ] as const)('tries again after %s changed under the first write, and pays', async (_, kind) => {
    const { stores, provider, place, prepared, webhook, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockResolvedValueOnce({ kind });

    const outcome = await webhook(provider.pay(paymentId));

    expect(outcome).toBe('paid');
    expect(paying).toHaveBeenCalledTimes(2);
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
  });

  it.each([
    ['failed', 'failureRecorded'],
    ['mismatched', 'refundPending'],
  ] as const)('tries a %s payment write again after a lost race', async (kind, expected) => {
    const { stores, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    provider.update(paymentId, { amount: 1 });
    const event = kind === 'failed' ? provider.fail(paymentId, 'declined') : provider.pay(paymentId);
    const writing = vi
      .spyOn(stores.payments, 'recordPayment')
      .mockResolvedValueOnce({ kind: 'paymentChanged' });

    const outcome = await webhook(event);

    expect(outcome).toBe(expected);
    expect(writing).toHaveBeenCalledTimes(2);
  });

  it('tries a refund confirmation again after a lost race', async () => {
    const { stores, orders, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await orders.cancelOrder(orderId, CUSTOMER);
    await webhook(provider.pay(paymentId));
    await provider.refund({ paymentId, amount: AMOUNT, currency: 'EUR' }, 'refund-1');
    const [completed] = provider.completeRefunds(paymentId);
    const writing = vi
      .spyOn(stores.payments, 'recordPayment')
      .mockResolvedValueOnce({ kind: 'orderChanged' });

    const outcome = await webhook(completed as ProviderEvent);

    expect(outcome).toBe('refunded');
    expect(writing).toHaveBeenCalledTimes(2);
  });

  it('answers a payment another delivery of the event applied first as a duplicate; the timer goes once', async () => {
    const { stores, timers, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const event = provider.pay(paymentId);
    const recordPaid = stores.payments.recordPaid.bind(stores.payments);
    let first: string | undefined;
    vi.spyOn(stores.payments, 'recordPaid').mockImplementationOnce(async (...args) => {
      first = await webhook(event);
      return await recordPaid(...args);
    });

    const outcome = await webhook(event);

    expect([first, outcome]).toEqual(['paid', 'duplicate']);
    expect(timers.cancelled).toEqual([orderId]);
  });

  it('gives up with a conflict after five lost races', async () => {
    const { stores, timers, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const paying = vi.spyOn(stores.payments, 'recordPaid').mockResolvedValue({ kind: 'orderChanged' });

    const outcome = webhook(provider.pay(paymentId));

    await expect(outcome).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION', orderId });
    expect(paying).toHaveBeenCalledTimes(5);
    expect(timers.cancelled).toEqual([]);
  });

  it('lets an unavailable provider fail the delivery, so the provider retries it', async () => {
    const { stores, provider, place, prepared, webhook, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const event = provider.pay(paymentId);
    provider.outage(1);

    await expect(webhook(event)).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    expect(stores.table.providerEvents.has(event.id)).toBe(false);
    expect(await webhook(event)).toBe('paid');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
  });
});

describe('PaymentService.expireOrder', () => {
  it('cancels an order without an intent from the instant its deadline passes, without asking the provider', async () => {
    const { payments, stores, clock, provider, place } = setup();
    const orderId = await place();

    clock.set(new Date(DEADLINE.getTime() - 1));
    await expect(payments.expireOrder(orderId, 'timer')).rejects.toMatchObject({
      code: 'PAYMENT_DEADLINE_NOT_REACHED',
    });
    clock.set(DEADLINE);
    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('cancelled');
    expect((await stores.orders.get(orderId))?.history.at(-1)).toMatchObject({
      to: OrderStatus.CANCELLED,
      reason: 'timer',
      at: DEADLINE.toISOString(),
    });
    expect(provider.calls).toEqual([]);
  });

  it('cancels the open intent at the provider first, then the order, so it can no longer be paid', async () => {
    const { payments, stores, clock, provider, place, prepared, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    clock.set(DEADLINE);
    const save = stores.orders.saveTransition.bind(stores.orders);
    let intentWhenCancelling: IntentStatus | undefined;
    vi.spyOn(stores.orders, 'saveTransition').mockImplementation(async (...args) => {
      intentWhenCancelling = (await provider.retrieveIntent(paymentId)).status;
      return await save(...args);
    });

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('cancelled');
    expect(intentWhenCancelling).toBe(IntentStatus.CANCELED);
    expect(provider.callsOf('cancelIntent')).toEqual([
      { method: 'cancelIntent', paymentId, idempotencyKey: `cancel-${paymentId}` },
    ]);
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.CANCELLED,
      recordedBy: PaymentFactSource.CHECK_BACK,
    });
    expect(() => provider.pay(paymentId)).toThrow(/canceled/);
  });

  it('cancels a declined intent the customer did not try again, and one already cancelled without asking again', async () => {
    const { payments, clock, provider, place, prepared, webhook, paymentOf, statusOf } = setup();
    const declinedOrder = await place();
    const declined = await prepared(declinedOrder);
    await webhook(provider.fail(declined, 'declined'));
    const cancelledOrder = await place();
    const cancelled = await prepared(cancelledOrder);
    await provider.cancelIntent(cancelled, 'cancelled-elsewhere');
    clock.set(DEADLINE);

    const outcomes = [
      await payments.expireOrder(declinedOrder, 'timer'),
      await payments.expireOrder(cancelledOrder, 'timer'),
    ];

    expect(outcomes).toEqual(['cancelled', 'cancelled']);
    expect(provider.callsOf('cancelIntent').map((call) => call.idempotencyKey)).toEqual([
      'cancelled-elsewhere',
      `cancel-${declined}`,
    ]);
    expect(await paymentOf(declinedOrder, declined)).toMatchObject({ status: PaymentStatus.CANCELLED });
    expect(await paymentOf(cancelledOrder, cancelled)).toMatchObject({ status: PaymentStatus.CANCELLED });
    expect(await statusOf(cancelledOrder)).toBe(OrderStatus.CANCELLED);
  });

  it('asks the provider only about the payments still open: a closed one is not read again', async () => {
    const { payments, clock, provider, place, prepared, webhook, statusOf } = setup();
    const orderId = await place();
    const closed = await prepared(orderId);
    await provider.cancelIntent(closed, 'cancelled-elsewhere');
    await webhook(provider.latestEventOf(closed));
    const open = await prepared(orderId);
    clock.set(DEADLINE);
    const readsBefore = provider.callsOf('retrieveIntent').length;

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('cancelled');
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    const reads = provider.callsOf('retrieveIntent').slice(readsBefore);
    expect(reads).toContainEqual({ method: 'retrieveIntent', paymentId: open });
    expect(reads).not.toContainEqual({ method: 'retrieveIntent', paymentId: closed });
  });

  it('cancels an intent waiting for the customer to act, as any other still payable', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    provider.requireAction(paymentId);
    clock.set(DEADLINE);

    expect(await payments.expireOrder(orderId, 'timer')).toBe('cancelled');
    expect((await provider.retrieveIntent(paymentId)).status).toBe(IntentStatus.CANCELED);
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
  });

  it('pays an order whose intent succeeded while its webhook was lost, recorded by the check-back', async () => {
    const { payments, clock, timers, provider, place, prepared, webhook, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const lost = provider.pay(paymentId);
    clock.set(DEADLINE);

    const outcome = await payments.expireOrder(orderId, 'timer');
    const late = await webhook(lost);

    expect([outcome, late]).toEqual(['paid', 'duplicate']);
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.CHECK_BACK,
    });
    expect(provider.callsOf('cancelIntent')).toEqual([]);
    expect(timers.cancelled).toEqual([orderId]);
  });

  it('pays the order when the intent succeeds between the check-back and the cancel: the cancel is refused', async () => {
    const { payments, stores, clock, provider, place, prepared, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    clock.set(DEADLINE);
    const cancel = provider.cancelIntent.bind(provider);
    const cancelling = vi.spyOn(provider, 'cancelIntent').mockImplementationOnce(async (...args) => {
      provider.pay(paymentId);
      return await cancel(...args);
    });

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('paid');
    await expect(cancelling.mock.results[0]?.value).rejects.toBeInstanceOf(PaymentProviderRejectedError);
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect((await stores.orders.get(orderId))?.history.map((entry) => entry.to)).not.toContain(
      OrderStatus.CANCELLED,
    );
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.CHECK_BACK,
    });
  });

  it('holds the order when the intent starts processing between the check-back and the cancel', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    clock.set(DEADLINE);
    const cancel = provider.cancelIntent.bind(provider);
    vi.spyOn(provider, 'cancelIntent').mockImplementationOnce(async (...args) => {
      provider.startProcessing(paymentId);
      return await cancel(...args);
    });

    expect(await payments.expireOrder(orderId, 'timer')).toBe('heldForProcessing');
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('cancels nothing when the provider refuses the cancel of an intent still payable', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    await prepared(orderId);
    clock.set(DEADLINE);
    const refusal = new PaymentProviderRejectedError(400, 'parameter_invalid', 'refused');
    vi.spyOn(provider, 'cancelIntent').mockRejectedValueOnce(refusal);

    await expect(payments.expireOrder(orderId, 'timer')).rejects.toBe(refusal);
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it.each([
    ['the read', 'read'],
    ['the cancel', 'cancel'],
  ] as const)(
    'cancels nothing on a guess when the provider is down during %s: it throws, the order stays pending',
    async (_, failing) => {
      const { payments, clock, provider, place, prepared, paymentOf, statusOf } = setup();
      const orderId = await place();
      const paymentId = await prepared(orderId);
      clock.set(DEADLINE);
      if (failing === 'read') provider.outage(1);
      else
        vi.spyOn(provider, 'cancelIntent').mockRejectedValueOnce(new PaymentProviderUnavailableError('down'));

      const readsBefore = provider.callsOf('retrieveIntent').length;

      const expiring = payments.expireOrder(orderId, 'timer');

      await expect(expiring).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
      // One read: an unavailable provider is not asked again after a failed cancel.
      expect(provider.callsOf('retrieveIntent').length - readsBefore).toBe(1);
      expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
      expect(await paymentOf(orderId, paymentId)).toMatchObject({ status: PaymentStatus.PENDING });
      expect((await provider.retrieveIntent(paymentId)).status).toBe(IntentStatus.REQUIRES_PAYMENT_METHOD);
    },
  );

  it('holds a processing intent until the grace ends, then cancels the order; a later success is refunded once', async () => {
    const { payments, clock, provider, place, prepared, webhook, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await webhook(provider.startProcessing(paymentId));
    const graceEnds = secondsAfter(DEADLINE, GRACE_SECONDS);

    clock.set(DEADLINE);
    const atDeadline = await payments.expireOrder(orderId, 'timer');
    clock.set(new Date(graceEnds.getTime() - 1));
    const lastHeld = await payments.expireOrder(orderId, 'timer');
    clock.set(graceEnds);
    const afterGrace = await payments.expireOrder(orderId, 'timer');
    const success = provider.pay(paymentId);
    const late = await webhook(success);
    const replay = await webhook(success);
    const again = await webhook(eventAbout(paymentId, orderId));

    expect([atDeadline, lastHeld, afterGrace]).toEqual([
      'heldForProcessing',
      'heldForProcessing',
      'cancelled',
    ]);
    expect(provider.callsOf('cancelIntent')).toEqual([]);
    expect([late, replay, again]).toEqual(['refundPending', 'duplicate', 'duplicate']);
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.REFUND_PENDING,
      refundReason: RefundReason.ORDER_CANCELLED,
    });
  });

  it('past the grace, still cancels at the provider a second intent the order holds behind a processing one', async () => {
    const { payments, stores, clock, provider, place, prepared, paymentOf, statusOf } = setup();
    const orderId = await place();
    const processing = await prepared(orderId);
    provider.startProcessing(processing);
    // A second intent, as a provider retry or a race could leave: recorded after the first.
    clock.set(secondsAfter(T0, 1));
    const second = await provider.createIntent({ orderId, amount: AMOUNT, currency: 'EUR' }, 'retried');
    const lease = await stores.leases.acquire(orderId, 'retry', clock.now(), LEASE_SECONDS);
    await stores.payments.recordIntent(
      paymentFrom({ ...second, orderId }, PaymentStatus.PENDING, clock.now()),
      lease,
    );
    clock.set(secondsAfter(DEADLINE, GRACE_SECONDS));

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('cancelled');
    expect(await statusOf(orderId)).toBe(OrderStatus.CANCELLED);
    expect((await provider.retrieveIntent(second.paymentId)).status).toBe(IntentStatus.CANCELED);
    expect(await paymentOf(orderId, second.paymentId)).toMatchObject({ status: PaymentStatus.CANCELLED });
    expect(await paymentOf(orderId, processing)).toMatchObject({ status: PaymentStatus.PENDING });
  });

  it('leaves alone an order that is missing or no longer awaiting payment', async () => {
    const { payments, clock, provider, place, prepared, webhook, statusOf } = setup();
    const orderId = await place();
    await webhook(provider.pay(await prepared(orderId)));
    clock.set(DEADLINE);
    const callsBefore = provider.calls.length;

    expect(await payments.expireOrder(orderId, 'timer')).toBe('notPending');
    expect(await payments.expireOrder('01MISSING', 'timer')).toBe('notPending');
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(provider.calls).toHaveLength(callsBefore);
  });

  it('waits while a payment is being prepared', async () => {
    const { payments, stores, clock, place, statusOf } = setup();
    const orderId = await place();
    clock.set(DEADLINE);
    await stores.leases.acquire(orderId, 'payer', clock.now(), LEASE_SECONDS);

    const expiring = payments.expireOrder(orderId, 'timer');

    await expect(expiring).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('cancels no intent at the provider while a request that took the lease before the deadline holds it', async () => {
    const { payments, stores, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    // A second payment request takes the lease a second before the deadline and is still answering the intent.
    clock.set(secondsAfter(DEADLINE, -1));
    const lease = await stores.leases.acquire(orderId, 'second request', clock.now(), LEASE_SECONDS);
    clock.set(DEADLINE);

    const whileLeased = payments.expireOrder(orderId, 'timer');

    await expect(whileLeased).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    expect(provider.callsOf('cancelIntent')).toEqual([]);
    expect((await provider.retrieveIntent(paymentId)).status).toBe(IntentStatus.REQUIRES_PAYMENT_METHOD);
    expect(await statusOf(orderId)).toBe(OrderStatus.PENDING_PAYMENT);
    await stores.leases.release(lease);
    expect(await payments.expireOrder(orderId, 'timer')).toBe('cancelled');
    expect((await provider.retrieveIntent(paymentId)).status).toBe(IntentStatus.CANCELED);
  });

  it('reads again after a conflict, and finds the payment won', async () => {
    const { payments, stores, clock, place, statusOf } = setup();
    const orderId = await place();
    clock.set(DEADLINE);
    const save = stores.orders.saveTransition.bind(stores.orders);
    const saving = vi
      .spyOn(stores.orders, 'saveTransition')
      .mockImplementationOnce(async (previous, ...rest) => {
        // The order is paid meanwhile, so the cancellation decided on the order as read is stale.
        const paid = transition(previous, OrderStatus.PAID, clock.now(), 'paid by pi_meanwhile');
        await save(previous, paid.next, paid.transition);
        return await save(previous, ...rest);
      });

    const outcome = await payments.expireOrder(orderId, 'timer');

    expect(outcome).toBe('notPending');
    expect(saving).toHaveBeenCalledTimes(1);
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
  });

  it('cancels on the second round after a transient conflict, and gives up after five', async () => {
    const { payments, stores, clock, place } = setup();
    const once = await place();
    const always = await place();
    clock.set(DEADLINE);
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
    clock.set(DEADLINE);
    const failure = new Error('table unavailable');
    const saving = vi.spyOn(stores.orders, 'saveTransition').mockRejectedValue(failure);

    await expect(payments.expireOrder(orderId, 'timer')).rejects.toBe(failure);
    expect(saving).toHaveBeenCalledTimes(1);
  });
});

describe('PaymentService.sweep and findStuckRefunds', () => {
  it('cancels the overdue orders up to the limit, counts the leased ones, and leaves the rest', async () => {
    const { payments, stores, clock, place, statusOf } = setup();
    const overdue = [await place(), await place(), await place()];
    clock.set(secondsAfter(T0, 60));
    const notYet = await place();
    clock.set(secondsAfter(DEADLINE, 1));
    const [leased, first, second] = overdue as [string, string, string];
    await stores.leases.acquire(leased, 'payer', clock.now(), LEASE_SECONDS);

    const limited = await payments.sweep(1);
    const rest = await payments.sweep(10);

    expect(limited).toEqual(swept({ examined: 1, leased: 1 }));
    expect(rest).toEqual(swept({ examined: 3, cancelled: 2, leased: 1 }));
    expect((await stores.orders.get(first))?.history.at(-1)).toMatchObject({
      to: OrderStatus.CANCELLED,
      reason: SWEEPER_REASON,
    });
    expect(await statusOf(second)).toBe(OrderStatus.CANCELLED);
    expect(await statusOf(notYet)).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('counts what the check-back found: paid at the provider, processing, and nothing payable', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup({ sweepConcurrency: 1 });
    const paid = await place();
    provider.pay(await prepared(paid));
    const processing = await place();
    provider.startProcessing(await prepared(processing));
    const open = await place();
    await prepared(open);
    clock.set(secondsAfter(DEADLINE, 1));

    const result = await payments.sweep(10);

    expect(result).toEqual(swept({ examined: 3, paid: 1, heldForProcessing: 1, cancelled: 1 }));
    expect([await statusOf(paid), await statusOf(processing), await statusOf(open)]).toEqual([
      OrderStatus.PAID,
      OrderStatus.PENDING_PAYMENT,
      OrderStatus.CANCELLED,
    ]);
  });

  it('counts the check-backs the provider could not answer, and cancels those orders on the next sweep after the outage', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup();
    const withIntent = await place();
    await prepared(withIntent);
    const withoutIntent = await place();
    clock.set(secondsAfter(DEADLINE, 1));
    provider.outage(100);

    const duringOutage = await payments.sweep(10);
    const statusDuringOutage = await statusOf(withIntent);
    provider.outage(0);
    const afterOutage = await payments.sweep(10);

    expect(duringOutage).toEqual(swept({ examined: 2, cancelled: 1, checkBackFailed: 1 }));
    expect(statusDuringOutage).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await statusOf(withoutIntent)).toBe(OrderStatus.CANCELLED);
    expect(afterOutage).toEqual(swept({ examined: 1, cancelled: 1 }));
    expect(await statusOf(withIntent)).toBe(OrderStatus.CANCELLED);
  });

  it('leaves an order whose intent the provider will not show, and goes on with the others', async () => {
    const { payments, clock, provider, place, prepared, statusOf } = setup();
    const unreadable = await place();
    const unreadableId = await prepared(unreadable);
    const other = await place();
    await prepared(other);
    clock.set(secondsAfter(DEADLINE, 1));
    const retrieve = provider.retrieveIntent.bind(provider);
    vi.spyOn(provider, 'retrieveIntent').mockImplementation(async (paymentId) => {
      if (paymentId === unreadableId) {
        throw new PaymentProviderRejectedError(
          404,
          'resource_missing',
          `No such payment_intent: '${paymentId}'`,
        );
      }
      return await retrieve(paymentId);
    });

    const result = await payments.sweep(10);

    expect(result).toEqual(swept({ examined: 2, cancelled: 1, checkBackFailed: 1 }));
    expect(await statusOf(unreadable)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(await statusOf(other)).toBe(OrderStatus.CANCELLED);
  });

  it('stops asking the provider for the rest of a run once it could not answer', async () => {
    const { payments, clock, provider, place, prepared } = setup({ sweepConcurrency: 1 });
    const orderIds = [await place(), await place(), await place()];
    for (const orderId of orderIds) await prepared(orderId);
    clock.set(secondsAfter(DEADLINE, 1));
    const retrievesBefore = provider.callsOf('retrieveIntent').length;
    provider.outage(100);

    const result = await payments.sweep(10);

    expect(result).toEqual(swept({ examined: 3, checkBackFailed: 3 }));
    expect(provider.callsOf('retrieveIntent').length - retrievesBefore).toBe(1);
  });

  it('skips an order the index reports early, and stops on any other failure', async () => {
    const { payments, stores, place } = setup();
    const early = await place();
    vi.spyOn(stores.orders, 'findOverduePendingOrders').mockResolvedValue([early]);

    const skipped = await payments.sweep(10);
    const failure = new Error('table unavailable');
    vi.spyOn(stores.orders, 'get').mockRejectedValue(failure);

    expect(skipped).toEqual(swept({ examined: 1 }));
    await expect(payments.sweep(10)).rejects.toBe(failure);
  });

  it('counts nothing for an order the index still lists after it stopped awaiting payment', async () => {
    const { payments, stores, orders, clock, place } = setup();
    const cancelled = await place();
    await orders.cancelOrder(cancelled, CUSTOMER);
    clock.set(secondsAfter(DEADLINE, 1));
    vi.spyOn(stores.orders, 'findOverduePendingOrders').mockResolvedValue([cancelled]);

    const result = await payments.sweep(10);

    expect(result).toEqual(swept({ examined: 1 }));
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
      clock.set(secondsAfter(DEADLINE, 1));
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

  it('counts the refunds owed for longer than the given time, and names the oldest', async () => {
    const { payments, orders, clock, provider, place, prepared, webhook } = setup();
    const old = await place();
    const oldPayment = await prepared(old);
    await orders.cancelOrder(old, CUSTOMER);
    await webhook(provider.pay(oldPayment));
    clock.set(secondsAfter(T0, 100));
    const recent = await place();
    const recentPayment = await prepared(recent);
    await orders.cancelOrder(recent, CUSTOMER);
    await webhook(provider.pay(recentPayment));
    clock.set(secondsAfter(T0, 200));

    const stuck = await payments.findStuckRefunds(150, 5);
    const both = await payments.findStuckRefunds(50, 1);
    const none = await payments.findStuckRefunds(200, 5);

    expect(stuck).toEqual({ count: 1, sample: [{ orderId: old, paymentId: oldPayment }] });
    expect(both).toEqual({ count: 2, sample: [{ orderId: old, paymentId: oldPayment }] });
    expect(none).toEqual({ count: 0, sample: [] });
  });
});

describe('PaymentService.reconcile', () => {
  const LIMITS = { maxEvents: 10, maxOrders: 10, maxRefunds: 10, openIntentMinAgeSeconds: 0 } as const;
  const DAY_MS = 24 * 60 * 60 * 1000;

  it('applies a succeeded event no webhook delivered, recorded by the reconciliation; the late webhook changes nothing', async () => {
    const { payments, stores, clock, provider, place, prepared, webhook, paymentOf, statusOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const lost = provider.pay(paymentId);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile(LIMITS);
    const afterReconciliation = await stores.orders.get(orderId);
    const again = await payments.reconcile(LIMITS);
    const late = await webhook(lost);

    expect(report).toEqual({
      since: new Date(clock.now().getTime() - DAY_MS).toISOString(),
      eventsExamined: 1,
      ordersExamined: 0,
      refundsExamined: 0,
      changed: [{ orderId, paymentId, outcome: 'paid', foundBy: 'undeliveredEvent' }],
      failed: [],
      moreEvents: false,
    });
    expect(await statusOf(orderId)).toBe(OrderStatus.PAID);
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.RECONCILIATION,
    });
    // Still undelivered, the event is listed again, and changes nothing the second time.
    expect(again).toMatchObject({ eventsExamined: 1, changed: [] });
    expect(late).toBe('duplicate');
    expect(await stores.orders.get(orderId)).toEqual(afterReconciliation);
    // Every undelivered event was taken: the checkpoint is the pass's start, not the last event's time.
    expect(stores.table.reconciliationCheckpoint).toEqual(clock.now());
  });

  it('pays an open order whose intent succeeded without any event, and a later webhook changes nothing', async () => {
    const { payments, clock, provider, place, prepared, webhook, paymentOf } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const unannounced = provider.pay(paymentId);
    provider.acknowledge(unannounced.id);
    const stillOpen = await place();
    const openPayment = await prepared(stillOpen);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile(LIMITS);
    const late = await webhook(unannounced);

    expect(report).toMatchObject({
      eventsExamined: 0,
      ordersExamined: 2,
      changed: [{ orderId, paymentId, outcome: 'paid', foundBy: 'openOrder' }],
    });
    expect(await paymentOf(orderId, paymentId)).toMatchObject({
      status: PaymentStatus.SUCCEEDED,
      recordedBy: PaymentFactSource.RECONCILIATION,
    });
    expect(await paymentOf(stillOpen, openPayment)).toMatchObject({ status: PaymentStatus.PENDING });
    expect(late).toBe('duplicate');
  });

  it('settles a refund the provider completed whose confirmation was lost, and leaves one still pending', async () => {
    const { payments, orders, clock, provider, place, prepared, webhook, paymentOf } = setup();
    const [completed, pending] = [await place(), await place()];
    const references = [];
    for (const orderId of [completed, pending]) {
      const paymentId = await prepared(orderId);
      await orders.cancelOrder(orderId, CUSTOMER);
      await webhook(provider.pay(paymentId));
      await provider.refund({ paymentId, amount: AMOUNT, currency: 'EUR' }, `refund-${paymentId}`);
      references.push({ orderId, paymentId });
    }
    const [done, owed] = references as [
      { orderId: string; paymentId: string },
      { orderId: string; paymentId: string },
    ];
    provider.completeRefunds(done.paymentId);
    // Every event was acknowledged, so only the refunds still owed lead the reconciliation to the provider.
    for (const { event } of provider.events) provider.acknowledge(event.id);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile(LIMITS);
    const again = await payments.reconcile(LIMITS);

    expect(report).toMatchObject({
      refundsExamined: 2,
      changed: [{ ...done, outcome: 'refunded', foundBy: 'pendingRefund' }],
    });
    expect(again).toMatchObject({ refundsExamined: 1, changed: [] });
    expect(await paymentOf(done.orderId, done.paymentId)).toMatchObject({
      status: PaymentStatus.REFUNDED,
      recordedBy: PaymentFactSource.RECONCILIATION,
    });
    expect(await paymentOf(owed.orderId, owed.paymentId)).toMatchObject({
      status: PaymentStatus.REFUND_PENDING,
    });
  });

  it('gives up on a refund confirmation with a conflict after five lost races', async () => {
    const { payments, stores, orders, clock, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    await orders.cancelOrder(orderId, CUSTOMER);
    await webhook(provider.pay(paymentId));
    await provider.refund({ paymentId, amount: AMOUNT, currency: 'EUR' }, `refund-${paymentId}`);
    provider.completeRefunds(paymentId);
    for (const { event } of provider.events) provider.acknowledge(event.id);
    clock.set(secondsAfter(T0, 60));
    const writing = vi.spyOn(stores.payments, 'recordPayment').mockResolvedValue({ kind: 'orderChanged' });

    const report = await payments.reconcile(LIMITS);

    expect(report.failed).toEqual([
      { orderId, paymentId, foundBy: 'pendingRefund', code: 'CONCURRENT_MODIFICATION', retryable: true },
    ]);
    expect(writing).toHaveBeenCalledTimes(5);
  });

  it('goes on past a payment it cannot settle, reports it, and moves the checkpoint past it only if trying again will not help', async () => {
    const { payments, stores, clock, provider, place, prepared, paymentOf } = setup();
    const unknown = await place();
    const unknownId = await prepared(unknown);
    const paid = await place();
    const paidId = await prepared(paid);
    provider.pay(paidId);
    clock.set(secondsAfter(T0, 60));
    // The provider no longer shows the first intent (as after switching to another account's keys).
    const retrieve = provider.retrieveIntent.bind(provider);
    vi.spyOn(provider, 'retrieveIntent').mockImplementation(async (paymentId) => {
      if (paymentId === unknownId) {
        throw new PaymentProviderRejectedError(
          404,
          'resource_missing',
          `No such payment_intent: '${paymentId}'`,
        );
      }
      return await retrieve(paymentId);
    });

    const report = await payments.reconcile(LIMITS);

    expect(report.changed).toEqual([
      { orderId: paid, paymentId: paidId, outcome: 'paid', foundBy: 'undeliveredEvent' },
    ]);
    expect(report.failed).toEqual([
      {
        orderId: unknown,
        paymentId: unknownId,
        foundBy: 'openOrder',
        code: 'PAYMENT_PROVIDER_REJECTED',
        retryable: false,
      },
    ]);
    expect((await paymentOf(paid, paidId))?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(stores.table.reconciliationCheckpoint).toEqual(clock.now());
  });

  it('keeps the checkpoint before an undelivered event it may yet apply', async () => {
    const { payments, stores, clock, provider, place, prepared } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const event = provider.pay(paymentId);
    clock.set(secondsAfter(T0, 60));
    // The listing answers; the read of the intent the event names does not.
    const list = provider.undeliveredEvents.bind(provider);
    vi.spyOn(provider, 'undeliveredEvents').mockImplementation(async (since, limit) => {
      const listed = await list(since, limit);
      provider.outage(1);
      return listed;
    });

    const report = await payments.reconcile({ ...LIMITS, maxOrders: 0 });

    expect(report.failed).toEqual([
      {
        orderId,
        paymentId,
        foundBy: 'undeliveredEvent',
        code: 'PAYMENT_PROVIDER_UNAVAILABLE',
        retryable: true,
      },
    ]);
    expect(stores.table.reconciliationCheckpoint).toEqual(event.created);
  });

  it('passes over an order or a refund the indexes list but a read no longer finds', async () => {
    const { payments, stores, clock } = setup();
    clock.set(secondsAfter(T0, 60));
    vi.spyOn(stores.orders, 'findOverduePendingOrders').mockResolvedValueOnce(['01MISSING']);
    vi.spyOn(stores.payments, 'findRefundsPendingSince').mockResolvedValueOnce({
      count: 1,
      sample: [{ orderId: '01MISSING', paymentId: 'pi_missing' }],
    });

    const report = await payments.reconcile(LIMITS);

    expect(report).toMatchObject({ ordersExamined: 1, refundsExamined: 1, changed: [] });
  });

  it('reads only the open payments of an open order', async () => {
    const { payments, clock, provider, place, prepared, webhook } = setup();
    const orderId = await place();
    const closed = await prepared(orderId);
    await provider.cancelIntent(closed, 'cancelled-elsewhere');
    await webhook(provider.latestEventOf(closed));
    const open = await prepared(orderId);
    clock.set(secondsAfter(T0, 60));
    const readsBefore = provider.callsOf('retrieveIntent').length;

    const report = await payments.reconcile(LIMITS);

    expect(report).toMatchObject({ eventsExamined: 0, ordersExamined: 1, changed: [] });
    const reads = provider.callsOf('retrieveIntent').slice(readsBefore);
    expect(reads).toContainEqual({ method: 'retrieveIntent', paymentId: open });
    expect(reads).not.toContainEqual({ method: 'retrieveIntent', paymentId: closed });
  });

  it('reads the intents of every open order, however far off its deadline', async () => {
    const { payments, clock, provider, place, prepared } = setup({ paymentTimeoutSeconds: 2 * 24 * 60 * 60 });
    const orderId = await place();
    const paymentId = await prepared(orderId);
    provider.acknowledge(provider.pay(paymentId).id);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile(LIMITS);

    expect(report).toMatchObject({
      ordersExamined: 1,
      changed: [{ orderId, paymentId, outcome: 'paid', foundBy: 'openOrder' }],
    });
  });

  it('records, and applies nothing of, an open intent whose metadata names another order', async () => {
    const { payments, stores, clock, provider, place, prepared, statusOf } = setup();
    const orderId = await place();
    const other = await place();
    const paymentId = await prepared(orderId);
    provider.acknowledge(provider.pay(paymentId).id);
    const retrieve = provider.retrieveIntent.bind(provider);
    vi.spyOn(provider, 'retrieveIntent').mockImplementation(async (id) => ({
      ...(await retrieve(id)),
      orderId: other,
    }));
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile(LIMITS);

    expect(report).toMatchObject({ ordersExamined: 2, changed: [] });
    expect([...stores.table.unmatchedEvents.values()]).toEqual([
      {
        id: `reconciliation:${paymentId}:succeeded`,
        type: 'payment_intent.succeeded',
        subject: ProviderEventSubject.PAYMENT_INTENT,
        paymentId,
        orderId: other,
        created: clock.now(),
      },
    ]);
    expect([await statusOf(orderId), await statusOf(other)]).toEqual([
      OrderStatus.PENDING_PAYMENT,
      OrderStatus.PENDING_PAYMENT,
    ]);
  });

  it('reports the order holding the payment of an undelivered event that names no order', async () => {
    const { payments, clock, provider, place, prepared } = setup();
    const orderId = await place();
    const paymentId = await prepared(orderId);
    const lost = provider.pay(paymentId);
    vi.spyOn(provider, 'undeliveredEvents').mockResolvedValueOnce({
      events: [{ ...lost, orderId: undefined }],
      hasMore: false,
    });
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile({ ...LIMITS, maxOrders: 0 });

    expect(report.changed).toEqual([{ orderId, paymentId, outcome: 'paid', foundBy: 'undeliveredEvent' }]);
  });

  it('records an undelivered event for an intent it never created, and lists it as no change', async () => {
    const { payments, stores, clock, provider, place } = setup();
    const orderId = await place();
    const stranger = await provider.createIntent({ orderId, amount: AMOUNT, currency: 'EUR' }, 'elsewhere');
    provider.pay(stranger.paymentId);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile({ ...LIMITS, maxOrders: 0 });

    expect(report).toMatchObject({ eventsExamined: 1, changed: [] });
    expect(stores.table.unmatchedEvents.size).toBe(1);
  });

  it('moves the checkpoint to the start of each pass, and asks the next from a little before it', async () => {
    const { payments, stores, clock } = setup();
    clock.set(secondsAfter(T0, 60));
    const first = await payments.reconcile(LIMITS);
    const firstCheckpoint = stores.table.reconciliationCheckpoint;
    clock.set(secondsAfter(T0, 600));

    const second = await payments.reconcile(LIMITS);

    expect(first.since).toBe(new Date(secondsAfter(T0, 60).getTime() - DAY_MS).toISOString());
    expect(firstCheckpoint).toEqual(secondsAfter(T0, 60));
    expect(second.since).toBe(secondsAfter(T0, 60 - 5 * 60).toISOString());
    expect(stores.table.reconciliationCheckpoint).toEqual(secondsAfter(T0, 600));
  });

  it('asks from the time given, without moving the checkpoint, and finds only events since then', async () => {
    const { payments, stores, clock, provider, place, prepared, statusOf } = setup();
    const before = await place();
    const beforePayment = await prepared(before);
    provider.pay(beforePayment);
    clock.set(secondsAfter(T0, 30));
    const after = await place();
    const afterPayment = await prepared(after);
    provider.pay(afterPayment);
    clock.set(secondsAfter(T0, 60));
    await stores.payments.saveReconciliationCheckpoint(T0, undefined);

    const report = await payments.reconcile({ ...LIMITS, since: secondsAfter(T0, 30), maxOrders: 0 });

    expect(report).toMatchObject({
      since: secondsAfter(T0, 30).toISOString(),
      eventsExamined: 1,
      changed: [{ orderId: after, paymentId: afterPayment, outcome: 'paid', foundBy: 'undeliveredEvent' }],
    });
    expect(await statusOf(before)).toBe(OrderStatus.PENDING_PAYMENT);
    expect(stores.table.reconciliationCheckpoint).toEqual(T0);
  });

  it('neither reads nor keeps a checkpoint on a pass from a given time, even before the first scheduled pass', async () => {
    const { payments, stores, clock } = setup();
    clock.set(secondsAfter(T0, 60));
    const reading = vi.spyOn(stores.payments, 'reconciliationCheckpoint');

    await payments.reconcile({ ...LIMITS, since: T0 });

    expect(reading).not.toHaveBeenCalled();
    expect(stores.table.reconciliationCheckpoint).toBeUndefined();
  });

  it('leaves the checkpoint before the events a pass took none of', async () => {
    const { payments, clock, provider, place, prepared } = setup();
    const orderId = await place();
    provider.pay(await prepared(orderId));
    clock.set(secondsAfter(T0, 60));

    const none = await payments.reconcile({ ...LIMITS, maxEvents: 0, maxOrders: 0, maxRefunds: 0 });
    const next = await payments.reconcile({ ...LIMITS, maxOrders: 0 });

    expect(none).toMatchObject({ eventsExamined: 0, moreEvents: true });
    expect(next).toMatchObject({ eventsExamined: 1, changed: [{ orderId, outcome: 'paid' }] });
  });

  it('takes at most maxEvents events and moves the checkpoint only to the last one taken', async () => {
    const { payments, stores, clock, provider, place, prepared } = setup();
    const first = await place();
    const firstPayment = await prepared(first);
    clock.set(secondsAfter(T0, 10));
    provider.pay(firstPayment);
    const second = await place();
    const secondPayment = await prepared(second);
    clock.set(secondsAfter(T0, 20));
    provider.pay(secondPayment);
    clock.set(secondsAfter(T0, 60));

    const report = await payments.reconcile({ ...LIMITS, maxEvents: 1, maxOrders: 0, maxRefunds: 0 });

    expect(report).toMatchObject({
      eventsExamined: 1,
      moreEvents: true,
      changed: [{ orderId: first, outcome: 'paid' }],
    });
    expect(stores.table.reconciliationCheckpoint).toEqual(secondsAfter(T0, 10));
  });
});
