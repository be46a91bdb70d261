import { randomBytes, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LocalRoute, LocalRouteResponse } from '../aws/gateway';
import {
  answerOutsidePartyFailure,
  errorAnswer,
  type JsonAnswer,
  LocalServerError,
  type LoopbackServer,
  readBody,
  startLoopbackServer,
  writeJson,
} from '../http';
import { signWebhook } from './webhook-signing';

/**
 * A fake payment provider that behaves like a provider's sandbox: a small REST API with bearer-key auth and
 * idempotency keys, and signed webhooks (Stripe's scheme) delivered at least once with retries. The local
 * system and the tests talk to it over real HTTP, so the production adapter is exercised unchanged.
 */

/** What the provider records on everything a request creates under its idempotency key. */
interface KeyedRecord {
  readonly idempotencyKey: string;
  readonly createdAt: string;
}

/** A payment intent as the provider stores it. */
export interface FakeIntent extends KeyedRecord {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  /** `requires_payment` until a `payment.*` callback for it is sent. */
  readonly status: 'requires_payment' | 'succeeded' | 'failed';
}

/** A refund as the provider stores it: exactly one per distinct idempotency key. */
export interface FakeRefund extends KeyedRecord {
  readonly refundId: string;
  readonly paymentId: string;
  /** Learned from an intent or a sent callback for `paymentId`; `''` if the provider never saw the payment. */
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
}

export type WebhookEventType = 'payment.succeeded' | 'payment.failed' | 'refund.succeeded';

/** One attempt to deliver one webhook event. */
export interface WebhookDelivery {
  readonly eventId: string;
  readonly type: WebhookEventType;
  readonly paymentId: string;
  readonly orderId: string;
  /** 1 for the first try of a delivery, counting up across its retries. */
  readonly attempt: number;
  /** The receiver's HTTP status; absent when there was no answer. */
  readonly statusCode?: number;
  /** Why there was no answer (network error, timeout, no webhook URL). */
  readonly error?: string;
  readonly url: string;
  readonly at: string;
}

export const SignatureOverride = { NONE: 'none', WRONG_SECRET: 'wrong-secret', STALE: 'stale' } as const;
export type SignatureOverride = (typeof SignatureOverride)[keyof typeof SignatureOverride];

const currencySchema = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code in upper case, like EUR');
const amountSchema = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const idSchema = z.string().min(1).max(255);

/** The body of `POST /_local/provider/callbacks`, and the argument of {@link FakePaymentProvider.sendCallback}. */
export const callbackRequestSchema = z.strictObject({
  type: z.enum(['payment.succeeded', 'payment.failed']),
  orderId: idSchema,
  amount: amountSchema,
  currency: currencySchema,
  paymentId: idSchema.optional(),
  eventId: idSchema.optional(),
  times: z.int().min(1).max(100).optional(),
  signatureOverride: z.enum(['none', 'wrong-secret', 'stale']).optional(),
  /** Attempts per delivery; default `deliveryRetry.attempts`, or 1 with a `signatureOverride`. */
  attempts: z.int().min(1).max(100).optional(),
});

export type CallbackRequest = z.input<typeof callbackRequestSchema>;

export interface CallbackResult {
  readonly eventId: string;
  readonly paymentId: string;
  /** The final HTTP status of each of the `times` deliveries, after retries; 0 when none answered. */
  readonly statuses: number[];
}

export interface DeliveryRetryOptions {
  /** Attempts per delivery, the first included. Default 8. */
  readonly attempts: number;
  /** Wait before the first retry, doubled for each next one. Default 100 ms. */
  readonly baseDelayMs: number;
  /** Upper bound of one wait. Default 5000 ms. */
  readonly maxDelayMs?: number;
}

