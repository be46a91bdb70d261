import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  HANDLED_EVENT_TYPES,
  paymentIntentOf,
  providerErrorOf,
  providerEventOf,
  refundRequestOf,
  StripePaymentProvider,
} from '../../functions/adapters/stripe-payment-provider';
import {
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  ProviderEventSubject,
} from '../../functions/domain/ports';

const ORDER_ID = '01JD0000000000000000000001';

/** A PaymentIntent as the SDK types it, with the fields the adapter reads and any the test overrides. */
function stripeIntent(fields: Partial<Stripe.PaymentIntent> = {}): Stripe.PaymentIntent {
  return {
    id: 'pi_1',
    object: 'payment_intent',
    amount: 2500,
    currency: 'eur',
    status: 'requires_payment_method',
    client_secret: 'pi_1_secret_abc',
    metadata: { orderId: ORDER_ID },
    last_payment_error: null,
    ...fields,
  } as Stripe.PaymentIntent;
}

function stripeRefund(fields: Partial<Stripe.Refund> = {}): Stripe.Refund {
  return {
    id: 're_1',
    object: 'refund',
    amount: 2500,
    currency: 'eur',
    payment_intent: 'pi_1',
    status: 'pending',
    metadata: {},
    ...fields,
  } as Stripe.Refund;
}

function stripeEvent(
  type: string,
  object: unknown,
  fields: { id?: string; created?: number } = {},
): Stripe.Event {
  return {
    id: fields.id ?? 'evt_1',
    object: 'event',
    type,
    created: fields.created ?? 1_796_000_000,
    api_version: Stripe.API_VERSION,
    livemode: false,
    pending_webhooks: 1,
    data: { object },
  } as Stripe.Event;
}

describe('paymentIntentOf', () => {
  it("maps a PaymentIntent to the port's intent, currency in upper case", () => {
    const intent = stripeIntent({
      status: 'requires_payment_method',
      last_payment_error: { type: 'card_error', message: 'Your card was declined.' },
    });

    expect(paymentIntentOf(intent)).toEqual({
      paymentId: 'pi_1',
      orderId: ORDER_ID,
      amount: 2500,
      currency: 'EUR',
      status: 'requires_payment_method',
      clientSecret: 'pi_1_secret_abc',
      lastPaymentError: 'Your card was declined.',
    });
  });

  it('leaves out an order id and an error the intent does not carry', () => {
    const mapped = paymentIntentOf(stripeIntent({ metadata: {}, status: 'succeeded' }));

    expect(mapped.orderId).toBeUndefined();
    expect(mapped.lastPaymentError).toBeUndefined();
    expect(mapped.status).toBe('succeeded');
  });

  it('refuses an intent without a client secret, or with a status Stripe does not document', () => {
    expect(() => paymentIntentOf(stripeIntent({ client_secret: null }))).toThrow(
      PaymentProviderInvalidResponseError,
    );
    expect(() => paymentIntentOf(stripeIntent({ status: 'requires_magic' }))).toThrow(/status/);
  });
});

describe('refundRequestOf', () => {
  it('maps a refund, whether its intent is an id or expanded', () => {
    expect(refundRequestOf(stripeRefund())).toEqual({
      refundId: 're_1',
      paymentId: 'pi_1',
      status: 'pending',
    });
    expect(
      refundRequestOf(stripeRefund({ payment_intent: stripeIntent({ id: 'pi_2' }), status: 'succeeded' })),
    ).toEqual({ refundId: 're_1', paymentId: 'pi_2', status: 'succeeded' });
  });

  it('refuses a refund without a status or an intent', () => {
    expect(() => refundRequestOf(stripeRefund({ status: null }))).toThrow(
      PaymentProviderInvalidResponseError,
    );
    expect(() => refundRequestOf(stripeRefund({ payment_intent: null }))).toThrow(
      PaymentProviderInvalidResponseError,
    );
  });
});

