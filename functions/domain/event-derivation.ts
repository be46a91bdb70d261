import { AppError, ErrorCode, SchemaViolationError } from './errors';
import { eventIdOf, type OrderEvent, OrderEventType, orderEventSchema } from './events';
import type { Order } from './order';
import { type Payment, PaymentStatus } from './payment';
import { type FieldIssue, parseWith } from './validation';

/**
 * Events from committed state: the outbox relay turns each committed change of an order or a payment (decoded
 * from the table's stream by the table adapter) into the domain events of the catalogue (`events.ts`). Pure and
 * deterministic, so a replayed change yields the very same events, ids included, and downstream deduplication
 * recognises them.
 */

/** A committed write of an order or a payment: the value before (absent when the write created it) and after. */
export type CommittedChange =
  | { readonly entity: 'order'; readonly before?: Order; readonly after: Order }
  | { readonly entity: 'payment'; readonly before?: Payment; readonly after: Payment };

/** The derivation produced an event that the catalogue's schema rejects: a bug in this module. */
export class InvalidDerivedEventError extends SchemaViolationError {
  public override readonly name = 'InvalidDerivedEventError';
  public readonly code = ErrorCode.INVALID_DERIVED_EVENT;

  public constructor(
    public readonly eventId: string,
    issues: readonly FieldIssue[],
  ) {
    super(`derived event ${eventId} does not match the catalogue`, issues);
  }
}

/**
 * The event each payment status announces. PENDING (an intent) announces nothing, the customer has not paid; nor
 * does CANCELLED (that intent closed unpaid, and the order's own cancellation is announced).
 */
const PAYMENT_EVENT_TYPE: Readonly<Record<PaymentStatus, OrderEventType | undefined>> = {
  [PaymentStatus.PENDING]: undefined,
  [PaymentStatus.SUCCEEDED]: OrderEventType.PAYMENT_SUCCEEDED,
  [PaymentStatus.FAILED]: OrderEventType.PAYMENT_FAILED,
  [PaymentStatus.REFUND_PENDING]: OrderEventType.REFUND_REQUESTED,
  [PaymentStatus.REFUNDED]: OrderEventType.PAYMENT_REFUNDED,
  [PaymentStatus.CANCELLED]: undefined,
};

/**
 * The domain events one committed change announces, in the order they happened (today at most one per change).
 *
 * - An order created → `OrderPlaced`, at its version (1).
 * - An order whose status changed → `OrderStatusChanged` with the new version, at the order's `updatedAt`. A
 *   write that leaves the status alone announces nothing.
 * - A payment that reached a new status, created or changed → `PaymentSucceeded`, `PaymentFailed`,
 *   `RefundRequested` (REFUND_PENDING) or `PaymentRefunded`; a PENDING payment is only an intent.
 *
 * Ids come from {@link eventIdOf}, so deriving the same change twice yields identical events.
 *
 * @throws InvalidDerivedEventError when a derived event fails the catalogue's schema (a derivation bug)
 */
export function deriveEvents(change: CommittedChange): OrderEvent[] {
  return change.entity === 'order'
    ? orderEvents(change.before, change.after)
    : paymentEvents(change.before, change.after);
}

function orderEvents(before: Order | undefined, order: Order): OrderEvent[] {
  if (before === undefined) {
    return [
      orderEvent(order, OrderEventType.ORDER_PLACED, order.createdAt, {
        customerId: order.customerId,
        totalAmount: order.totalAmount,
        currency: order.currency,
        paymentDeadline: order.paymentDeadline,
      }),
    ];
  }
  if (before.status === order.status) {
    return [];
  }
  return [
    orderEvent(order, OrderEventType.ORDER_STATUS_CHANGED, order.updatedAt, {
      from: before.status,
      to: order.status,
    }),
  ];
}

/** An order's event is named by the version it announces, so each version is announced once. */
function orderEvent(order: Order, type: OrderEventType, occurredAt: string, data: object): OrderEvent {
  return validated({
    type,
    eventId: eventIdOf({ kind: 'order', orderId: order.orderId, version: order.version }),
    orderId: order.orderId,
    occurredAt,
    version: order.version,
    data,
  });
}

function paymentEvents(before: Payment | undefined, payment: Payment): OrderEvent[] {
  // Unlike an order's, a payment's event id names the status reached, so even without the value before it a
  // repeated announcement would only be deduplicated, never mistaken for a new event.
  if (before?.status === payment.status) {
    return [];
  }
  const type = PAYMENT_EVENT_TYPE[payment.status];
  if (type === undefined) {
    return [];
  }
  return [
    validated({
      type,
      eventId: eventIdOf({ kind: 'payment', paymentId: payment.paymentId, status: payment.status }),
      orderId: payment.orderId,
      occurredAt: payment.updatedAt,
      data: {
        paymentId: payment.paymentId,
        status: payment.status,
        amount: payment.amount,
        currency: payment.currency,
        // Absent rather than undefined, so the event's JSON and its deep equality do not depend on the key.
        ...(payment.refundReason === undefined ? {} : { refundReason: payment.refundReason }),
      },
    }),
  ];
}

/** Every event leaves through the catalogue's schema: a derivation bug fails here, not at a consumer. */
function validated(candidate: { readonly eventId: string } & Record<string, unknown>): OrderEvent {
  return parseWith(
    orderEventSchema,
    candidate,
    (issues) => new InvalidDerivedEventError(candidate.eventId, issues),
  );
}

/** Why the publisher could not deliver an event; `code` is stable, `channel` says where it failed. */
export class EventPublishError extends AppError {
  public override readonly name = 'EventPublishError';
  public readonly code = ErrorCode.EVENT_PUBLISH_FAILED;
  public readonly retryable = true;

  public constructor(
    public readonly channel: string,
    public readonly eventId: string,
    /** The service's own error code for the entry (`InternalError`, `ThrottlingException`, ...). */
    public readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${channel} did not accept event ${eventId} (${reason}): ${message}`, options);
  }
}

/**
 * What a publish achieved. Events are sent in the order given, and a publisher stops at the first call that
 * fails, so success is always a prefix: the first `delivered` events are known to be delivered, the rest
 * must be sent again (some of them may have been delivered too; resending them is safe, see the relay).
 */
export interface PublishResult {
  readonly delivered: number;
  /** Why event number `delivered` was not delivered; present exactly when `delivered < events.length`. */
  readonly failure?: EventPublishError;
}

/**
 * A channel that carries domain events to other parties (the order-events FIFO queue, the event bus).
 * Implementations never throw for a delivery failure; they report it in the {@link PublishResult}.
 */
export interface OrderEventPublisher {
  publish(events: readonly OrderEvent[]): Promise<PublishResult>;
}
