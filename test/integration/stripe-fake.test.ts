import type { IncomingMessage, ServerResponse } from 'node:http';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HANDLED_EVENT_TYPES } from '../../functions/adapters/stripe-payment-provider';
import { type LoopbackServer, readBody, startLoopbackServer } from '../../lib/local/http';
import {
  FAKE_STRIPE_API_VERSION,
  type FakePaymentProvider,
  FakePaymentProviderInputError,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { eventually } from '../support/eventually';

const API_KEY = 'sk_test_fake_provider_key';
const WEBHOOK_SECRET = 'whsec_fake_provider_secret';

/** What the test's webhook endpoint received: each event as `constructEvent` verified it. */
interface Received {
  readonly event: Stripe.Event;
  readonly at: number;
}

/** Decides the loss of each event: the queued values first, then 0.99 (kept unless the rate is 1). */
const randoms: number[] = [];
/** Statuses the endpoint answers for `<intent id> <event type>`, first to last, before 200. */
const script = new Map<string, number[]>();
const received: Received[] = [];
const refusedSignatures: string[] = [];

function intentIdOf(event: Stripe.Event): string {
  const object = event.data.object as { object: string; id: string; payment_intent?: string };
  return object.object === 'payment_intent' ? object.id : (object.payment_intent ?? '');
}

async function receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const rawBody = await readBody(request, 1_000_000, () => new Error('too large'));
  const header = request.headers['stripe-signature'];
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(rawBody, String(header), WEBHOOK_SECRET);
  } catch (error) {
    refusedSignatures.push(String(error));
    response.writeHead(400).end();
    return;
  }
  const status = script.get(`${intentIdOf(event)} ${event.type}`)?.shift() ?? 200;
  if (status === 200) received.push({ event, at: Date.now() });
  response.writeHead(status).end();
}

let receiver: LoopbackServer;
let fake: FakePaymentProvider;
let stripe: Stripe;

function stripeFor(key: string, provider = fake): Stripe {
  const port = Number(new URL(provider.url).port);
  return new Stripe(key, {
    host: '127.0.0.1',
    port,
    protocol: 'http',
    apiVersion: FAKE_STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    telemetry: false,
  });
}

function deliveredFor(intentId: string, type: string): Received | undefined {
  return received.find((item) => item.event.type === type && intentIdOf(item.event) === intentId);
}

/**
 * Waits for the fake's own record of a delivery of `type` about the intent that the receiver answered with a 2xx:
 * the receiver holds the event before its answer reaches the fake, which records the attempt only then.
 */
async function recordedDelivery(
  provider: FakePaymentProvider,
  intentId: string,
  type: string,
): Promise<void> {
  await eventually(() =>
    provider
      .deliveries()
      .find(
        (delivery) =>
          delivery.paymentIntentId === intentId &&
          delivery.type === type &&
          delivery.statusCode !== undefined &&
          delivery.statusCode < 300,
      ),
  );
}

async function newIntent(
  extra: Partial<Stripe.PaymentIntentCreateParams> = {},
  key?: string,
): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  const params: Stripe.PaymentIntentCreateParams = {
    amount: 1250,
    currency: 'eur',
    metadata: { orderId: 'o-1' },
    automatic_payment_methods: { enabled: true },
    ...extra,
  };
  return await stripe.paymentIntents.create(params, key === undefined ? {} : { idempotencyKey: key });
}

async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof Stripe.errors.StripeError))
    throw new Error(`expected a StripeError, got ${String(error)}`);
  return error;
}

beforeAll(async () => {
  receiver = await startLoopbackServer(receive);
  fake = await startFakePaymentProvider({
    apiKey: API_KEY,
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: `${receiver.url}/webhooks/stripe`,
    // Every type, so these tests see each event the fake creates; the default list has its own tests below.
    enabledEvents: ['*'],
    processingMs: 150,
    refundSettleMs: 20,
    deliveryRetry: { attempts: 3, baseDelayMs: 20 },
    random: () => randoms.shift() ?? 0.99,
  });
  stripe = stripeFor(API_KEY);
});

afterAll(async () => {
  await fake?.stop();
  await receiver?.close();
});

beforeEach(() => {
  fake.setWebhookLoss({ rate: 0, delayMs: 0 });
  fake.setOutage(0);
});

