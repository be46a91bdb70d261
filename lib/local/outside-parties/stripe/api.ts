import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Stripe from 'stripe';
import { readBody, writeJson } from '../../http';
import { decodeForm, type FormObject, FormShapeError, type FormValue } from './form';
import {
  type ConfirmInput,
  invalidRequest,
  noSuch,
  type Resources,
  type StripeErrorBody,
  StripeRequestError,
  WALLET_TYPES,
} from './resources';
import type { EventCause, EventLog, StoredEvent } from './webhooks';

/** What the API needs besides the resources: the key it accepts and the trouble it was told to cause. */
export interface ApiState {
  readonly apiKey: string;
  readonly apiVersion: string;
  readonly resources: Resources;
  readonly log: EventLog;
  /** API calls still to refuse, and how: 503 (an outage) or 429 (rate limited). */
  outage: { calls: number; status: 503 | 429 };
  failingRefunds: number;
  readonly idempotency: Map<string, IdempotencyRecord>;
}

/** What an idempotency key was first used with, and the answer it got, replayed for every repeat. */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string;
}

const MAX_BODY_BYTES = 64 * 1024;
const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;
const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const;

function apiError(status: 503 | 500, message: string): StripeRequestError {
  return new StripeRequestError(status, { type: 'api_error', message });
}

