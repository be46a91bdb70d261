import Stripe from 'stripe';
import * as z from 'zod/mini';
import {
  IntentStatus,
  type PaymentIntent,
  type PaymentProvider,
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  type ProviderEvent,
  ProviderEventSubject,
  type RefundRequest,
  RefundStatus,
  type UndeliveredEvents,
} from '../domain/ports';
import { describeIssues, type FieldIssue, parseWith } from '../domain/validation';

/**
 * The Stripe event types the domain acts on, and what each is about. A refund is reported both as the charge
 * refunded and as the refund's own events: either names the intent, which is all the domain needs.
 */
const SUBJECT_OF_EVENT_TYPE = {
  'payment_intent.succeeded': ProviderEventSubject.PAYMENT_INTENT,
  'payment_intent.payment_failed': ProviderEventSubject.PAYMENT_INTENT,
  'payment_intent.canceled': ProviderEventSubject.PAYMENT_INTENT,
  'payment_intent.processing': ProviderEventSubject.PAYMENT_INTENT,
  'payment_intent.requires_action': ProviderEventSubject.PAYMENT_INTENT,
  'charge.refunded': ProviderEventSubject.REFUND,
  'refund.created': ProviderEventSubject.REFUND,
  'refund.updated': ProviderEventSubject.REFUND,
  'refund.failed': ProviderEventSubject.REFUND,
} as const satisfies Partial<Record<Stripe.Event.Type, ProviderEventSubject>>;

type HandledEventType = keyof typeof SUBJECT_OF_EVENT_TYPE;

/** What the webhook endpoint must be registered for, and what reconciliation lists. */
export const HANDLED_EVENT_TYPES = Object.keys(SUBJECT_OF_EVENT_TYPE) as HandledEventType[];

function isHandled(type: string): type is HandledEventType {
  return Object.hasOwn(SUBJECT_OF_EVENT_TYPE, type);
}

/** Stripe's largest page. */
const PAGE_SIZE = 100;

/*
 * Tolerant readers of what the SDK hands back (it passes the JSON through unchecked): extra fields are ignored,
 * a missing or mistyped field we read is a PaymentProviderInvalidResponseError.
 */
const metadata = z.nullish(z.record(z.string(), z.string()));
/** An expandable reference: the id, or the object when expanded. */
const reference = z.union([
  z.string().check(z.minLength(1)),
  z.pipe(
    z.object({ id: z.string().check(z.minLength(1)) }),
    z.transform(({ id }: { id: string }) => id),
  ),
]);

const intentAnswer = z.object({
  id: z.string().check(z.minLength(1)),
  amount: z.number().check(z.int(), z.nonnegative()),
  currency: z.string().check(z.length(3)),
  status: z.enum(IntentStatus),
  client_secret: z.string().check(z.minLength(1)),
  metadata,
  last_payment_error: z.nullish(z.object({ message: z.optional(z.string()) })),
});

const refundAnswer = z.object({
  id: z.string().check(z.minLength(1)),
  payment_intent: reference,
  status: z.enum(RefundStatus),
  amount: z.number().check(z.int(), z.nonnegative()),
  currency: z.string().check(z.length(3)),
});

const eventEnvelope = z.object({
  id: z.string().check(z.minLength(1)),
  type: z.string().check(z.minLength(1)),
  created: z.number().check(z.int(), z.nonnegative()),
  data: z.object({ object: z.unknown() }),
});
const intentEventObject = z.object({ id: z.string().check(z.minLength(1)), metadata });
/** A charge or a refund: both name the intent they belong to, if any. */
const refundEventObject = z.object({ payment_intent: z.nullish(reference), metadata });

/** What a shape the adapter cannot read becomes: a ValidationError for a webhook's body, for instance. */
export type ShapeFailure = (issues: readonly FieldIssue[], cause: z.core.$ZodError) => Error;

/** By default, the provider answered something the API does not promise. */
function invalidAnswer(what: string): ShapeFailure {
  return (issues, cause) =>
    new PaymentProviderInvalidResponseError(
      `payment provider ${what} answered an unexpected body: ${describeIssues(issues)}`,
      { cause },
    );
}

