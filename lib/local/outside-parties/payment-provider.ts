import type Stripe from 'stripe';
import { HANDLED_EVENT_TYPES } from '../../../functions/adapters/stripe-payment-provider';
import type { LocalRoute, LocalRouteResponse } from '../aws/gateway';
import { answerOutsidePartyFailure, startLoopbackServer } from '../http';
import { type ApiState, handleApi } from './stripe/api';
import { FakePaymentProviderInputError, FakePaymentProviderStoppedError, Lifetime } from './stripe/lifetime';
import { Resources } from './stripe/resources';
import {
  type DeliveryRetryOptions,
  EventLog,
  type StoredEvent,
  type WebhookDelivery,
  type WebhookLoss,
} from './stripe/webhooks';

/**
 * A fake Stripe: the subset of Stripe's REST API (v1, form-encoded, Bearer `sk_test_...` key) that the official
 * `stripe` SDK uses for PaymentIntents, refunds and events, so the SDK runs unchanged against it when pointed at
 * it by `host`/`port`/`protocol`. Idempotency keys, error shapes and status codes are Stripe's; every state
 * change creates an event, listed by `/v1/events`; an event of a type the webhook endpoint is registered for
 * (`enabledEvents`) is delivered in the background to `webhookUrl` with a `Stripe-Signature`, retried with
 * backoff, and listable with `delivery_success=false` until a delivery got a 2xx.
 *
 * Test PaymentMethods (Stripe's documented ones, https://docs.stripe.com/testing):
 * - `pm_card_visa`, `pm_card_mastercard`: the payment succeeds at confirm.
 * - `pm_card_chargeDeclined` (decline_code `generic_decline`), `pm_card_chargeDeclinedInsufficientFunds`
 *   (`insufficient_funds`): 402 `card_error`/`card_declined`; the intent goes back to `requires_payment_method`
 *   with `last_payment_error`, and `payment_intent.payment_failed` is sent.
 * - `pm_usBankAccount_success` (ACH Direct Debit, type `us_bank_account`): `processing` for `processingMs`,
 *   then `succeeded`. Unlike Stripe, `mandate_data` is accepted but not required.
 * - `payment_method_data[type]=alipay` or `wechat_pay` (with `confirm`): `requires_action` with Stripe's
 *   `next_action` (its URLs are placeholders) until `authorize(id)` or the local route approves it as the
 *   customer would; then `processing` for `processingMs`, then `succeeded`.
 * A method's type must be in the intent's `payment_method_types` (all four with automatic payment methods).
 * Not modelled: manual capture, customers, `expand` (accepted, ignored), updating an intent, listing intents.
 */

export type { EventDelivery, FakeEvent } from './stripe/webhooks';
export type { DeliveryRetryOptions, StoredEvent, WebhookDelivery, WebhookLoss };
export { FakePaymentProviderInputError, FakePaymentProviderStoppedError };

/** The API version the fake's events carry unless told otherwise: the one the `stripe` package pins. */
export const FAKE_STRIPE_API_VERSION = '2026-10-28.endive';

export interface FakePaymentProviderOptions {
  /** The secret key callers must present (Bearer); shaped like Stripe's test keys, `sk_test_...`. */
  readonly apiKey: string;
  /** The webhook signing secret, `whsec_...`. */
  readonly webhookSecret: string;
  /** Where events are delivered; without one, every delivery attempt is recorded as failed. */
  readonly webhookUrl?: string;
  /**
   * The endpoint's `enabled_events`: the event types delivered to it, or `['*']` for all. Default: the types the
   * payment webhook handles, the list its deployed endpoint is registered for (docs/deploy.md).
   */
  readonly enabledEvents?: readonly string[];
  /** Default: a free loopback port. */
  readonly port?: number;
  /** The `api_version` of events. Default {@link FAKE_STRIPE_API_VERSION}. */
  readonly apiVersion?: string;
  /** How long a bank debit or an approved wallet payment stays `processing`. Default 2000 ms. */
  readonly processingMs?: number;
  /** How long a refund stays `pending`. Default 20 ms. */
  readonly refundSettleMs?: number;
  readonly deliveryRetry?: Partial<DeliveryRetryOptions>;
  /** How long one webhook attempt may take before it counts as failed. Default 10000 ms. */
  readonly deliveryTimeoutMs?: number;
  /** The fraction (0..1) of events lost on purpose: never delivered. Default 0. */
  readonly webhookLossRate?: number;
  /** How long after its creation an event is first sent. Default 0. */
  readonly webhookDelayMs?: number;
  /** Decides which events are lost (`random() < webhookLossRate`). Default `Math.random`. */
  readonly random?: () => number;
}

