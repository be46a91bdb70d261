import { AppError, ErrorCode } from './errors';
import type { Order, OrderTransition } from './order';
import type { OrderStatus } from './order-status';
import type { Payment } from './payment';

/** Time is injected so tests and the simulator control it; production passes the system clock. */
export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  newOrderId(): string;
}

/** A request's idempotency key, the fingerprint of the request it first came with, and how long it is kept. */
export interface IdempotencyClaim {
  readonly key: string;
  readonly requestFingerprint: string;
  readonly expiresAt: Date;
}

export type CreateOrderOutcome =
  | { readonly kind: 'created' }
  /** The idempotency key was used before: by this order id, for the request with this fingerprint. */
  | { readonly kind: 'keyAlreadyUsed'; readonly orderId: string; readonly requestFingerprint: string };

export interface OrderWithHistory {
  readonly order: Order;
  readonly history: readonly OrderTransition[];
  readonly payments: readonly Payment[];
  /** Until when the payment lease of a request preparing the order's payment runs, while one holds it. */
  readonly paymentLeaseUntil?: Date;
}

/** A condition on the order's payment lease that a write must meet, checked in the same transaction. */
export interface TransitionGuard {
  /** The write fails with `PaymentInProgressError` if a payment lease on the order is live at this instant. */
  readonly noLiveLeaseAt?: Date;
}

/**
 * A move decided by the order's stored status itself, in one conditional write and no read: the order moves to
 * `to` only if its status is one of `from`. Only for moves that need no other condition: never out of
 * PENDING_PAYMENT, which must also check the payment lease (see {@link TransitionGuard}).
 */
export interface StatusMove {
  readonly from: readonly OrderStatus[];
  readonly to: OrderStatus;
  readonly at: Date;
  readonly reason: string;
}

/** The order after the move, or as it stood when the move was refused (`moved: false`). */
export interface StatusMoveResult {
  readonly moved: boolean;
  readonly order: Order;
}

/** Moves without a read; throws `OrderNotFoundError` for an order that does not exist. */
export interface OrderAdvances {
  advance(orderId: string, move: StatusMove): Promise<StatusMoveResult>;
}

/**
 * Where orders live. Every write is conditional: {@link OrderRepository.create} only if the order (and the
 * idempotency key) do not exist yet; {@link OrderRepository.saveTransition} only if the stored order still has
 * the status and version the transition was decided on, else it throws `ConcurrentModificationError`.
 */
export interface OrderRepository {
  create(order: Order, created: OrderTransition, idempotency?: IdempotencyClaim): Promise<CreateOrderOutcome>;
  get(orderId: string): Promise<OrderWithHistory | undefined>;
  saveTransition(
    previous: Order,
    next: Order,
    transition: OrderTransition,
    guard?: TransitionGuard,
  ): Promise<void>;
  /**
   * Orders still PENDING_PAYMENT whose deadline is before `now`, read from the sparse index (never a scan),
   * at most `limit` of them. The index is eventually consistent: callers re-check each order.
   */
  findOverduePendingOrders(now: Date, limit: number): Promise<string[]>;
}

/** A lease on an order's payment preparation: who holds it, until when, and its fencing token. */
export interface PaymentLease {
  readonly orderId: string;
  readonly owner: string;
  /** Grows by one with every acquisition; a write made under a lease checks that its token is still current. */
  readonly fencingToken: number;
  readonly expiresAt: Date;
}

/**
 * The payment lease lock. `acquire` succeeds only if no live lease exists (never held, released, or expired),
 * else throws `PaymentInProgressError`; `release` succeeds only for the current owner and token, else throws
 * `LeaseNotHeldError`. Leases are taken on existing orders only (`OrderNotFoundError`).
 */
export interface LeaseStore {
  acquire(orderId: string, owner: string, now: Date, durationSeconds: number): Promise<PaymentLease>;
  /**
   * `acquire` for preparing a payment: the lease is taken only on the customer's own order (else
   * `OrderNotFoundError`) while it awaits payment and its deadline has not passed (else `OrderNotPayableError`),
   * and no lease is taken when refused. Answers the order as the same write left it, so no read comes before.
   */
  acquireToPay(
    request: PayLeaseRequest,
  ): Promise<{ readonly lease: PaymentLease; readonly order: OrderWithHistory }>;
  release(lease: PaymentLease): Promise<void>;
}

/** Who asks for the payment lease of which order, when, and for how long. */
export interface PayLeaseRequest {
  readonly orderId: string;
  readonly customerId: string;
  readonly owner: string;
  readonly now: Date;
  readonly durationSeconds: number;
}

/**
 * A verified provider event's id, remembered with when it may be forgotten. Only an event that changes no order
 * (an unmatched one, decision 47) is claimed: every other fact is applied by a conditional write from the state
 * it was read in, so applying it again finds it applied.
 */