describe('providerEventOf', () => {
  it.each([
    'payment_intent.succeeded',
    'payment_intent.payment_failed',
    'payment_intent.canceled',
    'payment_intent.processing',
    'payment_intent.requires_action',
  ])('reads %s as about the intent it carries', (type) => {
    const event = stripeEvent(type, stripeIntent({ id: 'pi_7' }), { id: 'evt_7', created: 1_796_000_123 });

    expect(providerEventOf(event)).toEqual({
      id: 'evt_7',
      type,
      subject: ProviderEventSubject.PAYMENT_INTENT,
      paymentId: 'pi_7',
      orderId: ORDER_ID,
      created: new Date(1_796_000_123_000),
    });
  });

  it('reads charge.refunded as a refund of the charge’s intent', () => {
    const charge = { id: 'ch_1', object: 'charge', payment_intent: 'pi_8', metadata: { orderId: ORDER_ID } };

    expect(providerEventOf(stripeEvent('charge.refunded', charge))).toMatchObject({
      subject: ProviderEventSubject.REFUND,
      paymentId: 'pi_8',
      orderId: ORDER_ID,
    });
  });

  it.each(['refund.created', 'refund.updated', 'refund.failed'])(
    'reads %s as a refund of the refund’s intent',
    (type) => {
      const event = stripeEvent(type, stripeRefund({ payment_intent: 'pi_9', metadata: {} }));

      expect(providerEventOf(event)).toMatchObject({
        type,
        subject: ProviderEventSubject.REFUND,
        paymentId: 'pi_9',
        orderId: undefined,
      });
    },
  );

  it('handles exactly the types it maps, and nothing else', () => {
    expect([...HANDLED_EVENT_TYPES].sort()).toEqual(
      [
        'charge.refunded',
        'payment_intent.canceled',
        'payment_intent.payment_failed',
        'payment_intent.processing',
        'payment_intent.requires_action',
        'payment_intent.succeeded',
        'refund.created',
        'refund.failed',
        'refund.updated',
      ].sort(),
    );
    expect(providerEventOf(stripeEvent('payment_intent.created', stripeIntent()))).toBeUndefined();
    expect(
      providerEventOf(stripeEvent('customer.created', { id: 'cus_1', object: 'customer' })),
    ).toBeUndefined();
  });

  it('skips a refund of something that is not a payment intent', () => {
    const event = stripeEvent('refund.created', stripeRefund({ payment_intent: null, charge: 'ch_2' }));

    expect(providerEventOf(event)).toBeUndefined();
  });

  it('refuses a handled event whose object lacks its id', () => {
    const event = stripeEvent('payment_intent.succeeded', { object: 'payment_intent', metadata: {} });

    expect(() => providerEventOf(event)).toThrow(PaymentProviderInvalidResponseError);
  });
});

describe('providerErrorOf', () => {
  it.each([
    [
      'a connection failure',
      new Stripe.errors.StripeConnectionError({ message: 'socket hang up' }),
      undefined,
    ],
    ['a 500', new Stripe.errors.StripeAPIError({ message: 'boom', statusCode: 500 }), 500],
    ['a 409 (the same key in flight)', new Stripe.errors.StripeAPIError({ statusCode: 409 }), 409],
    ['a 429', new Stripe.errors.StripeRateLimitError({ code: 'rate_limit', statusCode: 429 }), 429],
  ])('makes %s a retryable PaymentProviderUnavailableError', (_what, error, status) => {
    const mapped = providerErrorOf(error, 'create payment intent');

    expect(mapped).toBeInstanceOf(PaymentProviderUnavailableError);
    expect(mapped).toMatchObject({ retryable: true, status });
    expect((mapped as Error).cause).toBe(error);
  });

  it.each([
    [new Stripe.errors.StripeCardError({ code: 'card_declined', statusCode: 402 }), 402, 'card_declined'],
    [
      new Stripe.errors.StripeInvalidRequestError({ code: 'resource_missing', statusCode: 404 }),
      404,
      'resource_missing',
    ],
    [
      new Stripe.errors.StripeIdempotencyError({ type: 'idempotency_error', statusCode: 400 }),
      400,
      'idempotency_error',
    ],
    [
      new Stripe.errors.StripeAuthenticationError({ type: 'invalid_request_error', statusCode: 401 }),
      401,
      'invalid_request_error',
    ],
    [new Stripe.errors.StripePermissionError({ statusCode: 403 }), 403, 'StripePermissionError'],
  ])('makes %s a PaymentProviderRejectedError with its status and code', (error, status, providerCode) => {
    const mapped = providerErrorOf(error, 'cancel payment intent pi_1');

    expect(mapped).toBeInstanceOf(PaymentProviderRejectedError);
    expect(mapped).toMatchObject({ retryable: false, status, providerCode });
    expect((mapped as Error).message).toContain('cancel payment intent pi_1');
  });

  it('leaves an error that is not the SDK’s as it is', () => {
    const error = new TypeError('not Stripe');

    expect(providerErrorOf(error, 'anything')).toBe(error);
  });
});