function parseAnswer<Schema extends z.core.$ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
): z.output<Schema> {
  return parseWith(schema, value, invalidAnswer(what));
}

/** A Stripe PaymentIntent in the port's terms. */
export function paymentIntentOf(intent: Stripe.PaymentIntent, what = 'payment intent'): PaymentIntent {
  const answer = parseAnswer(intentAnswer, intent, what);
  return {
    paymentId: answer.id,
    orderId: answer.metadata?.orderId,
    amount: answer.amount,
    currency: answer.currency.toUpperCase(),
    status: answer.status,
    clientSecret: answer.client_secret,
    lastPaymentError: answer.last_payment_error?.message,
  };
}

/** A Stripe Refund in the port's terms. */
export function refundRequestOf(refund: Stripe.Refund, what = 'refund'): RefundRequest {
  return refundOfAnswer(parseAnswer(refundAnswer, refund, what));
}

function refundOfAnswer(answer: z.output<typeof refundAnswer>): RefundRequest {
  return { refundId: answer.id, paymentId: answer.payment_intent, status: answer.status };
}

/**
 * A Stripe event, from a webhook or from the events list, in the port's terms; `undefined` for a type we do not
 * handle, and for a refund of something that is not a payment intent (a direct charge: not ours). An event
 * lacking what we read is `failure`'s error (by default, the provider's invalid answer).
 */
export function providerEventOf(
  event: Stripe.Event,
  failure: ShapeFailure = invalidAnswer('event'),
): ProviderEvent | undefined {
  const envelope = parseWith(eventEnvelope, event, failure);
  if (!isHandled(envelope.type)) return undefined;
  const subject = SUBJECT_OF_EVENT_TYPE[envelope.type];
  const about =
    subject === ProviderEventSubject.PAYMENT_INTENT
      ? parseWith(intentEventObject, envelope.data.object, failure)
      : parseWith(refundEventObject, envelope.data.object, failure);
  const paymentId = 'id' in about ? about.id : about.payment_intent;
  if (paymentId === undefined || paymentId === null) return undefined;
  return {
    id: envelope.id,
    type: envelope.type,
    subject,
    paymentId,
    orderId: about.metadata?.orderId,
    created: new Date(envelope.created * 1000),
  };
}

/**
 * The port's errors for what the SDK throws. Connection failures, timeouts, 409 (a request with the same
 * idempotency key still in flight), 429 and 5xx may succeed when repeated; any other 4xx will not.
 */
export function providerErrorOf(error: unknown, what: string): unknown {
  if (!(error instanceof Stripe.errors.StripeError)) return error;
  const status = error.statusCode;
  const code = error.code ?? error.rawType ?? error.type;
  const message = `payment provider ${what}${status === undefined ? '' : ` answered ${status}`} (${code}): ${error.message}`;
  const transient =
    error instanceof Stripe.errors.StripeConnectionError ||
    error instanceof Stripe.errors.StripeAPIError ||
    error instanceof Stripe.errors.StripeRateLimitError ||
    status === undefined ||
    status === 429 ||
    status >= 500;
  if (transient) return new PaymentProviderUnavailableError(message, status, { cause: error });
  return new PaymentProviderRejectedError(status, code, message);
}

export interface StripePaymentProviderOptions {
  /** Built once in the composition root: key, API version, host, retries and timeout are its configuration. */
  readonly stripe: Stripe;
  /**
   * The payment method types an intent allows, e.g. `['card', 'alipay', 'wechat_pay']`; empty lets Stripe
   * choose from the methods enabled in the Dashboard (automatic payment methods).
   */
  readonly paymentMethodTypes: readonly string[];
}

/**
 * {@link PaymentProvider} on Stripe through its official SDK. Writes carry our idempotency key, which the SDK also
 * reuses for its own retries, so no repeat creates a second intent or refund.
 */
export class StripePaymentProvider implements PaymentProvider {
  private readonly stripe: Stripe;
  private readonly paymentMethods: Pick<
    Stripe.PaymentIntentCreateParams,
    'automatic_payment_methods' | 'allowed_payment_method_types'
  >;