describe('the fake Stripe, driven by the official SDK: PaymentIntents', () => {
  it('creates an intent shaped as Stripe does, and replays it for the same idempotency key', async () => {
    // Act
    const first = await newIntent({}, 'order-o-1-attempt-1');
    const again = await newIntent({}, 'order-o-1-attempt-1');

    // Assess
    expect(first).toMatchObject({
      object: 'payment_intent',
      amount: 1250,
      currency: 'eur',
      metadata: { orderId: 'o-1' },
      status: 'requires_payment_method',
      livemode: false,
      automatic_payment_methods: { enabled: true },
    });
    expect(first.id).toMatch(/^pi_/);
    expect(first.client_secret).toMatch(new RegExp(`^${first.id}_secret_`));
    expect(first.lastResponse.requestId).toMatch(/^req_/);
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.intents().filter((intent) => intent.id === first.id)).toHaveLength(1);
  });

  it('refuses the same idempotency key with other parameters (StripeIdempotencyError)', async () => {
    // Prepare
    await newIntent({}, 'order-o-2-attempt-1');

    // Act
    const error = await refusal(newIntent({ amount: 999 }, 'order-o-2-attempt-1'));

    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error.statusCode).toBe(400);
  });

  it('sends form-encoded arrays and hashes as Stripe decodes them (allowed_payment_method_types, metadata)', async () => {
    // Act
    const intent = await newIntent({
      automatic_payment_methods: undefined,
      allowed_payment_method_types: ['card', 'alipay'],
      metadata: { orderId: 'o-3', 'note[with]brackets': 'a&b=c' },
    });
    const retrieved = await stripe.paymentIntents.retrieve(intent.id);

    // Assess
    expect(retrieved.payment_method_types).toEqual(['card', 'alipay']);
    expect(retrieved.allowed_payment_method_types).toEqual(['card', 'alipay']);
    expect(retrieved.automatic_payment_methods).toBeNull();
    expect(retrieved.metadata).toEqual({ orderId: 'o-3', 'note[with]brackets': 'a&b=c' });
  });

  it('refuses a missing or malformed parameter with parameter_missing / parameter_invalid_integer', async () => {
    // Act
    const missing = await refusal(
      stripe.paymentIntents.create({ amount: 100 } as Stripe.PaymentIntentCreateParams, {
        idempotencyKey: 'bad-1',
      }),
    );
    const notInteger = await refusal(
      stripe.paymentIntents.create(
        { amount: 'ten', currency: 'eur' } as unknown as Stripe.PaymentIntentCreateParams,
        {
          idempotencyKey: 'bad-2',
        },
      ),
    );
    // The refused key stored nothing: it works for a valid request.
    const valid = await newIntent({}, 'bad-1');

    // Assess
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ code: 'parameter_missing', param: 'currency', statusCode: 400 });
    expect(notInteger).toMatchObject({ code: 'parameter_invalid_integer', param: 'amount' });
    expect(valid.status).toBe('requires_payment_method');
  });

  it('pays with pm_card_visa', async () => {
    // Prepare
    const intent = await newIntent();

    // Act
    const paid = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });

    // Assess
    expect(paid).toMatchObject({
      status: 'succeeded',
      amount_received: 1250,
      payment_method: 'pm_card_visa',
    });
    expect(paid.latest_charge).toMatch(/^ch_/);
    await eventually(() => deliveredFor(intent.id, 'payment_intent.succeeded'));
    expect(deliveredFor(intent.id, 'charge.succeeded')).toBeDefined();
  });

  it('declines pm_card_chargeDeclined with a StripeCardError, and the intent asks for another method', async () => {
    // Prepare
    const intent = await newIntent();

    // Act
    const error = await refusal(
      stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' }),
    );
    const after = await stripe.paymentIntents.retrieve(intent.id);

    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error).toMatchObject({ type: 'card_error', code: 'card_declined' });
    await eventually(() => deliveredFor(intent.id, 'payment_intent.payment_failed'));
  });

  it('keeps pm_usBankAccount_success processing for a while, then succeeds', async () => {
    // Prepare
    const intent = await newIntent({ payment_method: 'pm_usBankAccount_success' });

    // Act
    const confirmed = await stripe.paymentIntents.confirm(intent.id);

    // Assess
    expect(intent.status).toBe('requires_confirmation');
    expect(confirmed.status).toBe('processing');
    const paid = await eventually(async () => {
      const current = await stripe.paymentIntents.retrieve(intent.id);
      return current.status === 'succeeded' ? current : undefined;
    });
    expect(paid.amount_received).toBe(1250);
    await eventually(() => deliveredFor(intent.id, 'payment_intent.succeeded'));
    expect(deliveredFor(intent.id, 'payment_intent.processing')).toBeDefined();
  });

  it.each(['alipay', 'wechat_pay'] as const)(
    'waits on %s in requires_action until the customer authorizes it, then processes and succeeds',
    async (type) => {
      // Prepare
      const intent = await newIntent({
        automatic_payment_methods: undefined,
        allowed_payment_method_types: [type],
        payment_method_data: { type },
        confirm: true,
        return_url: 'https://shop.example/paid',
      });

      // Act
      const authorized = fake.authorize(intent.id);

      // Assess
      expect(intent.status).toBe('requires_action');
      expect(intent.next_action?.type).toBe(
        type === 'alipay' ? 'alipay_handle_redirect' : 'wechat_pay_display_qr_code',
      );
      expect(authorized.status).toBe('processing');
      await eventually(() => deliveredFor(intent.id, 'payment_intent.succeeded'));
      expect(deliveredFor(intent.id, 'payment_intent.requires_action')).toBeDefined();
    },
  );

  it('refuses a method the intent does not allow', async () => {
    // Prepare
    const intent = await newIntent({
      automatic_payment_methods: undefined,
      allowed_payment_method_types: ['alipay'],
    });

    // Act
    const error = await refusal(stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' }));

    // Assess
    expect(error).toMatchObject({ code: 'payment_intent_incompatible_payment_method', statusCode: 400 });
  });

  it('cancels an unpaid intent, and refuses to cancel a paid one (payment_intent_unexpected_state)', async () => {
    // Prepare
    const open = await newIntent();
    const paid = await newIntent({ payment_method: 'pm_card_visa', confirm: true });

    // Act
    const canceled = await stripe.paymentIntents.cancel(
      open.id,
      { cancellation_reason: 'abandoned' },
      { idempotencyKey: `cancel-${open.id}` },
    );
    const error = await refusal(
      stripe.paymentIntents.cancel(paid.id, {}, { idempotencyKey: `cancel-${paid.id}` }),
    );

    // Assess
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(canceled.canceled_at).toEqual(expect.any(Number));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ code: 'payment_intent_unexpected_state', statusCode: 400 });
    expect((await stripe.paymentIntents.retrieve(paid.id)).status).toBe('succeeded');
    await eventually(() => deliveredFor(open.id, 'payment_intent.canceled'));
  });

  it('answers 404 resource_missing for an unknown intent', async () => {
    // Act
    const error = await refusal(stripe.paymentIntents.retrieve('pi_unknown'));

    // Assess
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('the fake Stripe, driven by the official SDK: refunds', () => {
  it('refunds part of a paid intent, lists and retrieves the refund as it settles', async () => {
    // Prepare
    const paid = await newIntent({ payment_method: 'pm_card_visa', confirm: true });

    // Act
    const refund = await stripe.refunds.create(
      { payment_intent: paid.id, amount: 500, reason: 'requested_by_customer', metadata: { orderId: 'o-1' } },
      { idempotencyKey: `refund-${paid.id}` },
    );
    const replay = await stripe.refunds.create(
      { payment_intent: paid.id, amount: 500, reason: 'requested_by_customer', metadata: { orderId: 'o-1' } },
      { idempotencyKey: `refund-${paid.id}` },
    );
    const tooMuch = await refusal(
      stripe.refunds.create(
        { payment_intent: paid.id, amount: 800 },
        { idempotencyKey: `refund-2-${paid.id}` },
      ),
    );
    const listed = await stripe.refunds.list({ payment_intent: paid.id, limit: 10 });

    // Assess
    expect(refund).toMatchObject({
      object: 'refund',
      amount: 500,
      status: 'pending',
      payment_intent: paid.id,
    });
    expect(refund.id).toMatch(/^re_/);
    expect(refund.charge).toBe(paid.latest_charge);
    expect(replay.id).toBe(refund.id);
    expect(tooMuch).toMatchObject({ statusCode: 400, code: 'amount_too_large' });
    expect(listed).toMatchObject({ object: 'list', has_more: false, url: '/v1/refunds' });
    expect(listed.data.map((item) => item.id)).toEqual([refund.id]);
    await eventually(async () =>
      (await stripe.refunds.retrieve(refund.id)).status === 'succeeded' ? true : undefined,
    );
    await eventually(() => deliveredFor(paid.id, 'charge.refunded'));
    expect(deliveredFor(paid.id, 'refund.created')).toBeDefined();
    expect(deliveredFor(paid.id, 'refund.updated')).toBeDefined();
  });

  it('refuses to refund an intent that was not paid', async () => {
    // Prepare
    const unpaid = await newIntent();

    // Act
    const error = await refusal(
      stripe.refunds.create({ payment_intent: unpaid.id }, { idempotencyKey: 'r-unpaid' }),
    );

    // Assess
    expect(error).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(fake.refunds().some((refund) => refund.payment_intent === unpaid.id)).toBe(false);
  });

  it('answers 503 api_error while refunds fail, creating nothing, and the same key works after', async () => {
    // Prepare
    const paid = await newIntent({ payment_method: 'pm_card_visa', confirm: true });
    fake.failNextRefunds(1);

    // Act
    const error = await refusal(
      stripe.refunds.create({ payment_intent: paid.id }, { idempotencyKey: `r-${paid.id}` }),
    );
    const retried = await stripe.refunds.create(
      { payment_intent: paid.id },
      { idempotencyKey: `r-${paid.id}` },
    );

    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(503);
    expect(retried.amount).toBe(1250);
    expect(fake.refunds().filter((refund) => refund.payment_intent === paid.id)).toHaveLength(1);
  });
});

describe('the fake Stripe, driven by the official SDK: events and webhooks', () => {
  it('lists an event lost on purpose with delivery_success=false, and not a delivered one', async () => {
    // Prepare
    const since = Math.floor(Date.now() / 1000) - 1;
    const lost = await newIntent();
    const delivered = await newIntent();
    fake.loseWebhooksFor(lost.id);
    await stripe.paymentIntents.confirm(lost.id, { payment_method: 'pm_card_visa' });
    await stripe.paymentIntents.confirm(delivered.id, { payment_method: 'pm_card_visa' });
    await eventually(() => deliveredFor(delivered.id, 'payment_intent.succeeded'));

    // Act
    const undelivered = await stripe.events.list({
      delivery_success: false,
      created: { gte: since },
      types: ['payment_intent.succeeded'],
      limit: 100,
    });

    // Assess
    const about = undelivered.data.map((event) => intentIdOf(event));
    expect(about).toContain(lost.id);
    expect(about).not.toContain(delivered.id);
    const lostEvent = undelivered.data.find((event) => intentIdOf(event) === lost.id);
    expect(lostEvent).toMatchObject({ object: 'event', pending_webhooks: 1, livemode: false });
    expect(deliveredFor(lost.id, 'payment_intent.succeeded')).toBeUndefined();
    const deliveredEvent = deliveredFor(delivered.id, 'payment_intent.succeeded')?.event;
    expect((await stripe.events.retrieve(deliveredEvent?.id ?? '')).pending_webhooks).toBe(0);
  });

  it('pages events newest first with limit and starting_after', async () => {
    // Prepare
    const since = Math.floor(Date.now() / 1000);
    const intents = [await newIntent(), await newIntent(), await newIntent()];

    // Act
    const first = await stripe.events.list({
      created: { gte: since },
      type: 'payment_intent.created',
      limit: 2,
    });
    const last = first.data.at(-1)?.id ?? '';
    const second = await stripe.events.list({
      created: { gte: since },
      type: 'payment_intent.created',
      limit: 2,
      starting_after: last,
    });

    // Assess
    const ours = new Set(intents.map((intent) => intent.id));
    const listed = [...first.data, ...second.data].map(intentIdOf).filter((id) => ours.has(id));
    expect(first.has_more).toBe(true);
    expect(listed).toEqual(intents.map((intent) => intent.id).reverse());
  });

  it('signs each delivery so stripe.webhooks.constructEvent accepts it, with the envelope and request', async () => {
    // Act
    const intent = await newIntent({}, 'envelope-key');
    const { event } = await eventually(() => deliveredFor(intent.id, 'payment_intent.created'));

    // Assess
    expect(refusedSignatures).toEqual([]);
    expect(event).toMatchObject({
      object: 'event',
      api_version: FAKE_STRIPE_API_VERSION,
      livemode: false,
      request: { id: intent.lastResponse.requestId, idempotency_key: 'envelope-key' },
      data: { object: { id: intent.id, status: 'requires_payment_method' } },
    });
    expect(event.id).toMatch(/^evt_/);
  });

  it('retries a delivery the endpoint answered with 500, until a 2xx', async () => {
    // Prepare
    const intent = await newIntent();
    script.set(`${intent.id} payment_intent.succeeded`, [500, 500]);

    // Act
    await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });

    // Assess
    await recordedDelivery(fake, intent.id, 'payment_intent.succeeded');
    const { event } = await eventually(() => deliveredFor(intent.id, 'payment_intent.succeeded'));
    const attempts = fake.deliveries().filter((delivery) => delivery.eventId === event.id);
    expect(attempts.map((attempt) => attempt.statusCode)).toEqual([500, 500, 200]);
    expect(fake.events().find((stored) => stored.event.id === event.id)?.delivery).toBe('delivered');
  });

  it('delivers late with a delay, and loses at the loss rate (decided by the injected random)', async () => {
    // Prepare
    fake.setWebhookLoss({ rate: 0.5, delayMs: 200 });
    randoms.push(0.2, 0.8);

    // Act
    const lost = await newIntent();
    const late = await newIntent();
    const createdAt = Date.now();

    // Assess
    const arrival = await eventually(() => deliveredFor(late.id, 'payment_intent.created'));
    expect(arrival.at - createdAt).toBeGreaterThanOrEqual(150);
    const stored = fake.events().find((item) => item.paymentIntentId === lost.id);
    expect(stored?.delivery).toBe('lost');
    expect(deliveredFor(lost.id, 'payment_intent.created')).toBeUndefined();
  });
});