interface Recorded {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: URLSearchParams;
}

/** A Stripe client whose HTTP goes to `answer` instead of the network, and the requests it made. */
function stubbedStripe(answer: (request: Recorded) => { status: number; body: unknown }) {
  const requests: Recorded[] = [];
  const fetchStub = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request: Recorded = {
      method: init?.method ?? 'GET',
      url: new URL(String(input)),
      headers: new Headers(init?.headers),
      body: new URLSearchParams(typeof init?.body === 'string' ? init.body : ''),
    };
    requests.push(request);
    const { status, body } = answer(request);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  };
  const stripe = new Stripe('sk_test_unit', {
    apiVersion: Stripe.API_VERSION,
    httpClient: Stripe.createFetchHttpClient(fetchStub as typeof fetch),
    maxNetworkRetries: 0,
    telemetry: false,
  });
  return { stripe, requests };
}

describe('StripePaymentProvider', () => {
  it('creates an intent with the key, the order in metadata and automatic payment methods', async () => {
    const { stripe, requests } = stubbedStripe(() => ({ status: 200, body: stripeIntent() }));
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    const intent = await provider.createIntent({ orderId: ORDER_ID, amount: 2500, currency: 'EUR' }, 'key-1');

    expect(intent).toMatchObject({ paymentId: 'pi_1', currency: 'EUR', clientSecret: 'pi_1_secret_abc' });
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url.pathname).toBe('/v1/payment_intents');
    expect(request?.headers.get('idempotency-key')).toBe('key-1');
    expect(request?.headers.get('stripe-version')).toBe(Stripe.API_VERSION);
    expect(Object.fromEntries(request?.body ?? [])).toEqual({
      amount: '2500',
      currency: 'eur',
      'metadata[orderId]': ORDER_ID,
      'automatic_payment_methods[enabled]': 'true',
    });
  });

  it('allows only the configured payment method types when there are some', async () => {
    const { stripe, requests } = stubbedStripe(() => ({ status: 200, body: stripeIntent() }));
    const provider = new StripePaymentProvider({
      stripe,
      paymentMethodTypes: ['card', 'alipay', 'wechat_pay'],
    });

    await provider.createIntent({ orderId: ORDER_ID, amount: 2500, currency: 'EUR' }, 'key-1');

    const body = requests[0]?.body;
    expect(body?.getAll('allowed_payment_method_types[0]')).toEqual(['card']);
    expect(body?.getAll('allowed_payment_method_types[2]')).toEqual(['wechat_pay']);
    expect(body?.has('automatic_payment_methods[enabled]')).toBe(false);
    expect(body?.has('payment_method_types[0]')).toBe(false);
  });

  it('cancels an intent as abandoned, with the key', async () => {
    const { stripe, requests } = stubbedStripe(() => ({
      status: 200,
      body: stripeIntent({ status: 'canceled' }),
    }));
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    const intent = await provider.cancelIntent('pi_1', 'cancel-key');

    expect(intent.status).toBe('canceled');
    expect(requests[0]?.url.pathname).toBe('/v1/payment_intents/pi_1/cancel');
    expect(requests[0]?.body.get('cancellation_reason')).toBe('abandoned');
    expect(requests[0]?.headers.get('idempotency-key')).toBe('cancel-key');
  });

  it('refunds the whole amount with the key, and refuses an answer in another currency', async () => {
    const { stripe, requests } = stubbedStripe(() => ({ status: 200, body: stripeRefund() }));
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    const refund = await provider.refund({ paymentId: 'pi_1', amount: 2500, currency: 'EUR' }, 'refund-key');

    expect(refund).toEqual({ refundId: 're_1', paymentId: 'pi_1', status: 'pending' });
    expect(Object.fromEntries(requests[0]?.body ?? [])).toEqual({ payment_intent: 'pi_1', amount: '2500' });
    expect(requests[0]?.headers.get('idempotency-key')).toBe('refund-key');
    await expect(
      provider.refund({ paymentId: 'pi_1', amount: 2500, currency: 'USD' }, 'refund-key'),
    ).rejects.toThrow(PaymentProviderInvalidResponseError);
  });

  it("lists an intent's refunds", async () => {
    const { stripe, requests } = stubbedStripe(() => ({
      status: 200,
      body: { object: 'list', data: [stripeRefund({ id: 're_2' }), stripeRefund()], has_more: false },
    }));
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    const refunds = await provider.refundsOf('pi_1');

    expect(refunds.map((refund) => refund.refundId)).toEqual(['re_2', 're_1']);
    expect(requests[0]?.url.searchParams.get('payment_intent')).toBe('pi_1');
    expect(requests[0]?.url.searchParams.get('limit')).toBe('100');
  });

  it('lists undelivered events oldest first, reading every page of the window', async () => {
    // Stripe's order: newest first; the second page starts after the first page's last (oldest) event.
    const event = (n: number) =>
      stripeEvent('payment_intent.succeeded', stripeIntent({ id: `pi_${n}` }), {
        id: `evt_${n}`,
        created: 1_796_000_000 + n,
      });
    const pages = new Map([
      [
        null,
        {
          data: [event(5), event(4), stripeEvent('customer.created', { id: 'cus_1' }), event(3)],
          more: true,
        },
      ],
      ['evt_3', { data: [event(2), event(1)], more: false }],
    ]);
    const { stripe, requests } = stubbedStripe((request) => {
      const page = pages.get(request.url.searchParams.get('starting_after') as 'evt_3' | null);
      return { status: 200, body: { object: 'list', data: page?.data ?? [], has_more: page?.more ?? false } };
    });
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    const listed = await provider.undeliveredEvents(new Date(1_796_000_000_500), 3);

    expect(listed.events.map((e) => e.id)).toEqual(['evt_1', 'evt_2', 'evt_3']);
    expect(listed.hasMore).toBe(true);
    const query = requests[0]?.url.searchParams;
    expect(query?.get('delivery_success')).toBe('false');
    expect(query?.get('created[gte]')).toBe('1796000000');
    expect(query?.get('limit')).toBe('100');
    expect(
      [...(query?.entries() ?? [])].filter(([name]) => name.startsWith('types[')).map(([, v]) => v),
    ).toEqual(HANDLED_EVENT_TYPES);
    expect(requests.map((request) => request.url.searchParams.get('starting_after'))).toEqual([
      null,
      'evt_3',
    ]);

    const all = await provider.undeliveredEvents(new Date(1_796_000_000_000), 10);
    expect(all.events.map((e) => e.id)).toEqual(['evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
    expect(all.hasMore).toBe(false);
  });

  it("turns Stripe's error answers into the port's errors", async () => {
    const answers = [
      { status: 402, body: { error: { type: 'card_error', code: 'card_declined', message: 'declined' } } },
      { status: 503, body: { error: { type: 'api_error', message: 'unavailable' } } },
    ];
    const { stripe } = stubbedStripe(() => answers.shift() ?? { status: 500, body: {} });
    const provider = new StripePaymentProvider({ stripe, paymentMethodTypes: [] });

    await expect(provider.retrieveIntent('pi_1')).rejects.toMatchObject({
      name: 'PaymentProviderRejectedError',
      status: 402,
      providerCode: 'card_declined',
    });
    await expect(provider.retrieveIntent('pi_1')).rejects.toMatchObject({
      name: 'PaymentProviderUnavailableError',
      status: 503,
    });
  });
});