export interface ProviderEventClaim {
  readonly eventId: string;
  readonly expiresAt: Date;
}

export type PaymentWriteOutcome =
  | { readonly kind: 'written' }
  /** The payment's record changed since it was read (another callback won); decide again. */
  | { readonly kind: 'paymentChanged' }
  /** The order changed since it was read (a timeout or another payment won); decide again. */
  | { readonly kind: 'orderChanged' };

/** `duplicateEvent` when the event was recorded before. */
export type UnmatchedEventOutcome = { readonly kind: 'written' } | { readonly kind: 'duplicateEvent' };

/** A payment by its keys. */
export interface PaymentReference {
  readonly orderId: string;
  readonly paymentId: string;
}

/** Refunds owed since before some instant: how many, and some of them (oldest first). */
export interface PendingRefunds {
  readonly count: number;
  readonly sample: readonly PaymentReference[];
}

/**
 * Payment records, each held by the order it was recorded for. Every write is conditional and all or nothing: the
 * payment record only moves from the status it was read in (or is created if absent), with the order's move when
 * there is one.
 */
export interface PaymentRepository {
  get(orderId: string, paymentId: string): Promise<Payment | undefined>;
  /** Records a new intent and releases `lease`, only while `lease` is still the order's current lease. */
  recordIntent(payment: Payment, lease: PaymentLease): Promise<void>;
  /** The order becomes PAID and the payment SUCCEEDED, together or not at all. */
  recordPaid(
    payment: Payment,
    previous: Payment,
    order: { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition },
  ): Promise<PaymentWriteOutcome>;
  /** Any other change of a payment record (REFUND_PENDING, FAILED, CANCELLED, REFUNDED). */
  recordPayment(payment: Payment, previous: Payment | undefined): Promise<PaymentWriteOutcome>;
  /**
   * A change of a payment that no provider event caused and that belongs to an order transition (a failed
   * fulfilment: the order becomes FULFILLMENT_FAILED and its payment REFUND_PENDING), together or not at all.
   * The payment moves only from `previous` exactly as read, the order only from its read status and version.
   */
  recordPaymentWithTransition(
    payment: Payment,
    previous: Payment,
    order: { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition },
  ): Promise<PaymentWriteOutcome>;
  /**
   * Payments that became REFUND_PENDING before `before` and are still so, read from the sparse refund-pending
   * index (never a scan): all of them counted, at most `sampleSize` of them returned.
   */
  findRefundsPendingSince(before: Date, sampleSize: number): Promise<PendingRefunds>;
  /**
   * Remembers a verified provider event that names a payment no order of ours holds (or names another order
   * than the one holding it), claiming its id like any other event: `duplicateEvent` if it was recorded before.
   */
  recordUnmatchedEvent(event: ProviderEvent, claim: ProviderEventClaim): Promise<UnmatchedEventOutcome>;
  /** Where the reconciliation's last complete pass left off; `undefined` before the first. */
  reconciliationCheckpoint(): Promise<Date | undefined>;
  /**
   * Moves the checkpoint from `previous` (as read) to `next`; `false` if another pass moved it meanwhile, which
   * leaves that pass's checkpoint in place.
   */
  saveReconciliationCheckpoint(next: Date, previous: Date | undefined): Promise<boolean>;
}

/** The per-order payment timeout timer (an EventBridge Scheduler one-time schedule in AWS). */
export interface PaymentTimers {
  schedule(orderId: string, deadline: Date): Promise<void>;
  /** Best effort: a timer that fires anyway finds the order no longer awaiting payment and does nothing. */
  cancel(orderId: string): Promise<void>;
}

/**
 * A payment intent's state at the provider, in the provider's own terms (Stripe's PaymentIntent statuses). The
 * domain decides from these, never from a webhook's body alone.
 */
export const IntentStatus = {
  REQUIRES_PAYMENT_METHOD: 'requires_payment_method',
  REQUIRES_CONFIRMATION: 'requires_confirmation',
  /** The customer must act (3-D Secure, a wallet's QR code or redirect). */
  REQUIRES_ACTION: 'requires_action',
  /** Asynchronous methods: the money is on its way and the outcome is not known yet. */
  PROCESSING: 'processing',
  REQUIRES_CAPTURE: 'requires_capture',
  CANCELED: 'canceled',
  SUCCEEDED: 'succeeded',
} as const;

export type IntentStatus = (typeof IntentStatus)[keyof typeof IntentStatus];

