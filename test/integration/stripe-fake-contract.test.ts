import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeClient } from '../../functions/adapters/stripe-client';
import {
  FAKE_STRIPE_API_VERSION,
  type FakePaymentProvider,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { eventually } from '../support/eventually';

/**
 * Pins the fake's answers to the shapes the `stripe` package's types declare. Each fixture is an object literal
 * that tsc checks with `satisfies` (so it has every field the type requires and none it does not know); the
 * test then checks that the fake's object has the same keys with the same kinds of values, at every level
 * except inside `metadata` (the caller's data). A field the SDK's types declare and the fake omits, or one the
 * fake invents, fails here.
 */

const API_KEY = 'sk_test_contract';

/** A paid intent, as Stripe answers a confirm with `pm_card_visa`. */
const paidIntent = {
  id: 'pi_1',
  object: 'payment_intent',
  allowed_payment_method_types: null,
  amount: 1000,
  amount_capturable: 0,
  amount_received: 1000,
  application: null,
  application_fee_amount: null,
  automatic_payment_methods: { allow_redirects: 'always', enabled: true },
  canceled_at: null,
  cancellation_reason: null,
  capture_method: 'automatic_async',
  client_secret: 'pi_1_secret_x',
  confirmation_method: 'automatic',
  created: 1_700_000_000,
  currency: 'eur',
  customer: null,
  customer_account: null,
  description: null,
  excluded_payment_method_types: null,
  last_payment_error: null,
  latest_charge: 'ch_1',
  livemode: false,
  managed_payments: null,
  metadata: { orderId: 'o-1' },
  next_action: null,
  on_behalf_of: null,
  payment_method: 'pm_card_visa',
  payment_method_configuration_details: null,
  payment_method_options: {},
  payment_method_types: ['card'],
  payment_record: null,
  processing: null,
  receipt_email: null,
  review: null,
  setup_future_usage: null,
  shipping: null,
  source: null,
  statement_descriptor: null,
  statement_descriptor_suffix: null,
  status: 'succeeded',
  transfer_group: null,
} satisfies Stripe.PaymentIntent;

/** The fields a declined confirm changes: `last_payment_error` is set, the method and next action cleared. */
const declinedIntent = {
  ...paidIntent,
  amount_received: 0,
  payment_method: null,
  status: 'requires_payment_method',
  last_payment_error: {
    type: 'card_error',
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
    charge: 'ch_2',
    payment_method_type: 'card',
  },
} satisfies Stripe.PaymentIntent;

const pendingRefund = {
  id: 're_1',
  object: 'refund',
  amount: 400,
  balance_transaction: null,
  charge: 'ch_1',
  created: 1_700_000_000,
  currency: 'eur',
  customer: null,
  customer_account: null,
  metadata: { orderId: 'o-1' },
  payment_intent: 'pi_1',
  payment_method: 'pm_card_visa',
  reason: 'requested_by_customer',
  receipt_number: null,
  source_transfer_reversal: null,
  status: 'pending',
  transfer_reversal: null,
} satisfies Stripe.Refund;

const succeededEvent = {
  id: 'evt_1',
  object: 'event',
  api_version: FAKE_STRIPE_API_VERSION,
  created: 1_700_000_000,
  data: { object: paidIntent, previous_attributes: { status: 'requires_payment_method' } },
  livemode: false,
  pending_webhooks: 1,
  request: { id: 'req_1', idempotency_key: 'key' },
  type: 'payment_intent.succeeded',
} satisfies Stripe.PaymentIntentSucceededEvent;

const refundList = {
  object: 'list',
  data: [pendingRefund],
  has_more: false,
  url: '/v1/refunds',
} satisfies Stripe.ApiList<Stripe.Refund>;

type Kind = 'null' | 'string' | 'number' | 'boolean' | 'array' | 'object';

/** The JSON kind of every value, by path; `metadata` is the caller's and is compared as a whole. */
function shape(value: unknown, path = '$', into: Record<string, Kind> = {}): Record<string, Kind> {
  if (value === null) into[path] = 'null';
  else if (Array.isArray(value)) {
    into[path] = 'array';
    if (value.length > 0) shape(value[0], `${path}[]`, into);
  } else if (typeof value === 'object') {
    into[path] = 'object';
    if (!path.endsWith('.metadata')) {
      for (const [key, item] of Object.entries(value)) shape(item, `${path}.${key}`, into);
    }
  } else into[path] = typeof value as Kind;
  return into;
}

/** Drops what the SDK adds to a response (`lastResponse`), keeping the object the API sent. */
function asSent(value: object): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** What the intents here are created with: the order in their metadata, automatic payment methods. */
const intentParams = {
  amount: 1000,
  currency: 'eur',
  metadata: { orderId: 'o-1' },
  automatic_payment_methods: { enabled: true },
} satisfies Stripe.PaymentIntentCreateParams;

/** An intent paid at once, as `paidIntent` is. */
const paidIntentParams = {
  ...intentParams,
  payment_method: 'pm_card_visa',
  confirm: true,
} satisfies Stripe.PaymentIntentCreateParams;

let fake: FakePaymentProvider;
let stripe: Stripe;

beforeAll(async () => {
  fake = await startFakePaymentProvider({
    apiKey: API_KEY,
    webhookSecret: 'whsec_contract',
    refundSettleMs: 10_000,
  });
  stripe = stripeClient(fake.url, API_KEY);
});

afterAll(async () => {
  await fake?.stop();
});

describe("the fake Stripe's answers have the shapes the SDK's types declare", () => {
  it('a paid PaymentIntent', async () => {
    // Act
    const intent = await stripe.paymentIntents.create(paidIntentParams);

    // Assess
    expect(shape(asSent(intent))).toEqual(shape(paidIntent));
  });

  it('a declined PaymentIntent (in the card error and when retrieved)', async () => {
    // Prepare
    const intent = await stripe.paymentIntents.create(intentParams);

    // Act
    const error = await stripe.paymentIntents
      .confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    const retrieved = await stripe.paymentIntents.retrieve(intent.id);

    // Assess
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const inError = (error as Stripe.errors.StripeCardError).payment_intent;
    expect(shape(inError)).toEqual(shape(declinedIntent));
    expect(shape(asSent(retrieved))).toEqual(shape(declinedIntent));
  });

  it('a refund, and a list of refunds', async () => {
    // Prepare
    const paid = await stripe.paymentIntents.create(paidIntentParams);

    // Act
    const refund = await stripe.refunds.create({
      payment_intent: paid.id,
      amount: 400,
      reason: 'requested_by_customer',
      metadata: { orderId: 'o-1' },
    });
    const list = await stripe.refunds.list({ payment_intent: paid.id, limit: 10 });

    // Assess
    expect(shape(asSent(refund))).toEqual(shape(pendingRefund));
    expect(shape(asSent(list))).toEqual(shape(refundList));
  });

  it('a payment_intent.succeeded event', async () => {
    // Prepare
    const paid = await stripe.paymentIntents.create(paidIntentParams, { idempotencyKey: 'contract-event' });
    const stored = await eventually(() =>
      fake
        .events()
        .find((item) => item.paymentIntentId === paid.id && item.event.type === 'payment_intent.succeeded'),
    );

    // Act
    const event = await stripe.events.retrieve(stored.event.id);

    // Assess
    const { previous_attributes: previous, ...data } = event.data;
    expect(Object.keys(previous ?? {})).toEqual(
      expect.arrayContaining(['status', 'amount_received', 'latest_charge']),
    );
    expect(shape(asSent({ ...event, data: { ...data, previous_attributes: { status: 'x' } } }))).toEqual(
      shape(succeededEvent),
    );
  });
});