describe("the fake Stripe's webhook endpoint: enabled_events", () => {
  it('sends only the types the payment webhook handles by default, and lists every event all the same', async () => {
    // Prepare
    const registered = await startFakePaymentProvider({
      apiKey: API_KEY,
      webhookSecret: WEBHOOK_SECRET,
      webhookUrl: `${receiver.url}/webhooks/stripe`,
    });
    try {
      const client = stripeFor(API_KEY, registered);
      const since = Math.floor(Date.now() / 1000) - 1;

      // Act
      const intent = await client.paymentIntents.create({
        amount: 900,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
      });
      await recordedDelivery(registered, intent.id, 'payment_intent.succeeded');
      const listed = await client.events.list({ created: { gte: since }, limit: 100 });
      const undelivered = await client.events.list({
        delivery_success: false,
        created: { gte: since },
        limit: 100,
      });

      // Assess
      const stored = registered.events().filter((item) => item.paymentIntentId === intent.id);
      const types = stored.map((item) => item.event.type);
      expect(types).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
      const handled = new Set<string>(HANDLED_EVENT_TYPES);
      for (const item of stored) {
        expect(item.delivery === 'unsubscribed').toBe(!handled.has(item.event.type));
      }
      const attempted = registered.deliveries().filter((delivery) => delivery.paymentIntentId === intent.id);
      expect(attempted.map((delivery) => delivery.type)).toEqual(['payment_intent.succeeded']);
      expect(deliveredFor(intent.id, 'payment_intent.created')).toBeUndefined();
      expect(deliveredFor(intent.id, 'charge.succeeded')).toBeUndefined();
      expect(
        listed.data.filter((event) => intentIdOf(event) === intent.id).map((event) => event.type),
      ).toEqual([...types].reverse());
      // An event sent to no endpoint waits for none: it is not undelivered.
      expect(undelivered.data.filter((event) => intentIdOf(event) === intent.id)).toEqual([]);
      const created = listed.data.find((event) => event.type === 'payment_intent.created');
      expect(created?.pending_webhooks).toBe(0);
    } finally {
      await registered.stop();
    }
  });

  it('sends a listed type and refuses an endpoint without events', async () => {
    // Prepare
    const chargesOnly = await startFakePaymentProvider({
      apiKey: API_KEY,
      webhookSecret: WEBHOOK_SECRET,
      webhookUrl: `${receiver.url}/webhooks/stripe`,
      enabledEvents: ['charge.succeeded'],
    });
    try {
      // Act
      const intent = await stripeFor(API_KEY, chargesOnly).paymentIntents.create({
        amount: 900,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
      });
      await recordedDelivery(chargesOnly, intent.id, 'charge.succeeded');
      const none = startFakePaymentProvider({
        apiKey: API_KEY,
        webhookSecret: WEBHOOK_SECRET,
        enabledEvents: [],
      });

      // Assess
      await expect(none).rejects.toBeInstanceOf(FakePaymentProviderInputError);
      const attempted = chargesOnly.deliveries().filter((delivery) => delivery.paymentIntentId === intent.id);
      expect(attempted.map((delivery) => delivery.type)).toEqual(['charge.succeeded']);
    } finally {
      await chargesOnly.stop();
    }
  });
});