/** A payment intent as the provider reports it. */
export interface PaymentIntent {
  readonly paymentId: string;
  /** The order id we stored on the intent when creating it; `undefined` if the intent carries none. */
  readonly orderId: string | undefined;
  readonly amount: number;
  /** ISO 4217, upper case (the provider's lower-case codes are converted by the adapter). */
  readonly currency: string;
  readonly status: IntentStatus;
  /** What the customer's browser confirms the payment with; never logged or stored by us. */
  readonly clientSecret: string;
  /** The provider's message for the last failed attempt, if the last attempt failed. */
  readonly lastPaymentError: string | undefined;
}

export const RefundStatus = {
  PENDING: 'pending',
  REQUIRES_ACTION: 'requires_action',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  CANCELED: 'canceled',
} as const;

export type RefundStatus = (typeof RefundStatus)[keyof typeof RefundStatus];

export interface RefundRequest {
  readonly refundId: string;
  readonly paymentId: string;
  readonly status: RefundStatus;
}

/**
 * What a provider event is about, once verified: the adapter keeps the event's id, creation time and subject and
 * drops the body, because the domain reads the subject's current state from the provider before acting on it.
 */
export const ProviderEventSubject = {
  /** A payment intent changed (succeeded, failed, processing, requires action, canceled). */
  PAYMENT_INTENT: 'paymentIntent',
  /** A refund of a payment intent changed (created, updated, the charge refunded). */
  REFUND: 'refund',
} as const;

export type ProviderEventSubject = (typeof ProviderEventSubject)[keyof typeof ProviderEventSubject];

export interface ProviderEvent {
  readonly id: string;
  /** The provider's own event type, e.g. `payment_intent.succeeded`: logged and recorded, never decided on. */
  readonly type: string;
  readonly subject: ProviderEventSubject;
  /** The payment intent the event is about (for a refund event, the intent refunded). */
  readonly paymentId: string;
  /** The order id in the intent's metadata as the event carries it; `undefined` if it carries none. */
  readonly orderId: string | undefined;
  readonly created: Date;
}

/** A page of events the provider could not deliver, oldest first. */
export interface UndeliveredEvents {
  readonly events: readonly ProviderEvent[];
  /** Events left beyond `limit`: the next pass goes on from the last one listed. */
  readonly hasMore: boolean;
}

/**
 * The payment provider, as the domain needs it. Creating intents, cancelling them and creating refunds are
 * idempotent on the provider's side through the key we pass, so a retry after a timeout never creates a second
 * intent or a second refund; reads are safe to repeat.
 */
export interface PaymentProvider {
  createIntent(
    intent: { readonly orderId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<PaymentIntent>;
  retrieveIntent(paymentId: string): Promise<PaymentIntent>;
  /**
   * Cancels an intent so it can no longer be paid. An intent that cannot be cancelled any more (it succeeded,
   * or is processing) makes this throw `PaymentProviderRejectedError`: read it again to learn why.
   */
  cancelIntent(paymentId: string, idempotencyKey: string): Promise<PaymentIntent>;
  refund(
    payment: { readonly paymentId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<RefundRequest>;
  /** The refunds of an intent, newest first. */
  refundsOf(paymentId: string): Promise<RefundRequest[]>;
  /** Events created at or after `since` that some webhook endpoint has not acknowledged, at most `limit`. */
  undeliveredEvents(since: Date, limit: number): Promise<UndeliveredEvents>;
}

/*
 * The payment provider's failures, declared with its port so that every adapter of it throws the same ones.
 * `retryable` says whether repeating the call with the same idempotency key may succeed; the key makes such a
 * repeat safe (it never creates a second intent or refund).
 */

/** No usable answer: network error, timeout, 5xx or 429. The provider may or may not have acted; retry. */
export class PaymentProviderUnavailableError extends AppError {
  public override readonly name = 'PaymentProviderUnavailableError';
  public readonly code = ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE;
  public readonly retryable = true;
  /** The HTTP status, when the provider answered at all. */
  public readonly status: number | undefined;

  public constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/** The provider refused the request (a 4xx other than 429); repeating it unchanged gets the same refusal. */
export class PaymentProviderRejectedError extends AppError {
  public override readonly name = 'PaymentProviderRejectedError';
  public readonly code = ErrorCode.PAYMENT_PROVIDER_REJECTED;
  public readonly retryable = false;
  public readonly status: number;
  /** The provider's own error code, e.g. `idempotency_key_reused`; `unknown` if its body had none. */
  public readonly providerCode: string;

  public constructor(status: number, providerCode: string, message: string) {
    super(message);
    this.status = status;
    this.providerCode = providerCode;
  }
}

/**
 * The provider said yes (2xx) but its body is not what the API promises. Not retryable: a repeat with the same
 * idempotency key replays the same body.
 */
export class PaymentProviderInvalidResponseError extends AppError {
  public override readonly name = 'PaymentProviderInvalidResponseError';
  public readonly code = ErrorCode.PAYMENT_PROVIDER_INVALID_RESPONSE;
  public readonly retryable = false;
}