export interface FakePaymentProvider {
  /** Base URL of the API, e.g. `http://127.0.0.1:1234` (the SDK's `host`, `port` and `protocol`). */
  readonly url: string;
  intents(): Stripe.PaymentIntent[];
  refunds(): Stripe.Refund[];
  /** Every event in creation order, with where its delivery stands. */
  events(): StoredEvent[];
  /** Every delivery attempt. */
  deliveries(): WebhookDelivery[];
  /** The next `count` refund creations answer 503 `api_error` and create nothing. */
  failNextRefunds(count: number): void;
  /**
   * The next `calls` API calls answer 503 `api_error` (or 429 `rate_limit` with `status` 429) and do nothing;
   * `Infinity` lasts until `setOutage(0)`.
   */
  setOutage(calls: number, status?: 503 | 429): void;
  /** Every later event about this PaymentIntent is lost. */
  loseWebhooksFor(paymentIntentId: string): void;
  /** Changes the loss rate and the lateness of events created from now on. */
  setWebhookLoss(loss: { readonly rate?: number; readonly delayMs?: number }): void;
  /** The customer approves a wallet payment that is `requires_action`; it goes `processing`, then `succeeded`. */
  authorize(paymentIntentId: string): Stripe.PaymentIntent;
  /** Inspection and control routes for the local gateway, under `/_local/provider/`. */
  localRoutes(): LocalRoute[];
  /** Cancels pending deliveries and timers and closes the server. */
  stop(): Promise<void>;
}

function checkedLoss(current: WebhookLoss, change: { rate?: unknown; delayMs?: unknown }): WebhookLoss {
  const rate = change.rate ?? current.rate;
  const delayMs = change.delayMs ?? current.delayMs;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) {
    throw new FakePaymentProviderInputError('the webhook loss rate must be a number from 0 to 1');
  }
  if (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0) {
    throw new FakePaymentProviderInputError('the webhook delay must be an integer >= 0 (ms)');
  }
  return { rate, delayMs };
}

function checkedCount(count: unknown, what: string): number {
  if (count === Number.POSITIVE_INFINITY) return count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw new FakePaymentProviderInputError(`${what} needs an integer >= 0 or Infinity`);
  }
  return count;
}

function enabledEventsOf(options: FakePaymentProviderOptions): readonly string[] {
  const enabled = options.enabledEvents ?? HANDLED_EVENT_TYPES;
  // Stripe refuses an endpoint without events.
  if (enabled.length === 0) throw new FakePaymentProviderInputError("enabledEvents must list types, or '*'");
  return enabled;
}

function retryOf(options: FakePaymentProviderOptions): Required<DeliveryRetryOptions> {
  const retry = {
    attempts: options.deliveryRetry?.attempts ?? 8,
    baseDelayMs: options.deliveryRetry?.baseDelayMs ?? 100,
    maxDelayMs: options.deliveryRetry?.maxDelayMs ?? 5000,
  };
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new FakePaymentProviderInputError('deliveryRetry.attempts must be an integer >= 1');
  }
  return retry;
}

/** A control route's body field, or the 400 that refuses it. */
function paymentIntentIdOf(body: unknown): string | LocalRouteResponse {
  const id =
    typeof body === 'object' && body !== null && 'paymentIntentId' in body ? body.paymentIntentId : undefined;
  if (typeof id === 'string' && id !== '') return id;
  return { statusCode: 400, body: { message: 'the body must be {"paymentIntentId": "pi_..."}' } };
}

/** Runs a control action; an invalid input is the caller's 400, anything else a bug. */
function control(act: () => unknown): LocalRouteResponse {
  try {
    return { statusCode: 200, body: act() };
  } catch (error) {
    if (error instanceof FakePaymentProviderInputError || error instanceof FakePaymentProviderStoppedError) {
      return { statusCode: 400, body: { message: error.message } };
    }
    throw error;
  }
}