export interface FakePaymentProviderOptions {
  /** The secret API key callers must send as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string;
  /** The webhook signing secret. */
  readonly webhookSecret: string;
  /** Where webhooks go; without one, every delivery is recorded as failed. */
  readonly webhookUrl?: string;
  /** Default: a free loopback port. */
  readonly port?: number;
  /** Delay between accepting a refund and sending its `refund.succeeded` webhook. Default 20 ms. */
  readonly refundCallbackDelayMs?: number;
  readonly deliveryRetry?: Partial<DeliveryRetryOptions>;
  /** How long one webhook attempt may take before it counts as failed. Default 10000 ms. */
  readonly deliveryTimeoutMs?: number;
}

export interface FakePaymentProvider {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:1234`. */
  readonly url: string;
  intents(): FakeIntent[];
  refunds(): FakeRefund[];
  deliveries(): WebhookDelivery[];
  /** The next `count` refund calls answer 503 and create nothing, as a provider outage would. */
  failNextRefunds(count: number): void;
  /**
   * Sends a payment webhook as the provider would after the customer paid (or failed to), `times` times with
   * the same event id; resolves once every delivery, retries included, has finished.
   */
  sendCallback(request: CallbackRequest): Promise<CallbackResult>;
  /** Inspection and control routes for the local gateway, under `/_local/provider/`. */
  localRoutes(): LocalRoute[];
  /** Cancels pending deliveries and timers and closes the server. */
  stop(): Promise<void>;
}

/** A call was made on (or was interrupted by) a stopped provider. */
export class FakePaymentProviderStoppedError extends LocalServerError {
  public override readonly name = 'FakePaymentProviderStoppedError';

  public constructor() {
    super('FAKE_PAYMENT_PROVIDER_STOPPED', 'the fake payment provider is stopped');
  }
}

/** An argument of a method of the fake was invalid. */
export class FakePaymentProviderInputError extends LocalServerError {
  public override readonly name = 'FakePaymentProviderInputError';

  public constructor(message: string) {
    super('FAKE_PAYMENT_PROVIDER_INVALID_INPUT', message);
  }
}

const intentRequestSchema = z.strictObject({
  orderId: idSchema,
  amount: amountSchema,
  currency: currencySchema,
});
const refundRequestSchema = z.strictObject({
  paymentId: idSchema,
  amount: amountSchema,
  currency: currencySchema,
});

const MAX_BODY_BYTES = 64 * 1024;
/** A stale signature must be well outside any sane tolerance (Stripe's is 300 s). */
const STALE_SIGNATURE_AGE_SECONDS = 3600;

/** What an idempotency key was first used with, and the answer it got, replayed for every repeat. */
interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly answer: JsonAnswer;
}

interface WebhookEvent {
  readonly id: string;
  readonly type: WebhookEventType;
  readonly data: {
    readonly paymentId: string;
    readonly orderId: string;
    readonly amount: number;
    readonly currency: string;
  };
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
}

class BodyTooLargeError extends Error {}

/** Compared in constant time, as a real provider would, so the fake does not model a timing leak. */
function sameKey(presented: string, expected: string): boolean {
  const left = Buffer.from(presented);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The options with their defaults, checked once at start. */
interface ProviderSettings {
  readonly apiKey: string;
  readonly webhookSecret: string;
  readonly refundCallbackDelayMs: number;
  readonly retry: Required<DeliveryRetryOptions>;
  readonly deliveryTimeoutMs: number;
}

function settingsOf(options: FakePaymentProviderOptions): ProviderSettings {
  const retry: Required<DeliveryRetryOptions> = {
    attempts: options.deliveryRetry?.attempts ?? 8,
    baseDelayMs: options.deliveryRetry?.baseDelayMs ?? 100,
    maxDelayMs: options.deliveryRetry?.maxDelayMs ?? 5000,
  };
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new FakePaymentProviderInputError('deliveryRetry.attempts must be an integer >= 1');
  }
  return {
    apiKey: options.apiKey,
    webhookSecret: options.webhookSecret,
    refundCallbackDelayMs: options.refundCallbackDelayMs ?? 20,
    retry,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? 10_000,
  };
}

/** Everything the running fake remembers and schedules. */
interface Provider {
  readonly settings: ProviderSettings;
  readonly webhookUrl: string | undefined;
  failingRefunds: number;
  stopped: boolean;
  readonly intents: Map<string, FakeIntent>;
  readonly refunds: FakeRefund[];
  readonly deliveries: WebhookDelivery[];
  /** paymentId -> orderId, learned from intents and sent callbacks, for the orderId of refund webhooks. */
  readonly knownPayments: Map<string, string>;
  readonly idempotency: Map<string, IdempotencyRecord>;
  readonly timers: Set<NodeJS.Timeout>;
  /** Aborted by stop(): ends in-flight webhook requests and the waits between retries. */
  readonly lifetime: AbortController;
}

function newProvider(options: FakePaymentProviderOptions): Provider {
  const lifetime = new AbortController();
  // Every pending wait and webhook request listens on it; many at once are expected, not a leak (0: no limit).
  setMaxListeners(0, lifetime.signal);
  return {
    settings: settingsOf(options),
    webhookUrl: options.webhookUrl,
    failingRefunds: 0,
    stopped: false,
    intents: new Map(),
    refunds: [],
    deliveries: [],
    knownPayments: new Map(),
    idempotency: new Map(),
    timers: new Set(),
    lifetime,
  };
}

/** Resolves after `ms`, or rejects with the stopped error as soon as the provider stops. */
function sleep(provider: Provider, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (provider.stopped) {
      reject(new FakePaymentProviderStoppedError());
      return;
    }
    const onStop = () => {
      clearTimeout(timer);
      provider.timers.delete(timer);
      reject(new FakePaymentProviderStoppedError());
    };
    const timer = setTimeout(() => {
      provider.timers.delete(timer);
      provider.lifetime.signal.removeEventListener('abort', onStop);
      resolve();
    }, ms);
    provider.timers.add(timer);
    provider.lifetime.signal.addEventListener('abort', onStop, { once: true });
  });
}

/** The `Payment-Signature` header for one attempt, spoiled as `override` asks; none for `NONE`. */
function signatureFor(
  secret: string,
  rawBody: string,
  override: SignatureOverride | undefined,
): string | undefined {
  const nowSeconds = Math.floor(Date.now() / 1000);
  switch (override) {
    case SignatureOverride.NONE:
      return undefined;
    case SignatureOverride.WRONG_SECRET:
      return signWebhook(`${secret}-wrong`, rawBody, nowSeconds);
    case SignatureOverride.STALE:
      return signWebhook(secret, rawBody, nowSeconds - STALE_SIGNATURE_AGE_SECONDS);
    default:
      return signWebhook(secret, rawBody, nowSeconds);
  }
}

/** One attempt of one delivery, recorded; the receiver's status, or undefined when none answered. */
async function attemptDelivery(
  provider: Provider,
  event: WebhookEvent,
  attempt: number,
  signature: SignatureOverride | undefined,
): Promise<number | undefined> {
  const url = provider.webhookUrl;
  const record = (outcome: { statusCode: number } | { error: string }): void => {
    const { id: eventId, type, data } = event;
    const at = new Date().toISOString();
    provider.deliveries.push({
      eventId,
      type,
      paymentId: data.paymentId,
      orderId: data.orderId,
      attempt,
      ...outcome,
      url: url ?? '',
      at,
    });
  };
  if (url === undefined) {
    record({ error: 'no webhook URL is configured' });
    return undefined;
  }
  // The body is the same bytes on every attempt (same event id); only the signature's timestamp is fresh,
  // as with Stripe, so a receiver with a tolerance window accepts a late retry.
  const rawBody = JSON.stringify(event);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const header = signatureFor(provider.settings.webhookSecret, rawBody, signature);
  if (header !== undefined) headers['payment-signature'] = header;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body: rawBody,
      redirect: 'manual',
      signal: AbortSignal.any([
        provider.lifetime.signal,
        AbortSignal.timeout(provider.settings.deliveryTimeoutMs),
      ]),
    });
    // Drained so the keep-alive socket is reusable; the content is not the provider's business.
    await response.arrayBuffer();
    record({ statusCode: response.status });
    return response.status;
  } catch (error) {
    if (provider.stopped) throw new FakePaymentProviderStoppedError();
    record({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    return undefined;
  }
}

/** One delivery: attempts until a 2xx or the attempts run out; the last status, or 0 for no answer. */
async function deliver(
  provider: Provider,
  event: WebhookEvent,
  attempts: number,
  signature: SignatureOverride | undefined,
): Promise<number> {
  const { retry } = provider.settings;
  let last: number | undefined;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    if (provider.stopped) throw new FakePaymentProviderStoppedError();
    last = await attemptDelivery(provider, event, attempt, signature);
    if (last !== undefined && last >= 200 && last < 300) return last;
    if (attempt < attempts) {
      await sleep(provider, Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs));
    }
  }
  return last ?? 0;
}

function scheduleRefundCallback(provider: Provider, refund: FakeRefund): void {
  const { paymentId, orderId, amount, currency } = refund;
  const event: WebhookEvent = {
    id: newId('evt'),
    type: 'refund.succeeded',
    data: { paymentId, orderId, amount, currency },
  };
  sleep(provider, provider.settings.refundCallbackDelayMs)
    .then(() => deliver(provider, event, provider.settings.retry.attempts, undefined))
    .catch((error: unknown) => {
      // Stopping abandons the delivery on purpose; anything else would be a bug in this file.
      if (!(error instanceof FakePaymentProviderStoppedError)) throw error;
    });
}

function idempotent(
  provider: Provider,
  scope: string,
  key: string,
  fingerprint: string,
  act: () => JsonAnswer,
): { answer: JsonAnswer; replayed: boolean } {
  const slot = `${scope} ${key}`;
  const previous = provider.idempotency.get(slot);
  if (previous !== undefined) {
    if (previous.fingerprint !== fingerprint) {
      const message = 'this Idempotency-Key was used before with different parameters';
      return { answer: errorAnswer(409, 'idempotency_key_reused', message), replayed: false };
    }
    return { answer: previous.answer, replayed: true };
  }
  const answer = act();
  if (answer.statusCode >= 200 && answer.statusCode < 300) {
    provider.idempotency.set(slot, { fingerprint, answer });
  }
  return { answer, replayed: false };
}

function createIntent(
  provider: Provider,
  input: z.infer<typeof intentRequestSchema>,
  keyed: KeyedRecord,
): JsonAnswer {
  const intent: FakeIntent = { paymentId: newId('pi'), ...input, status: 'requires_payment', ...keyed };
  provider.intents.set(intent.paymentId, intent);
  provider.knownPayments.set(intent.paymentId, intent.orderId);
  const { paymentId, orderId, amount, currency, status } = intent;
  return { statusCode: 200, body: { paymentId, orderId, amount, currency, status } };
}

function createRefund(
  provider: Provider,
  input: z.infer<typeof refundRequestSchema>,
  keyed: KeyedRecord,
): JsonAnswer {
  const orderId = provider.knownPayments.get(input.paymentId) ?? '';
  const refund: FakeRefund = { refundId: newId('re'), ...input, orderId, ...keyed };
  provider.refunds.push(refund);
  scheduleRefundCallback(provider, refund);
  const { refundId, paymentId, amount, currency } = refund;
  return { statusCode: 200, body: { refundId, paymentId, amount, currency, status: 'pending' } };
}

type ApiEndpoint = 'intent' | 'refund';

/** A refusal decided before the body is read: auth, route, method, outage; or the endpoint asked for. */
function routeOf(
  provider: Provider,
  request: IncomingMessage,
): { refusal: JsonAnswer; headers?: Record<string, string> } | { endpoint: ApiEndpoint } {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const authorization = request.headers.authorization ?? '';
  const presented = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
  if (!sameKey(presented, provider.settings.apiKey)) {
    return { refusal: errorAnswer(401, 'unauthorized', 'a valid API key is required as a Bearer token') };
  }
  const endpoint = path === '/v1/payment_intents' ? 'intent' : path === '/v1/refunds' ? 'refund' : undefined;
  if (endpoint === undefined) {
    return { refusal: errorAnswer(404, 'not_found', `no route for ${request.method ?? ''} ${path}`) };
  }
  if (request.method !== 'POST') {
    return { refusal: errorAnswer(405, 'method_not_allowed'), headers: { allow: 'POST' } };
  }
  if (endpoint === 'refund' && provider.failingRefunds > 0) {
    // An outage answers before the request is looked at, and leaves nothing behind to replay.
    provider.failingRefunds -= 1;
    request.resume();
    return { refusal: errorAnswer(503, 'unavailable', 'the provider is temporarily unavailable') };
  }
  return { endpoint };
}

/** The JSON body and the idempotency key, or the 4xx that refuses them. */
async function inputOf(
  request: IncomingMessage,
): Promise<{ parsed: unknown; key: string } | { refusal: JsonAnswer }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readBody(request, MAX_BODY_BYTES, () => new BodyTooLargeError()));
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      return { refusal: errorAnswer(413, 'payload_too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`) };
    }
    return { refusal: errorAnswer(400, 'invalid_request', 'the body must be JSON') };
  }
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key.trim() === '' || key.length > 255) {
    return {
      refusal: errorAnswer(400, 'invalid_request', 'an Idempotency-Key header (1-255 chars) is required'),
    };
  }
  return { parsed, key };
}

