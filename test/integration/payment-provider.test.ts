import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeClient } from '../../functions/adapters/stripe-client';
import { StripePaymentProvider } from '../../functions/adapters/stripe-payment-provider';
import {
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  ProviderEventSubject,
} from '../../functions/domain/ports';
import {
  type FakePaymentProvider,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { findFreePort } from '../../lib/local/ports';
import { eventually } from '../support/eventually';
import { orderIds } from '../support/payment-window';

/*
 * The adapter, on the Stripe client the composition root builds (pointed at the fake by its URL alone), against
 * the fake provider. The fake has no webhook URL here, so every event stays undelivered and is listed by
 * `undeliveredEvents`. The customer's side (confirming with Stripe's test payment methods) is a second SDK client.
 */

const API_KEY = 'sk_test_adapter_integration';
const WEBHOOK_SECRET = 'whsec_adapter_integration';

let fake: FakePaymentProvider;
let adapter: StripePaymentProvider;
let customer: Stripe;

beforeAll(async () => {
  fake = await startFakePaymentProvider({
    apiKey: API_KEY,
    webhookSecret: WEBHOOK_SECRET,
    refundSettleMs: 20,
    deliveryRetry: { attempts: 1 },
  });
  adapter = new StripePaymentProvider({ stripe: stripeClient(fake.url, API_KEY), paymentMethodTypes: [] });
  customer = stripeClient(fake.url, API_KEY);
});

afterAll(async () => {
  await fake.stop();
});

const newOrderId = orderIds('01JDADAPTER');

async function paidIntent(orderId = newOrderId()) {
  const intent = await adapter.createIntent({ orderId, amount: 4200, currency: 'EUR' }, `create-${orderId}`);
  await customer.paymentIntents.confirm(intent.paymentId, { payment_method: 'pm_card_visa' });
  return intent;
}

describe('StripePaymentProvider against the fake provider', () => {
  it('creates an intent the customer can pay: client secret, order in metadata, automatic payment methods', async () => {
    const orderId = newOrderId();

    const intent = await adapter.createIntent(
      { orderId, amount: 4200, currency: 'EUR' },
      `create-${orderId}`,
    );

    expect(intent).toMatchObject({
      orderId,
      amount: 4200,
      currency: 'EUR',
      status: 'requires_payment_method',
      lastPaymentError: undefined,
    });
    expect(intent.paymentId).toMatch(/^pi_/);
    expect(intent.clientSecret).toMatch(new RegExp(`^${intent.paymentId}_secret_`));
    const stored = fake.intents().find((candidate) => candidate.id === intent.paymentId);
    expect(stored?.currency).toBe('eur');
    expect(stored?.metadata).toEqual({ orderId });
    expect(stored?.automatic_payment_methods?.enabled).toBe(true);
  });

  it('offers only the configured payment method types', async () => {
    const restricted = new StripePaymentProvider({
      stripe: stripeClient(fake.url, API_KEY),
      paymentMethodTypes: ['card', 'alipay'],
    });
    const orderId = newOrderId();

    const intent = await restricted.createIntent(
      { orderId, amount: 100, currency: 'EUR' },
      `create-${orderId}`,
    );

    const stored = fake.intents().find((candidate) => candidate.id === intent.paymentId);
    expect(stored?.payment_method_types).toEqual(['card', 'alipay']);
    expect(stored?.automatic_payment_methods).toBeNull();
  });

  it('answers a repeat with the same key with the same intent, and refuses the key for another body', async () => {
    const orderId = newOrderId();
    const first = await adapter.createIntent({ orderId, amount: 4200, currency: 'EUR' }, `create-${orderId}`);
    const before = fake.intents().length;

    const repeat = await adapter.createIntent(
      { orderId, amount: 4200, currency: 'EUR' },
      `create-${orderId}`,
    );
    const reused = adapter.createIntent({ orderId, amount: 9999, currency: 'EUR' }, `create-${orderId}`);

    expect(repeat.paymentId).toBe(first.paymentId);
    expect(repeat.clientSecret).toBe(first.clientSecret);
    await expect(reused).rejects.toBeInstanceOf(PaymentProviderRejectedError);
    await expect(reused).rejects.toMatchObject({ status: 400, retryable: false });
    expect(fake.intents()).toHaveLength(before);
  });

  it('reads back what the customer did: a paid intent succeeded, a declined one with its error', async () => {
    const paid = await paidIntent();
    const declinedOrderId = newOrderId();
    const declined = await adapter.createIntent(
      { orderId: declinedOrderId, amount: 4200, currency: 'EUR' },
      `create-${declinedOrderId}`,
    );
    await expect(
      customer.paymentIntents.confirm(declined.paymentId, { payment_method: 'pm_card_chargeDeclined' }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeCardError);

    expect(await adapter.retrieveIntent(paid.paymentId)).toMatchObject({
      status: 'succeeded',
      orderId: paid.orderId,
    });
    const failed = await adapter.retrieveIntent(declined.paymentId);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.lastPaymentError).toEqual(expect.any(String));
  });

  it('cancels an open intent, and is refused for one that succeeded', async () => {
    const openOrderId = newOrderId();
    const open = await adapter.createIntent(
      { orderId: openOrderId, amount: 4200, currency: 'EUR' },
      `create-${openOrderId}`,
    );
    const paid = await paidIntent();

    const cancelled = await adapter.cancelIntent(open.paymentId, `cancel-${open.paymentId}`);
    const again = await adapter.cancelIntent(open.paymentId, `cancel-${open.paymentId}`);

    expect(cancelled.status).toBe('canceled');
    expect(again.status).toBe('canceled');
    await expect(adapter.cancelIntent(paid.paymentId, `cancel-${paid.paymentId}`)).rejects.toMatchObject({
      name: 'PaymentProviderRejectedError',
      status: 400,
    });
    expect((await adapter.retrieveIntent(paid.paymentId)).status).toBe('succeeded');
  });

  it('refunds a paid intent once per key, and lists the refund until it has succeeded', async () => {
    const paid = await paidIntent();

    const refund = await adapter.refund(
      { paymentId: paid.paymentId, amount: 4200, currency: 'EUR' },
      'refund-1',
    );
    const repeat = await adapter.refund(
      { paymentId: paid.paymentId, amount: 4200, currency: 'EUR' },
      'refund-1',
    );

    expect(refund).toMatchObject({ paymentId: paid.paymentId });
    expect(repeat.refundId).toBe(refund.refundId);
    const settled = await eventually(async () => {
      const refunds = await adapter.refundsOf(paid.paymentId);
      return refunds.every((listed) => listed.status === 'succeeded') ? refunds : undefined;
    }, 5000);
    expect(settled).toEqual([{ refundId: refund.refundId, paymentId: paid.paymentId, status: 'succeeded' }]);
  });

  it('lists undelivered events oldest first, mapped to the port, within the window and the limit', async () => {
    const since = new Date(Math.floor(Date.now() / 1000) * 1000);
    const first = await paidIntent();
    const second = await paidIntent();

    const listed = await eventually(async () => {
      const page = await adapter.undeliveredEvents(since, 100);
      const succeeded = page.events.filter(
        (event) =>
          event.type === 'payment_intent.succeeded' &&
          (event.paymentId === first.paymentId || event.paymentId === second.paymentId),
      );
      return succeeded.length === 2 ? page : undefined;
    }, 5000);

    const created = listed.events.map((event) => event.created.getTime());
    expect(created).toEqual([...created].sort((a, b) => a - b));
    expect(listed.events.every((event) => event.created >= since)).toBe(true);
    const succeeded = listed.events.find(
      (event) => event.paymentId === first.paymentId && event.type === 'payment_intent.succeeded',
    );
    expect(succeeded).toMatchObject({ subject: ProviderEventSubject.PAYMENT_INTENT, orderId: first.orderId });
    const limited = await adapter.undeliveredEvents(since, 1);
    expect(limited.events).toEqual(listed.events.slice(0, 1));
    expect(limited.hasMore).toBe(listed.events.length > 1);
  });

  it('rides over one failed call with the SDK retry and the same key: one intent', async () => {
    const orderId = newOrderId();
    const before = fake.intents().length;
    fake.setOutage(1);

    const intent = await adapter.createIntent(
      { orderId, amount: 4200, currency: 'EUR' },
      `create-${orderId}`,
    );

    expect(intent.orderId).toBe(orderId);
    expect(fake.intents()).toHaveLength(before + 1);
  });

  it('reports a longer outage as retryable, and the caller’s retry with the same key creates one intent', async () => {
    const orderId = newOrderId();
    const before = fake.intents().length;
    fake.setOutage(2);

    const during = adapter.createIntent({ orderId, amount: 4200, currency: 'EUR' }, `create-${orderId}`);

    await expect(during).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    await expect(during).rejects.toMatchObject({ status: 503, retryable: true });
    const after = await adapter.createIntent({ orderId, amount: 4200, currency: 'EUR' }, `create-${orderId}`);
    expect(after.orderId).toBe(orderId);
    expect(fake.intents()).toHaveLength(before + 1);
  });

  it('reports a wrong secret key as rejected, not retryable', async () => {
    const wrongKey = new StripePaymentProvider({
      stripe: stripeClient(fake.url, 'sk_test_wrong'),
      paymentMethodTypes: [],
    });

    await expect(wrongKey.retrieveIntent('pi_anything')).rejects.toMatchObject({
      name: 'PaymentProviderRejectedError',
      status: 401,
    });
  });

  it('reports an unreachable provider as unavailable', async () => {
    const nowhere = new StripePaymentProvider({
      stripe: stripeClient(`http://127.0.0.1:${await findFreePort()}`, API_KEY),
      paymentMethodTypes: [],
    });

    await expect(nowhere.retrieveIntent('pi_anything')).rejects.toMatchObject({
      name: 'PaymentProviderUnavailableError',
      status: undefined,
    });
  });
});
