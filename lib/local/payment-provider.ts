import { randomBytes, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { signatureHeader } from '../../functions/domain/webhook-signature';
import { startLoopbackServer } from './aws-protocol-server';
import type { LocalRoute, LocalRouteResponse } from './gateway';

/**
 * A fake payment provider that behaves like a provider's sandbox: a small REST API with bearer-key auth and
 * idempotency keys, and signed webhooks (Stripe's scheme) delivered at least once with retries. The local
 * system and the tests talk to it over real HTTP, so the production adapter is exercised unchanged.
 */

/** A payment intent as the provider stores it. */
export interface FakeIntent {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  /** `requires_payment` until a `payment.*` callback for it is sent. */
  readonly status: 'requires_payment' | 'succeeded' | 'failed';
  readonly idempotencyKey: string;
  readonly createdAt: string;
}

/** A refund as the provider stores it: exactly one per distinct idempotency key. */
export interface FakeRefund {
  readonly refundId: string;
  readonly paymentId: string;
  /** Learned from an intent or a sent callback for `paymentId`; `''` if the provider never saw the payment. */
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  readonly createdAt: string;
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
  /** Where webhooks go; may be set later with {@link FakePaymentProvider.setWebhookUrl}. */
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
  /** Read again at every delivery attempt, so pending retries go to the new URL. */
  setWebhookUrl(url: string): void;
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

/** Base class of this module's errors; `code` is stable. */
export abstract class FakePaymentProviderError extends Error {
  public abstract readonly code: string;
}

/** A call was made on (or was interrupted by) a stopped provider. */
export class FakePaymentProviderStoppedError extends FakePaymentProviderError {
  public override readonly name = 'FakePaymentProviderStoppedError';
  public readonly code = 'FAKE_PAYMENT_PROVIDER_STOPPED';

  public constructor() {
    super('the fake payment provider is stopped');
  }
}

/** An argument of a method of the fake was invalid. */
export class FakePaymentProviderInputError extends FakePaymentProviderError {
  public override readonly name = 'FakePaymentProviderInputError';
  public readonly code = 'FAKE_PAYMENT_PROVIDER_INVALID_INPUT';
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

interface ApiAnswer {
  readonly statusCode: number;
  readonly body: Record<string, unknown>;
}

/** What an idempotency key was first used with, and the answer it got, replayed for every repeat. */
interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly answer: ApiAnswer;
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

function apiError(statusCode: number, code: string, message?: string): ApiAnswer {
  return { statusCode, body: { error: message === undefined ? { code } : { code, message } } };
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

function zodMessage(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
}

function writeJson(response: ServerResponse, answer: ApiAnswer, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(answer.body);
  response
    .writeHead(answer.statusCode, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload).toString(),
      ...headers,
    })
    .end(payload);
}

class BodyTooLargeError extends Error {}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Compared in constant time, as a real provider would, so the fake does not model a timing leak. */
function sameKey(presented: string, expected: string): boolean {
  const left = Buffer.from(presented);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
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
  const refundCallbackDelayMs = options.refundCallbackDelayMs ?? 20;
  const retry: Required<DeliveryRetryOptions> = {
    attempts: options.deliveryRetry?.attempts ?? 8,
    baseDelayMs: options.deliveryRetry?.baseDelayMs ?? 100,
    maxDelayMs: options.deliveryRetry?.maxDelayMs ?? 5000,
  };
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1) {
    throw new FakePaymentProviderInputError('deliveryRetry.attempts must be an integer >= 1');
  }
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 10_000;

  let webhookUrl = options.webhookUrl;
  let failingRefunds = 0;
  let stopped = false;
  const intents = new Map<string, FakeIntent>();
  const refunds: FakeRefund[] = [];
  const deliveries: WebhookDelivery[] = [];
  /** paymentId -> orderId, learned from intents and sent callbacks, for the orderId of refund webhooks. */
  const knownPayments = new Map<string, string>();
  const idempotency = new Map<string, IdempotencyRecord>();
  const timers = new Set<NodeJS.Timeout>();
  /** Aborted by stop(): ends in-flight webhook requests and the waits between retries. */
  const lifetime = new AbortController();
  // Every pending wait and webhook request listens on it; many at once are expected, not a leak (0: no limit).
  setMaxListeners(0, lifetime.signal);

  /** Resolves after `ms`, or rejects with the stopped error as soon as the provider stops. */
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (stopped) {
        reject(new FakePaymentProviderStoppedError());
        return;
      }
      const onStop = () => {
        clearTimeout(timer);
        timers.delete(timer);
        reject(new FakePaymentProviderStoppedError());
      };
      const timer = setTimeout(() => {
        timers.delete(timer);
        lifetime.signal.removeEventListener('abort', onStop);
        resolve();
      }, ms);
      timers.add(timer);
      lifetime.signal.addEventListener('abort', onStop, { once: true });
    });

  const attemptDelivery = async (
    event: WebhookEvent,
    attempt: number,
    signature: SignatureOverride | undefined,
  ): Promise<number | undefined> => {
    const url = webhookUrl;
    const record = (outcome: { statusCode: number } | { error: string }): void => {
      deliveries.push({
        eventId: event.id,
        type: event.type,
        paymentId: event.data.paymentId,
        orderId: event.data.orderId,
        attempt,
        ...outcome,
        url: url ?? '',
        at: new Date().toISOString(),
      });
    };
    if (url === undefined) {
      record({ error: 'no webhook URL is configured' });
      return undefined;
    }
    // The body is the same bytes on every attempt (same event id); only the signature's timestamp is fresh,
    // as with Stripe, so a receiver with a tolerance window accepts a late retry.
    const rawBody = JSON.stringify(event);
    const nowSeconds = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (signature === SignatureOverride.WRONG_SECRET) {
      headers['payment-signature'] = signatureHeader(`${options.webhookSecret}-wrong`, rawBody, nowSeconds);
    } else if (signature === SignatureOverride.STALE) {
      const staleSeconds = nowSeconds - STALE_SIGNATURE_AGE_SECONDS;
      headers['payment-signature'] = signatureHeader(options.webhookSecret, rawBody, staleSeconds);
    } else if (signature !== SignatureOverride.NONE) {
      headers['payment-signature'] = signatureHeader(options.webhookSecret, rawBody, nowSeconds);
    }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: rawBody,
        redirect: 'manual',
        signal: AbortSignal.any([lifetime.signal, AbortSignal.timeout(deliveryTimeoutMs)]),
      });
      // Drained so the keep-alive socket is reusable; the content is not the provider's business.
      await response.arrayBuffer();
      record({ statusCode: response.status });
      return response.status;
    } catch (error) {
      if (stopped) throw new FakePaymentProviderStoppedError();
      record({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      return undefined;
    }
  };

  /** One delivery: attempts until a 2xx or the attempts run out; the last status, or 0 for no answer. */
  const deliver = async (
    event: WebhookEvent,
    attempts: number,
    signature: SignatureOverride | undefined,
  ): Promise<number> => {
    let last: number | undefined;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (stopped) throw new FakePaymentProviderStoppedError();
      last = await attemptDelivery(event, attempt, signature);
      if (last !== undefined && last >= 200 && last < 300) return last;
      if (attempt < attempts) {
        await sleep(Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs));
      }
    }
    return last ?? 0;
  };

  const scheduleRefundCallback = (refund: FakeRefund): void => {
    const event: WebhookEvent = {
      id: newId('evt'),
      type: 'refund.succeeded',
      data: {
        paymentId: refund.paymentId,
        orderId: refund.orderId,
        amount: refund.amount,
        currency: refund.currency,
      },
    };
    sleep(refundCallbackDelayMs)
      .then(() => deliver(event, retry.attempts, undefined))
      .catch((error: unknown) => {
        // Stopping abandons the delivery on purpose; anything else would be a bug in this file.
        if (!(error instanceof FakePaymentProviderStoppedError)) throw error;
      });
  };

  const idempotent = (
    scope: string,
    key: string,
    fingerprint: string,
    act: () => ApiAnswer,
  ): { answer: ApiAnswer; replayed: boolean } => {
    const slot = `${scope} ${key}`;
    const previous = idempotency.get(slot);
    if (previous !== undefined) {
      if (previous.fingerprint !== fingerprint) {
        return {
          answer: apiError(
            409,
            'idempotency_key_reused',
            'this Idempotency-Key was used before with different parameters',
          ),
          replayed: false,
        };
      }
      return { answer: previous.answer, replayed: true };
    }
    const answer = act();
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      idempotency.set(slot, { fingerprint, answer });
    }
    return { answer, replayed: false };
  };

  const createIntent = (key: string, input: z.infer<typeof intentRequestSchema>): ApiAnswer => {
    const intent: FakeIntent = {
      paymentId: newId('pi'),
      orderId: input.orderId,
      amount: input.amount,
      currency: input.currency,
      status: 'requires_payment',
      idempotencyKey: key,
      createdAt: new Date().toISOString(),
    };
    intents.set(intent.paymentId, intent);
    knownPayments.set(intent.paymentId, intent.orderId);
    const { paymentId, orderId, amount, currency, status } = intent;
    return { statusCode: 200, body: { paymentId, orderId, amount, currency, status } };
  };

  const createRefund = (key: string, input: z.infer<typeof refundRequestSchema>): ApiAnswer => {
    const refund: FakeRefund = {
      refundId: newId('re'),
      paymentId: input.paymentId,
      orderId: knownPayments.get(input.paymentId) ?? '',
      amount: input.amount,
      currency: input.currency,
      idempotencyKey: key,
      createdAt: new Date().toISOString(),
    };
    refunds.push(refund);
    scheduleRefundCallback(refund);
    const { refundId, paymentId, amount, currency } = refund;
    return { statusCode: 200, body: { refundId, paymentId, amount, currency, status: 'pending' } };
  };

  const handleApi = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const authorization = request.headers.authorization ?? '';
    const presented = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : '';
    if (!sameKey(presented, options.apiKey)) {
      writeJson(response, apiError(401, 'unauthorized', 'a valid API key is required as a Bearer token'));
      return;
    }
    const isIntent = path === '/v1/payment_intents';
    const isRefund = path === '/v1/refunds';
    if (!isIntent && !isRefund) {
      writeJson(response, apiError(404, 'not_found', `no route for ${request.method ?? ''} ${path}`));
      return;
    }
    if (request.method !== 'POST') {
      writeJson(response, apiError(405, 'method_not_allowed'), { allow: 'POST' });
      return;
    }
    if (isRefund && failingRefunds > 0) {
      // An outage answers before the request is looked at, and leaves nothing behind to replay.
      failingRefunds -= 1;
      request.resume();
      writeJson(response, apiError(503, 'unavailable', 'the provider is temporarily unavailable'));
      return;
    }
    let parsed: unknown;
    try {
      const text = await readBody(request);
      parsed = JSON.parse(text);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        writeJson(response, apiError(413, 'payload_too_large', `the body exceeds ${MAX_BODY_BYTES} bytes`));
      } else {
        writeJson(response, apiError(400, 'invalid_request', 'the body must be JSON'));
      }
      return;
    }
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key.trim() === '' || key.length > 255) {
      writeJson(
        response,
        apiError(400, 'invalid_request', 'an Idempotency-Key header (1-255 chars) is required'),
      );
      return;
    }
    let outcome: { answer: ApiAnswer; replayed: boolean };
    if (isIntent) {
      const input = intentRequestSchema.safeParse(parsed);
      if (!input.success) {
        writeJson(response, apiError(400, 'invalid_request', zodMessage(input.error)));
        return;
      }
      // Fingerprint from the validated fields in a fixed order, so member order in the JSON does not matter.
      const { orderId, amount, currency } = input.data;
      outcome = idempotent('intent', key, JSON.stringify([orderId, amount, currency]), () =>
        createIntent(key, input.data),
      );
    } else {
      const input = refundRequestSchema.safeParse(parsed);
      if (!input.success) {
        writeJson(response, apiError(400, 'invalid_request', zodMessage(input.error)));
        return;
      }
      const { paymentId, amount, currency } = input.data;
      outcome = idempotent('refund', key, JSON.stringify([paymentId, amount, currency]), () =>
        createRefund(key, input.data),
      );
    }
    writeJson(response, outcome.answer, outcome.replayed ? { 'idempotent-replayed': 'true' } : {});
  };

  const server = await startLoopbackServer(handleApi, options.port, (error, response) => {
    if (!response.headersSent) writeJson(response, apiError(500, 'internal_error', String(error)));
    else response.destroy();
  });
  const { url } = server;

  const sendCallback = async (request: CallbackRequest): Promise<CallbackResult> => {
    if (stopped) throw new FakePaymentProviderStoppedError();
    const parsed = callbackRequestSchema.safeParse(request);
    if (!parsed.success) throw new FakePaymentProviderInputError(zodMessage(parsed.error));
    const input = parsed.data;
    const paymentId = input.paymentId ?? newId('pi');
    knownPayments.set(paymentId, input.orderId);
    const intent = intents.get(paymentId);
    if (intent !== undefined) {
      intents.set(paymentId, {
        ...intent,
        status: input.type === 'payment.succeeded' ? 'succeeded' : 'failed',
      });
    }
    const event: WebhookEvent = {
      id: input.eventId ?? newId('evt'),
      type: input.type,
      data: { paymentId, orderId: input.orderId, amount: input.amount, currency: input.currency },
    };
    // Retrying a deliberately bad signature only repeats the refusal and slows the test that wanted it.
    const attempts = input.attempts ?? (input.signatureOverride === undefined ? retry.attempts : 1);
    const statuses: number[] = [];
    for (let time = 0; time < (input.times ?? 1); time += 1) {
      statuses.push(await deliver(event, attempts, input.signatureOverride));
    }
    return { eventId: event.id, paymentId, statuses };
  };

  const localRoutes = (): LocalRoute[] => [
    {
      method: 'GET',
      path: '/_local/provider/refunds',
      handle: async () => ({ statusCode: 200, body: refunds.slice() }),
    },
    {
      method: 'GET',
      path: '/_local/provider/intents',
      handle: async () => ({ statusCode: 200, body: [...intents.values()] }),
    },
    {
      method: 'GET',
      path: '/_local/provider/deliveries',
      handle: async () => ({ statusCode: 200, body: deliveries.slice() }),
    },
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
          return { statusCode: 200, body: await sendCallback(parsed.data) };
        } catch (error) {
          if (error instanceof FakePaymentProviderStoppedError) {
            return { statusCode: 503, body: { message: error.message } };
          }
          throw error;
        }
      },
    },
  ];

  return {
    url,
    setWebhookUrl: (next) => {
      webhookUrl = next;
    },
    intents: () => [...intents.values()],
    refunds: () => refunds.slice(),
    deliveries: () => deliveries.slice(),
    failNextRefunds: (count) => {
      if (!Number.isInteger(count) || count < 0) {
        throw new FakePaymentProviderInputError('failNextRefunds needs an integer >= 0');
      }
      failingRefunds = count;
    },
    sendCallback,
    localRoutes,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      lifetime.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // Closes every connection too, keep-alive ones included.
      await server.close();
    },
  };
}