/** Runs a validated request under its idempotency key; fingerprints use the fields in a fixed order. */
function act(
  provider: Provider,
  endpoint: ApiEndpoint,
  key: string,
  parsed: unknown,
): { answer: JsonAnswer; replayed: boolean } {
  const run = <I extends { readonly amount: number; readonly currency: string }>(
    schema: z.ZodType<I>,
    subject: (input: I) => string,
    create: (input: I, keyed: KeyedRecord) => JsonAnswer,
  ) => {
    const input = schema.safeParse(parsed);
    if (!input.success) {
      return { answer: errorAnswer(400, 'invalid_request', zodMessage(input.error)), replayed: false };
    }
    const { amount, currency } = input.data;
    const fingerprint = JSON.stringify([subject(input.data), amount, currency]);
    return idempotent(provider, endpoint, key, fingerprint, () =>
      create(input.data, { idempotencyKey: key, createdAt: new Date().toISOString() }),
    );
  };
  return endpoint === 'intent'
    ? run(
        intentRequestSchema,
        (input) => input.orderId,
        (input, keyed) => createIntent(provider, input, keyed),
      )
    : run(
        refundRequestSchema,
        (input) => input.paymentId,
        (input, keyed) => createRefund(provider, input, keyed),
      );
}

async function handleApi(
  provider: Provider,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const route = routeOf(provider, request);
  if ('refusal' in route) {
    writeJson(response, route.refusal.statusCode, route.refusal.body, route.headers);
    return;
  }
  const input = await inputOf(request);
  if ('refusal' in input) {
    writeJson(response, input.refusal.statusCode, input.refusal.body);
    return;
  }
  const { answer, replayed } = act(provider, route.endpoint, input.key, input.parsed);
  writeJson(response, answer.statusCode, answer.body, replayed ? { 'idempotent-replayed': 'true' } : {});
}

