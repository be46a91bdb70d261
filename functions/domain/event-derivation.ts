import { z } from 'zod';
import { eventIdOf, type OrderEvent, OrderEventType, orderEventSchema } from './events';
import { ORDER_STATUSES, type OrderStatus } from './order-status';
import { PAYMENT_STATUSES, PaymentStatus } from './payment';

/**
 * Events from committed state: the outbox relay turns each change of the orders table (a stream record, its
 * images already unmarshalled) into the domain events of the catalogue (`events.ts`). Pure and deterministic,
 * so a replayed record yields the very same events, ids included, and downstream deduplication recognises them.
 */

/** One change of one table item, as the table's stream reports it (NEW_AND_OLD_IMAGES), images unmarshalled. */
export interface ItemChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly oldImage?: Record<string, unknown>;
  readonly newImage?: Record<string, unknown>;
  /**
   * When the stream saw the change (ISO 8601). Events take their time from the item itself instead (its
   * `createdAt`/`updatedAt`, i.e. the committed state), so the field is informational only.
   */
  readonly approximateCreationTime?: string;
}

export const EventDerivationErrorCode = {
  MALFORMED_STREAM_ITEM: 'MALFORMED_STREAM_ITEM',
  INVALID_DERIVED_EVENT: 'INVALID_DERIVED_EVENT',
} as const;

export type EventDerivationErrorCode =
  (typeof EventDerivationErrorCode)[keyof typeof EventDerivationErrorCode];

/** Base of the derivation's failures: each is a bug or corrupt data, never a transient condition. */
export abstract class EventDerivationError extends Error {
  public abstract readonly code: EventDerivationErrorCode;
}

/**
 * An order or payment item in the stream does not have the shape the table's writers give it (an unknown
 * status, a missing field). Thrown rather than skipped: publishing a guess, or nothing, would silently break the
 * promise that every committed change is announced.
 */
export class MalformedStreamItemError extends EventDerivationError {
  public override readonly name = 'MalformedStreamItemError';
  public readonly code = EventDerivationErrorCode.MALFORMED_STREAM_ITEM;

  public constructor(
    /** The item's keys (`PK`, `SK`) when present, to find it in the table. */
    public readonly itemKey: string,
    public readonly problems: readonly string[],
  ) {
    super(`stream item ${itemKey} is malformed: ${problems.join('; ')}`);
  }
}

/** The derivation produced an event that the catalogue's schema rejects: a bug in this module. */
export class InvalidDerivedEventError extends EventDerivationError {
  public override readonly name = 'InvalidDerivedEventError';
  public readonly code = EventDerivationErrorCode.INVALID_DERIVED_EVENT;

  public constructor(
    public readonly eventId: string,
    public readonly problems: readonly string[],
  ) {
    super(`derived event ${eventId} does not match the catalogue: ${problems.join('; ')}`);
  }
}

/**
 * The `entityType` values of the items that carry events. They mirror `ENTITY` of the table adapter, which the
 * domain may not import; a unit test holds the two together.
 */
export const EVENT_SOURCE_ENTITY = { order: 'Order', payment: 'Payment' } as const;