/** Compared in constant time, as a real provider would, so the fake does not model a timing leak. */
function sameKey(presented: string, expected: string): boolean {
  const left = Buffer.from(presented);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Stripe takes the key as a Bearer token or as Basic auth's user name. */
function presentedKey(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  if (authorization.startsWith('Bearer ')) return authorization.slice('Bearer '.length);
  if (authorization.startsWith('Basic ')) {
    return Buffer.from(authorization.slice('Basic '.length), 'base64').toString('utf8').split(':')[0];
  }
  return undefined;
}

function authenticate(state: ApiState, request: IncomingMessage): void {
  const key = presentedKey(request.headers.authorization);
  if (key === undefined || key === '') {
    throw new StripeRequestError(401, {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    });
  }
  if (!sameKey(key, state.apiKey)) {
    throw new StripeRequestError(401, {
      type: 'invalid_request_error',
      code: 'api_key_invalid',
      message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`,
    });
  }
}

/** Reads parameters off a decoded form, refusing them as Stripe does. */
class Params {
  private readonly used = new Set<string>(['expand']);

  public constructor(private readonly form: FormObject) {}

  private value(name: string): FormValue | undefined {
    this.used.add(name);
    return this.form[name];
  }

  public string(name: string): string | undefined {
    const value = this.value(name);
    if (value === undefined || typeof value === 'string') return value;
    throw invalidRequest(`Invalid string: ${name} must be a string.`, 'parameter_invalid_string', name);
  }

  public required(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') {
      throw invalidRequest(`Missing required param: ${name}.`, 'parameter_missing', name);
    }
    return value;
  }

  public integer(name: string): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!/^-?\d{1,15}$/.test(value)) {
      throw invalidRequest(`Invalid integer: ${value}`, 'parameter_invalid_integer', name);
    }
    return Number(value);
  }

  public boolean(name: string): boolean | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (value !== 'true' && value !== 'false') {
      throw invalidRequest(`Invalid boolean: ${value}`, 'parameter_invalid_boolean', name);
    }
    return value === 'true';
  }

  public oneOf<const T extends string>(name: string, allowed: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    const match = allowed.find((candidate) => candidate === value);
    if (match === undefined) {
      throw invalidRequest(
        `Invalid ${name}: must be one of ${allowed.join(', ')}`,
        'parameter_invalid_string',
        name,
      );
    }
    return match;
  }

  public hash(name: string): FormObject | undefined {
    const value = this.value(name);
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw invalidRequest(`Invalid hash: ${name} must be a hash.`, 'parameter_invalid_hash', name);
    }
    return value;
  }

  public metadata(): Stripe.Metadata {
    const hash = this.hash('metadata') ?? {};
    for (const [key, value] of Object.entries(hash)) {
      if (typeof value !== 'string') {
        throw invalidRequest(`Invalid value for metadata[${key}]: must be a string.`, undefined, 'metadata');
      }
    }
    return hash as Stripe.Metadata;
  }

  public strings(name: string): string[] | undefined {
    const value = this.value(name);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw invalidRequest(
        `Invalid array: ${name} must be an array of strings.`,
        'parameter_invalid_array',
        name,
      );
    }
    return value as string[];
  }

  /** Stripe refuses what it does not know, so a typo in the adapter fails here as it would there. */
  public done(): void {
    const unknown = Object.keys(this.form).find((key) => !this.used.has(key));
    if (unknown !== undefined) {
      throw invalidRequest(`Received unknown parameter: ${unknown}`, 'parameter_unknown', unknown);
    }
  }
}

function createIntent(state: ApiState, params: Params, cause: EventCause): Stripe.PaymentIntent {
  const amount = params.integer('amount');
  if (amount === undefined)
    throw invalidRequest('Missing required param: amount.', 'parameter_missing', 'amount');
  if (amount < 1) throw invalidRequest('Amount must be at least 1.', 'amount_too_small', 'amount');
  const currency = params.required('currency').toLowerCase();
  if (!/^[a-z]{3}$/.test(currency))
    throw invalidRequest(`Invalid currency: ${currency}.`, undefined, 'currency');
  const automatic = params.hash('automatic_payment_methods');
  // `allowed_payment_method_types` is the pinned API version's name; `payment_method_types` the older one.
  const allowed = params.strings('allowed_payment_method_types');
  const legacy = params.strings('payment_method_types');
  const types = allowed ?? legacy;
  if (automatic?.enabled === 'true' && legacy !== undefined) {
    throw invalidRequest(
      'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.',
      undefined,
      'payment_method_types',
    );
  }
  const metadata = params.metadata();
  const description = params.string('description') ?? null;
  const confirm = params.boolean('confirm') ?? false;
  const confirmation = confirmInput(params);
  params.done();
  if (!confirm && (confirmation.walletType !== undefined || confirmation.returnUrl !== undefined)) {
    throw invalidRequest('payment_method_data and return_url need confirm=true here.', undefined, 'confirm');
  }
  const { paymentMethod } = confirmation;
  const input = {
    amount,
    currency,
    metadata,
    description,
    paymentMethodTypes: types,
    allowed: allowed !== undefined,
    paymentMethod,
  };
  const created = state.resources.createIntent(input, cause);
  return confirm ? state.resources.confirm(created.id, confirmation, cause) : created;
}

function confirmInput(params: Params): ConfirmInput {
  const data = params.hash('payment_method_data');
  const walletType = data === undefined ? undefined : WALLET_TYPES.find((type) => type === data.type);
  if (data !== undefined && walletType === undefined) {
    throw invalidRequest(
      `payment_method_data[type] must be one of ${WALLET_TYPES.join(', ')} here.`,
      'parameter_invalid_string',
      'payment_method_data[type]',
    );
  }
  params.hash('mandate_data');
  return {
    paymentMethod: params.string('payment_method'),
    walletType,
    returnUrl: params.string('return_url'),
  };
}

/** Stripe's list envelope over newest-first items, paged by `limit` and `starting_after`. */
function page<T extends { readonly id: string }>(params: Params, items: T[], url: string): Stripe.ApiList<T> {
  const limit = params.integer('limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidRequest('limit must be between 1 and 100.', undefined, 'limit');
  const after = params.string('starting_after');
  let start = 0;
  if (after !== undefined) {
    const index = items.findIndex((item) => item.id === after);
    if (index < 0) throw noSuch('object', after, 'starting_after', 400);
    start = index + 1;
  }
  params.done();
  return {
    object: 'list',
    data: items.slice(start, start + limit),
    has_more: start + limit < items.length,
    url,
  };
}

function createdFilter(params: Params): (created: number) => boolean {
  const created = params.hash('created');
  if (created === undefined) {
    return () => true;
  }
  const bound = (name: string) => {
    const value = created[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !/^\d+$/.test(value)) {
      throw invalidRequest(
        `Invalid integer: ${String(value)}`,
        'parameter_invalid_integer',
        `created[${name}]`,
      );
    }
    return Number(value);
  };
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (at) =>
    (gt === undefined || at > gt) &&
    (gte === undefined || at >= gte) &&
    (lt === undefined || at < lt) &&
    (lte === undefined || at <= lte);
}

function listEvents(state: ApiState, params: Params): Stripe.ApiList<StoredEvent['event']> {
  const delivered = params.boolean('delivery_success');
  const inWindow = createdFilter(params);
  const type = params.string('type');
  const types = params.strings('types');
  const wanted = types ?? (type === undefined ? undefined : [type]);
  // As Stripe's `delivery_success`: no endpoint still waiting for it (one its type is not sent to waits for none).
  const matches = (stored: StoredEvent) =>
    (delivered === undefined || (stored.event.pending_webhooks === 0) === delivered) &&
    inWindow(stored.event.created) &&
    (wanted === undefined || wanted.includes(stored.event.type));
  const events = state.log
    .events()
    .filter(matches)
    .reverse()
    .map((stored) => stored.event);
  return page(params, events, '/v1/events');
}

type Route = {
  method: 'GET' | 'POST';
  pattern: RegExp;
  run: (state: ApiState, id: string, params: Params, cause: EventCause) => unknown;
};

const ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/payment_intents$/,
    run: (state, _id, params, cause) => createIntent(state, params, cause),
  },
  {
    method: 'GET',
    pattern: /^\/v1\/payment_intents\/([^/]+)$/,
    run: (state, id, params) => {
      params.string('client_secret');
      params.done();
      return state.resources.intent(id);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/payment_intents\/([^/]+)\/confirm$/,
    run: (state, id, params, cause) => {
      const input = confirmInput(params);
      params.done();
      return state.resources.confirm(id, input, cause);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/payment_intents\/([^/]+)\/cancel$/,
    run: (state, id, params, cause) => {
      const reason = params.oneOf('cancellation_reason', CANCELLATION_REASONS);
      params.done();
      return state.resources.cancel(id, reason, cause);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/refunds$/,
    run: (state, _id, params, cause) => {
      if (state.failingRefunds > 0) {
        state.failingRefunds -= 1;
        throw apiError(503, 'The refund could not be created: the service is temporarily unavailable.');
      }
      const paymentIntent = params.required('payment_intent');
      const amount = params.integer('amount');
      if (amount !== undefined && amount < 1) {
        throw invalidRequest('Refund amount must be positive.', 'parameter_invalid_integer', 'amount');
      }
      const reason = params.oneOf('reason', REFUND_REASONS);
      const metadata = params.metadata();
      params.done();
      return state.resources.createRefund({ paymentIntent, amount, reason, metadata }, cause);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/refunds$/,
    run: (state, _id, params) => {
      const intent = params.string('payment_intent');
      const refunds = state.resources.refunds.filter(
        (refund) => intent === undefined || refund.payment_intent === intent,
      );
      return page(params, refunds.slice().reverse(), '/v1/refunds');
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/refunds\/([^/]+)$/,
    run: (state, id, params) => {
      params.done();
      return state.resources.refund(id);
    },
  },
  { method: 'GET', pattern: /^\/v1\/events$/, run: (state, _id, params) => listEvents(state, params) },
  {
    method: 'GET',
    pattern: /^\/v1\/events\/([^/]+)$/,
    run: (state, id, params) => {
      params.done();
      const stored = state.log.find(id);
      if (stored === undefined) throw noSuch('event', id, 'id', 404);
      return stored.event;
    },
  },
];

/** Parameters in a canonical order, so a replay matches whatever order its fields were sent in. */
function canonical(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(canonical);
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical(value[key] as FormValue)]),
  );
}

async function paramsOf(request: IncomingMessage, url: URL): Promise<FormObject> {
  const tooLarge = () => invalidRequest(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
  const text =
    request.method === 'POST' ? await readBody(request, MAX_BODY_BYTES, tooLarge) : url.search.slice(1);
  try {
    return decodeForm(text);
  } catch (error) {
    if (error instanceof FormShapeError) throw invalidRequest(error.message, undefined, error.param);
    throw error;
  }
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Record<string, string>;
}

function failure(error: StripeRequestError): { status: number; body: { error: StripeErrorBody } } {
  return { status: error.status, body: { error: error.body } };
}

/** Runs one call: auth, outage, route, parameters, and the idempotency key around the part that acts. */
async function answer(state: ApiState, request: IncomingMessage, requestId: string): Promise<Answer> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  try {
    authenticate(state, request);
    if (state.outage.calls > 0) {
      // An outage answers before the request is looked at, and leaves nothing behind to replay.
      state.outage.calls -= 1;
      request.resume();
      if (state.outage.status === 429) {
        throw new StripeRequestError(429, {
          type: 'invalid_request_error',
          code: 'rate_limit',
          message: 'Too many requests hit the API too quickly.',
        });
      }
      throw apiError(503, 'The Stripe API is temporarily unavailable (a local outage). Retry later.');
    }
    const route = ROUTES.find(
      (candidate) => candidate.method === request.method && candidate.pattern.test(url.pathname),
    );
    if (route === undefined) {
      request.resume();
      throw new StripeRequestError(404, {
        type: 'invalid_request_error',
        message: `Unrecognized request URL (${request.method ?? ''}: ${url.pathname}).`,
      });
    }
    const id = decodeURIComponent(route.pattern.exec(url.pathname)?.[1] ?? '');
    const form = await paramsOf(request, url);
    const key = request.method === 'POST' ? request.headers['idempotency-key'] : undefined;
    const idempotencyKey = typeof key === 'string' && key !== '' ? key : undefined;
    const cause = { requestId, idempotencyKey: idempotencyKey ?? null };
    const act = (): { status: number; body: unknown; kept: boolean } => {
      try {
        return { status: 200, body: route.run(state, id, new Params(form), cause), kept: true };
      } catch (error) {
        if (!(error instanceof StripeRequestError)) throw error;
        return { ...failure(error), kept: error.kept };
      }
    };
    if (idempotencyKey === undefined) return { ...act(), headers };
    headers['idempotency-key'] = idempotencyKey;
    const fingerprint = JSON.stringify([request.method, url.pathname, canonical(form)]);
    const previous = state.idempotency.get(idempotencyKey);
    if (previous !== undefined) {
      if (previous.fingerprint !== fingerprint) {
        throw new StripeRequestError(400, {
          type: 'idempotency_error',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
        });
      }
      headers['idempotent-replayed'] = 'true';
      headers['original-request'] = previous.requestId;
      return { status: previous.status, body: previous.body, headers };
    }
    const result = act();
    if (result.kept) {
      // Stored as JSON text's value, so a replay shows the object as it was then, not as it is now.
      const body: unknown = JSON.parse(JSON.stringify(result.body));
      state.idempotency.set(idempotencyKey, { fingerprint, status: result.status, body, requestId });
    }
    return { status: result.status, body: result.body, headers };
  } catch (error) {
    if (!(error instanceof StripeRequestError)) throw error;
    return { ...failure(error), headers };
  }
}

export async function handleApi(
  state: ApiState,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const requestId = `req_${randomBytes(8).toString('hex')}`;
  const result = await answer(state, request, requestId);
  writeJson(response, result.status, result.body, {
    ...result.headers,
    'request-id': requestId,
    'stripe-version': state.apiVersion,
  });
}