async function sendCallback(provider: Provider, request: CallbackRequest): Promise<CallbackResult> {
  if (provider.stopped) throw new FakePaymentProviderStoppedError();
  const parsed = callbackRequestSchema.safeParse(request);
  if (!parsed.success) throw new FakePaymentProviderInputError(zodMessage(parsed.error));
  const input = parsed.data;
  const paymentId = input.paymentId ?? newId('pi');
  provider.knownPayments.set(paymentId, input.orderId);
  const intent = provider.intents.get(paymentId);
  if (intent !== undefined) {
    const status = input.type === 'payment.succeeded' ? 'succeeded' : 'failed';
    provider.intents.set(paymentId, { ...intent, status });
  }
  const event: WebhookEvent = {
    id: input.eventId ?? newId('evt'),
    type: input.type,
    data: { paymentId, orderId: input.orderId, amount: input.amount, currency: input.currency },
  };
  // Retrying a deliberately bad signature only repeats the refusal and slows the test that wanted it.
  const attempts =
    input.attempts ?? (input.signatureOverride === undefined ? provider.settings.retry.attempts : 1);
  const statuses: number[] = [];
  for (let time = 0; time < (input.times ?? 1); time += 1) {
    statuses.push(await deliver(provider, event, attempts, input.signatureOverride));
  }
  return { eventId: event.id, paymentId, statuses };
}