function localRoutesOf(provider: FakePaymentProvider): LocalRoute[] {
  const list = (path: `/_local/${string}`, read: () => unknown): LocalRoute => ({
    method: 'GET',
    path,
    handle: async () => ({ statusCode: 200, body: read() }),
  });
  const post = (path: `/_local/${string}`, act: (body: unknown) => LocalRouteResponse): LocalRoute => ({
    method: 'POST',
    path,
    handle: async ({ body }) => act(body),
  });
  const onIntent = (act: (id: string) => unknown) => (body: unknown) => {
    const id = paymentIntentIdOf(body);
    return typeof id === 'string' ? control(() => act(id)) : id;
  };
  const field = (body: unknown, name: string): unknown =>
    typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  return [
    list('/_local/provider/intents', () => provider.intents()),
    list('/_local/provider/refunds', () => provider.refunds()),
    list('/_local/provider/events', () => provider.events()),
    list('/_local/provider/deliveries', () => provider.deliveries()),
    post('/_local/provider/webhooks', (body) =>
      control(() => {
        provider.setWebhookLoss({
          rate: field(body, 'lossRate') as number,
          delayMs: field(body, 'delayMs') as number,
        });
        return { ok: true };
      }),
    ),
    // JSON has no Infinity: `"calls": null` stands for it (an outage until `"calls": 0`).
    post('/_local/provider/outage', (body) =>
      control(() => {
        const calls = field(body, 'calls');
        provider.setOutage(calls === null ? Number.POSITIVE_INFINITY : (calls as number));
        return { ok: true };
      }),
    ),
    // The gateway matches /_local/ paths exactly, so the intent's id is in the body.
    post(
      '/_local/provider/intents/lose-webhooks',
      onIntent((id) => {
        provider.loseWebhooksFor(id);
        return { ok: true };
      }),
    ),
    post(
      '/_local/provider/intents/authorize',
      onIntent((id) => provider.authorize(id)),
    ),
  ];
}

/**
 * Starts the fake on 127.0.0.1. An idempotency key replays the first answer to the same call with the same
 * parameters (`Idempotent-Replayed: true`), answers `idempotency_error` to different ones, and stores nothing
 * for a call refused before it did anything (invalid, unauthorized, outage), so it can be retried as it is.
 */
export async function startFakePaymentProvider(
  options: FakePaymentProviderOptions,
): Promise<FakePaymentProvider> {
  const lifetime = new Lifetime();
  const loss = checkedLoss(
    { rate: 0, delayMs: 0 },
    { rate: options.webhookLossRate, delayMs: options.webhookDelayMs },
  );
  const log = new EventLog(
    {
      webhookUrl: options.webhookUrl,
      enabledEvents: enabledEventsOf(options),
      webhookSecret: options.webhookSecret,
      apiVersion: options.apiVersion ?? FAKE_STRIPE_API_VERSION,
      retry: retryOf(options),
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
      random: options.random ?? Math.random,
    },
    lifetime,
    loss,
  );
  let url = '';
  const resources = new Resources(
    {
      processingMs: options.processingMs ?? 2000,
      refundSettleMs: options.refundSettleMs ?? 20,
      baseUrl: () => url,
    },
    log,
    lifetime,
  );
  const state: ApiState = {
    apiKey: options.apiKey,
    apiVersion: options.apiVersion ?? FAKE_STRIPE_API_VERSION,
    resources,
    log,
    outage: { calls: 0, status: 503 },
    failingRefunds: 0,
    idempotency: new Map(),
  };
  const server = await startLoopbackServer(
    (request, response) => handleApi(state, request, response),
    options.port,
    answerOutsidePartyFailure,
  );
  url = server.url;
  const known = (id: string): string => {
    if (!resources.intents.has(id)) throw new FakePaymentProviderInputError(`no PaymentIntent ${id}`);
    return id;
  };
  const provider: FakePaymentProvider = {
    url,
    intents: () => [...resources.intents.values()],
    refunds: () => resources.refunds.slice(),
    events: () => log.events(),
    deliveries: () => log.deliveries(),
    failNextRefunds: (count) => {
      state.failingRefunds = checkedCount(count, 'failNextRefunds');
    },
    setOutage: (calls, status = 503) => {
      state.outage = { calls: checkedCount(calls, 'setOutage'), status };
    },
    loseWebhooksFor: (id) => log.loseFor(known(id)),
    setWebhookLoss: (change) => {
      log.loss = checkedLoss(log.loss, change);
    },
    authorize: (id) => {
      if (lifetime.stopped) throw new FakePaymentProviderStoppedError();
      return resources.authorize(known(id));
    },
    localRoutes: () => localRoutesOf(provider),
    stop: async () => {
      if (lifetime.stopped) return;
      lifetime.stop();
      // Closes every connection too, keep-alive ones included.
      await server.close();
    },
  };
  return provider;
}