describe('the fake Stripe, driven by the official SDK: refusals', () => {
  it('answers 401 to a wrong key (StripeAuthenticationError)', async () => {
    // Act
    const error = await refusal(stripeFor('sk_test_wrong').paymentIntents.retrieve('pi_x'));

    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error.statusCode).toBe(401);
  });

  it('answers 503 api_error during an outage, and 429 when rate limited, then recovers', async () => {
    // Prepare
    fake.setOutage(Number.POSITIVE_INFINITY);

    // Act
    const outage = await refusal(newIntent({}, 'during-outage'));
    const stillOut = await refusal(stripe.paymentIntents.retrieve('pi_x'));
    fake.setOutage(1, 429);
    const limited = await refusal(newIntent({}, 'during-outage'));
    const recovered = await newIntent({}, 'during-outage');

    // Assess
    expect(outage).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(outage.statusCode).toBe(503);
    expect(stillOut.statusCode).toBe(503);
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(recovered.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('the fake Stripe: control routes for the local gateway', () => {
  function route(method: 'GET' | 'POST', path: string) {
    const found = fake
      .localRoutes()
      .find((candidate) => candidate.method === method && candidate.path === path);
    if (found === undefined) throw new Error(`no local route ${method} ${path}`);
    return (body?: unknown) => found.handle({ body, query: new URLSearchParams() });
  }

  it('authorizes a wallet payment and loses an intent’s webhooks, taking the id in the body', async () => {
    // Prepare
    const intent = await newIntent({
      automatic_payment_methods: undefined,
      allowed_payment_method_types: ['alipay'],
      payment_method_data: { type: 'alipay' },
      confirm: true,
    });

    // Act
    const lose = await route(
      'POST',
      '/_local/provider/intents/lose-webhooks',
    )({ paymentIntentId: intent.id });
    const authorize = await route(
      'POST',
      '/_local/provider/intents/authorize',
    )({ paymentIntentId: intent.id });
    const again = await route('POST', '/_local/provider/intents/authorize')({ paymentIntentId: intent.id });
    const noId = await route('POST', '/_local/provider/intents/authorize')({});

    // Assess
    expect(lose.statusCode).toBe(200);
    expect(authorize).toMatchObject({ statusCode: 200, body: { id: intent.id, status: 'processing' } });
    expect(again.statusCode).toBe(400);
    expect(noId.statusCode).toBe(400);
    await eventually(async () =>
      (await stripe.paymentIntents.retrieve(intent.id)).status === 'succeeded' ? true : undefined,
    );
    const events = (await route('GET', '/_local/provider/events')()).body as ReturnType<
      FakePaymentProvider['events']
    >;
    const succeeded = events.find(
      (stored) => stored.paymentIntentId === intent.id && stored.event.type === 'payment_intent.succeeded',
    );
    expect(succeeded?.delivery).toBe('lost');
  });

  it('starts and ends an outage, and sets loss and lateness', async () => {
    // Act
    const start = await route('POST', '/_local/provider/outage')({ calls: null });
    const during = await refusal(stripe.paymentIntents.retrieve('pi_x'));
    const end = await route('POST', '/_local/provider/outage')({ calls: 0 });
    const after = await newIntent();
    const loss = await route('POST', '/_local/provider/webhooks')({ lossRate: 1, delayMs: 0 });
    const lost = await newIntent();
    const invalid = await route('POST', '/_local/provider/webhooks')({ lossRate: 2 });

    // Assess
    expect([start.statusCode, end.statusCode, loss.statusCode, invalid.statusCode]).toEqual([
      200, 200, 200, 400,
    ]);
    expect(during.statusCode).toBe(503);
    expect(after.status).toBe('requires_payment_method');
    expect(fake.events().find((stored) => stored.paymentIntentId === lost.id)?.delivery).toBe('lost');
  });
});