  public constructor(options: StripePaymentProviderOptions) {
    this.stripe = options.stripe;
    // `allowed_payment_method_types`: this API version no longer accepts `payment_method_types` on create.
    this.paymentMethods =
      options.paymentMethodTypes.length === 0
        ? { automatic_payment_methods: { enabled: true } }
        : { allowed_payment_method_types: [...options.paymentMethodTypes] };
  }

  public async createIntent(
    intent: { readonly orderId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<PaymentIntent> {
    const what = 'create payment intent';
    const created = await this.call(what, () =>
      this.stripe.paymentIntents.create(
        {
          amount: intent.amount,
          currency: intent.currency.toLowerCase(),
          metadata: { orderId: intent.orderId },
          ...this.paymentMethods,
        },
        { idempotencyKey },
      ),
    );
    return paymentIntentOf(created, what);
  }

  public async retrieveIntent(paymentId: string): Promise<PaymentIntent> {
    const what = `retrieve payment intent ${paymentId}`;
    return paymentIntentOf(await this.call(what, () => this.stripe.paymentIntents.retrieve(paymentId)), what);
  }

  public async cancelIntent(paymentId: string, idempotencyKey: string): Promise<PaymentIntent> {
    const what = `cancel payment intent ${paymentId}`;
    const cancelled = await this.call(what, () =>
      this.stripe.paymentIntents.cancel(paymentId, { cancellation_reason: 'abandoned' }, { idempotencyKey }),
    );
    return paymentIntentOf(cancelled, what);
  }

  public async refund(
    payment: { readonly paymentId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<RefundRequest> {
    const what = `refund payment intent ${payment.paymentId}`;
    // Stripe takes the amount in the charge's currency and has no currency parameter: the answer tells which
    // currency it refunded in, and one other than the payment's means the amount meant something else.
    const refund = await this.call(what, () =>
      this.stripe.refunds.create(
        { payment_intent: payment.paymentId, amount: payment.amount },
        { idempotencyKey },
      ),
    );
    const answer = parseAnswer(refundAnswer, refund, what);
    if (answer.currency.toUpperCase() !== payment.currency || answer.amount !== payment.amount) {
      throw new PaymentProviderInvalidResponseError(
        `payment provider ${what} refunded ${answer.amount} ${answer.currency.toUpperCase()}, not ${payment.amount} ${payment.currency}`,
      );
    }
    return refundOfAnswer(answer);
  }

  public async refundsOf(paymentId: string): Promise<RefundRequest[]> {
    const what = `list refunds of payment intent ${paymentId}`;
    // One page: an intent has a refund or two, not a hundred.
    const page = await this.call(what, () =>
      this.stripe.refunds.list({ payment_intent: paymentId, limit: PAGE_SIZE }),
    );
    return page.data.map((refund) => refundRequestOf(refund, what));
  }

  /**
   * Stripe lists events newest first. To hand back the oldest `limit` (so that a pass that stops there goes on
   * from them next time without skipping any), every page of the window is read; the window is the reconciler's
   * checkpoint onwards, so it is short unless webhooks have been failing for long.
   */
  public async undeliveredEvents(since: Date, limit: number): Promise<UndeliveredEvents> {
    const what = 'list undelivered events';
    const newestFirst: ProviderEvent[] = [];
    let startingAfter: string | undefined;
    for (;;) {
      const cursor = startingAfter;
      const page = await this.call(what, () =>
        this.stripe.events.list({
          delivery_success: false,
          created: { gte: Math.floor(since.getTime() / 1000) },
          types: HANDLED_EVENT_TYPES,
          limit: PAGE_SIZE,
          ...(cursor === undefined ? {} : { starting_after: cursor }),
        }),
      );
      for (const event of page.data) {
        const mapped = providerEventOf(event, invalidAnswer(what));
        if (mapped !== undefined) newestFirst.push(mapped);
      }
      startingAfter = page.data.at(-1)?.id;
      if (!page.has_more || startingAfter === undefined) break;
    }
    const oldestFirst = newestFirst.reverse();
    return { events: oldestFirst.slice(0, limit), hasMore: oldestFirst.length > limit };
  }

  private async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw providerErrorOf(error, what);
    }
  }
}