const orderItemSchema = z.looseObject({
  entityType: z.literal(EVENT_SOURCE_ENTITY.order),
  orderId: z.string().min(1),
  customerId: z.string(),
  status: z.enum(ORDER_STATUSES as [OrderStatus, ...OrderStatus[]]),
  version: z.number().int().min(1),
  currency: z.string(),
  totalAmount: z.number(),
  paymentDeadline: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const paymentItemSchema = z.looseObject({
  entityType: z.literal(EVENT_SOURCE_ENTITY.payment),
  paymentId: z.string().min(1),
  orderId: z.string().min(1),
  status: z.enum(PAYMENT_STATUSES as [PaymentStatus, ...PaymentStatus[]]),
  amount: z.number(),
  currency: z.string(),
  updatedAt: z.string(),
  refundReason: z.string().optional(),
});

type OrderItem = z.output<typeof orderItemSchema>;
type PaymentItem = z.output<typeof paymentItemSchema>;

/** The event each payment status announces; PENDING (an intent) announces nothing, the customer has not paid. */
const PAYMENT_EVENT_TYPE: Readonly<Record<PaymentStatus, OrderEventType | undefined>> = {
  [PaymentStatus.PENDING]: undefined,
  [PaymentStatus.SUCCEEDED]: OrderEventType.PAYMENT_SUCCEEDED,
  [PaymentStatus.FAILED]: OrderEventType.PAYMENT_FAILED,
  [PaymentStatus.REFUND_PENDING]: OrderEventType.REFUND_REQUESTED,
  [PaymentStatus.REFUNDED]: OrderEventType.PAYMENT_REFUNDED,
};

/**
 * The domain events one item change announces, in the order they happened (today at most one per change).
 *
 * - An order created (INSERT) → `OrderPlaced`, version 1.
 * - An order whose status changed (MODIFY) → `OrderStatusChanged` with the new version, at the order's
 *   `updatedAt`. A write that leaves the status alone (an index attribute dropped, say) announces nothing.
 * - A payment that reached a new status (INSERT or MODIFY) → `PaymentSucceeded`, `PaymentFailed`,
 *   `RefundRequested` (REFUND_PENDING) or `PaymentRefunded`; a PENDING payment is only an intent.
 * - Every other item (leases, idempotency keys, payment owners, provider events, saga steps) and every
 *   REMOVE → nothing: they are bookkeeping, and orders and payments are never deleted.
 *
 * Ids come from {@link eventIdOf}, so deriving the same change twice yields identical events.
 *
 * @throws MalformedStreamItemError when an order or payment item does not have its stored shape
 * @throws InvalidDerivedEventError when a derived event fails the catalogue's schema (a derivation bug)
 */
export function deriveEvents(change: ItemChange): OrderEvent[] {
  if (change.eventName === 'REMOVE' || change.newImage === undefined) {
    return [];
  }
  switch (change.newImage.entityType) {
    case EVENT_SOURCE_ENTITY.order:
      return orderEvents(change, parseItem(orderItemSchema, change.newImage));
    case EVENT_SOURCE_ENTITY.payment:
      return paymentEvents(change, parseItem(paymentItemSchema, change.newImage));
    default:
      return [];
  }
}

function orderEvents(change: ItemChange, order: OrderItem): OrderEvent[] {
  if (change.eventName === 'INSERT') {
    if (order.version !== 1) {
      // Any other version would share its id with that version's OrderStatusChanged and be deduplicated away.
      throw new MalformedStreamItemError(keyOf(change.newImage), [
        `an order is created at version 1, not ${order.version}`,
      ]);
    }
    return [
      validated({
        type: OrderEventType.ORDER_PLACED,
        eventId: eventIdOf({ kind: 'order', orderId: order.orderId, version: order.version }),
        orderId: order.orderId,
        occurredAt: order.createdAt,
        version: order.version,
        data: {
          customerId: order.customerId,
          totalAmount: order.totalAmount,
          currency: order.currency,
          paymentDeadline: order.paymentDeadline,
        },
      }),
    ];
  }
  if (change.oldImage === undefined) {
    // Without the old image a status change cannot be told from any other write: the stream must carry both.
    throw new MalformedStreamItemError(keyOf(change.newImage), [
      'a modified order has no old image; the stream must be NEW_AND_OLD_IMAGES',
    ]);
  }
  const before = parseItem(orderItemSchema, change.oldImage);
  if (before.status === order.status) {
    return [];
  }
  return [
    validated({
      type: OrderEventType.ORDER_STATUS_CHANGED,
      eventId: eventIdOf({ kind: 'order', orderId: order.orderId, version: order.version }),
      orderId: order.orderId,
      occurredAt: order.updatedAt,
      version: order.version,
      data: { from: before.status, to: order.status },
    }),
  ];
}

function paymentEvents(change: ItemChange, payment: PaymentItem): OrderEvent[] {
  // Unlike an order's, a payment's event id names the status reached, so even without an old image a
  // repeated announcement would only be deduplicated, never mistaken for a new event.
  const before =
    change.eventName === 'MODIFY' && change.oldImage !== undefined
      ? parseItem(paymentItemSchema, change.oldImage)
      : undefined;
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

function parseItem<Schema extends z.ZodType>(
  schema: Schema,
  image: Record<string, unknown>,
): z.output<Schema> {
  const result = schema.safeParse(image);
  if (!result.success) {
    throw new MalformedStreamItemError(keyOf(image), issuesOf(result.error));
  }
  return result.data;
}

/** Every event leaves through the catalogue's schema: a derivation bug fails here, not at a consumer. */
function validated(candidate: { readonly eventId: string } & Record<string, unknown>): OrderEvent {
  const result = orderEventSchema.safeParse(candidate);
  if (!result.success) {
    throw new InvalidDerivedEventError(candidate.eventId, issuesOf(result.error));
  }
  return result.data;
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

function keyOf(image: Record<string, unknown> | undefined): string {
  return `${String(image?.PK)}/${String(image?.SK)}`;
}

/** Why the publisher could not deliver an event; `code` is stable, `channel` says where it failed. */
export class EventPublishError extends Error {
  public override readonly name = 'EventPublishError';
  public readonly code = 'EVENT_PUBLISH_FAILED';

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