function localRoutesOf(provider: Provider): LocalRoute[] {
  const list = (path: `/_local/${string}`, read: () => unknown): LocalRoute => ({
    method: 'GET',
    path,
    handle: async () => ({ statusCode: 200, body: read() }),
  });
  return [
    list('/_local/provider/refunds', () => provider.refunds.slice()),
    list('/_local/provider/intents', () => [...provider.intents.values()]),
    list('/_local/provider/deliveries', () => provider.deliveries.slice()),
    {
      method: 'POST',
      path: '/_local/provider/callbacks',
      handle: async ({ body }): Promise<LocalRouteResponse> => {
        const parsed = callbackRequestSchema.safeParse(body);
        if (!parsed.success) {
          return {
            statusCode: 400,
            body: { message: `invalid callback request: ${zodMessage(parsed.error)}` },
          };
        }
        try {
          return { statusCode: 200, body: await sendCallback(provider, parsed.data) };
        } catch (error) {
          if (error instanceof FakePaymentProviderStoppedError) {
            return { statusCode: 503, body: { message: error.message } };
          }
          throw error;
        }
      },
    },
  ];
}

async function stopProvider(provider: Provider, server: LoopbackServer): Promise<void> {
  if (provider.stopped) return;
  provider.stopped = true;
  provider.lifetime.abort();
  for (const timer of provider.timers) clearTimeout(timer);
  provider.timers.clear();
  // Closes every connection too, keep-alive ones included.
  await server.close();
}

/**
 * Starts the fake on 127.0.0.1. Idempotency keys are scoped per endpoint; a repeat with the same key and the
 * same parameters replays the first answer (with `Idempotent-Replayed: true`), as Stripe does, and a request
 * that was refused before it did anything (invalid, unauthorized, outage) stores nothing, so it can be retried
 * with the same key.
 */
export async function startFakePaymentProvider(
  options: FakePaymentProviderOptions,
): Promise<FakePaymentProvider> {
  const provider = newProvider(options);
  const server = await startLoopbackServer(
    (request, response) => handleApi(provider, request, response),
    options.port,
    answerOutsidePartyFailure,
  );
  return {
    url: server.url,
    intents: () => [...provider.intents.values()],
    refunds: () => provider.refunds.slice(),
    deliveries: () => provider.deliveries.slice(),
    failNextRefunds: (count) => {
      if (!Number.isInteger(count) || count < 0) {
        throw new FakePaymentProviderInputError('failNextRefunds needs an integer >= 0');
      }
      provider.failingRefunds = count;
    },
    sendCallback: (request) => sendCallback(provider, request),
    localRoutes: () => localRoutesOf(provider),
    stop: () => stopProvider(provider, server),
  };
}
