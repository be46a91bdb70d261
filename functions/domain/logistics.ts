import * as z from 'zod/mini';
import { AppError, ErrorCode, InvalidTransitionError, SchemaViolationError } from './errors';
import { OrderStatus } from './order-status';
import type { Clock, OrderAdvances } from './ports';
import { type FieldIssue, orderIdSchema, parseJsonWith } from './validation';

/**
 * Logistics status tracking: the warehouse and the carrier report OUTBOUND, SHIPPED and DELIVERED after
 * fulfilment, late, twice and out of order. The statuses form a progression, and an order only ever moves up
 * it: an event at or below the order's rank is acknowledged and ignored, so duplicates, reordering and a
 * redrive from the dead-letter queue can never move an order backwards.
 */

/** The statuses a logistics provider reports. */
export const LogisticsStatus = {
  OUTBOUND: OrderStatus.OUTBOUND,
  SHIPPED: OrderStatus.SHIPPED,
  DELIVERED: OrderStatus.DELIVERED,
} as const;

export type LogisticsStatus = (typeof LogisticsStatus)[keyof typeof LogisticsStatus];

export const LOGISTICS_STATUSES: readonly LogisticsStatus[] = Object.values(LogisticsStatus);

/** FULFILLED < OUTBOUND < SHIPPED < DELIVERED: the order of this list is the rank. */
export const LOGISTICS_PROGRESSION = [
  OrderStatus.FULFILLED,
  OrderStatus.OUTBOUND,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
] as const satisfies readonly OrderStatus[];

/** A status's place in {@link LOGISTICS_PROGRESSION}, or `undefined` for a status outside it. */
export function progressionRank(status: OrderStatus): number | undefined {
  const rank = (LOGISTICS_PROGRESSION as readonly OrderStatus[]).indexOf(status);
  return rank < 0 ? undefined : rank;
}

/** One report of a logistics provider, as the webhook accepts it and as it travels on `status-events.fifo`. */
export const statusEventSchema = z.strictObject({
  /** The provider's id of the report; the queue's deduplication id. SQS allows printable ASCII, at most 128. */
  eventId: z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(128),
      z.regex(/^[\x21-\x7e]+$/, 'must be 1 to 128 printable ASCII characters'),
    ),
  orderId: orderIdSchema,
  status: z.enum(LOGISTICS_STATUSES as [LogisticsStatus, ...LogisticsStatus[]]),
  occurredAt: z.iso.datetime({ offset: true }),
});

export type StatusEvent = z.output<typeof statusEventSchema>;

/**
 * What a status event means for an order in `orderStatus`:
 *
 * - `apply`: the event is ahead of the order; move it (a skip, such as FULFILLED -> DELIVERED, is fine: a lost
 *   OUTBOUND report must not strand a SHIPPED order).
 * - `duplicate`: the order is at the event's status already; acknowledge and ignore.
 * - `stale`: the order is past the event's status; acknowledge and ignore.
 * - `notYetFulfilled`: the order is still on its way to FULFILLED (awaiting payment, paid, or being fulfilled).
 *   The report overtook our own fulfilment; it must wait, not be dropped.
 * - `cannotApply`: the order is CANCELLED or FULFILLMENT_FAILED, terminal statuses from which no logistics
 *   status is reachable. Waiting cannot help (the order will never be FULFILLED), and failing would only park
 *   the report in the dead-letter queue to wake someone for an order that was refunded anyway; so the consumer
 *   acknowledges it and logs a warning, which is where a carrier reporting a cancelled order shows up.
 */
export type StatusDecision = 'apply' | 'duplicate' | 'stale' | 'notYetFulfilled' | 'cannotApply';

const CLOSED: readonly OrderStatus[] = [OrderStatus.CANCELLED, OrderStatus.FULFILLMENT_FAILED];

/** Decides what an event reporting `eventStatus` does to an order in `orderStatus`; pure, total. */
export function decideStatusEvent(orderStatus: OrderStatus, eventStatus: LogisticsStatus): StatusDecision {
  const orderRank = progressionRank(orderStatus);
  if (orderRank === undefined) {
    return CLOSED.includes(orderStatus) ? 'cannotApply' : 'notYetFulfilled';
  }
  // Every logistics status is in the progression, so its rank is defined.
  const eventRank = progressionRank(eventStatus) ?? 0;
  if (orderRank < eventRank) return 'apply';
  return orderRank === eventRank ? 'duplicate' : 'stale';
}

/**
 * A message that is not a status event. It is failed rather than dropped: after `maxReceiveCount` receives the
 * queue moves it to its dead-letter queue, which alarms and keeps the evidence.
 */
export class InvalidStatusEventError extends SchemaViolationError {
  public override readonly name = 'InvalidStatusEventError';
  public readonly code = ErrorCode.INVALID_STATUS_EVENT;

  public constructor(issues: readonly FieldIssue[]) {
    super('not a status event', issues);
  }
}

/**
 * The report is ahead of our own fulfilment (the carrier scanned the parcel before the saga recorded
 * FULFILLED). Failing the message brings it back after the visibility timeout; in a FIFO group it also holds
 * the order's later reports behind it, which keeps them in order.
 */
export class OrderNotYetFulfilledError extends AppError {
  public override readonly name = 'OrderNotYetFulfilledError';
  public readonly code = ErrorCode.ORDER_NOT_YET_FULFILLED;
  public readonly retryable = true;

  public constructor(
    public readonly orderId: string,
    public readonly status: OrderStatus,
    public readonly eventStatus: LogisticsStatus,
  ) {
    super(`order ${orderId} is ${status}, not yet FULFILLED: ${eventStatus} is applied once it is`);
  }
}

/**
 * Parses a queue message body into a status event.
 *
 * @throws {@link InvalidStatusEventError} when the body is not JSON or not a valid status event
 */
export function decodeStatusEvent(body: string): StatusEvent {
  return parseJsonWith(statusEventSchema, body, (issues) => new InvalidStatusEventError(issues));
}

/** Where accepted status events go to be applied in order per order (`status-events.fifo` in AWS). */
export interface StatusEventSender {
  send(event: StatusEvent): Promise<void>;
}

/** What applying one event did; every kind is a success (the message may be deleted). */
export type StatusEventOutcome =
  | {
      readonly kind: 'applied';
      readonly orderId: string;
      readonly to: LogisticsStatus;
      /** The order's version after the move: the version of its entry in the order's `history`. */
      readonly version: number;
    }
  /** A duplicate or a stale report: the order is at or past the event's status. */
  | {
      readonly kind: 'ignored';
      readonly orderId: string;
      readonly reason: 'duplicate' | 'stale';
      readonly status: OrderStatus;
    }
  /** The order is CANCELLED or FULFILLMENT_FAILED: the report can never apply (see {@link StatusDecision}). */
  | { readonly kind: 'cannotApply'; readonly orderId: string; readonly status: OrderStatus };

export interface StatusTrackerDependencies {
  /** The order repository: each report is one of its moves without a read. */
  readonly orders: OrderAdvances;
  readonly clock: Clock;
}

/** The timeline entry's reason for an applied report: which report, and when it happened at the provider. */
export function statusMoveReason(event: StatusEvent): string {
  return `logistics ${event.eventId} at ${event.occurredAt}`;
}

/** The statuses from which a report of `status` moves the order: those it decides `apply` on. */
function statusesBelow(status: LogisticsStatus): OrderStatus[] {
  return LOGISTICS_PROGRESSION.filter((from) => decideStatusEvent(from, status) === 'apply');
}

/**
 * Applies logistics status events to orders, each with one conditional write and no read: the write moves the
 * order only from a status ranked below the report's, in the same request that checks it, so however events are
 * duplicated, reordered, redriven or applied by concurrent consumers, an order's timeline only climbs, and no
 * race can be lost (nothing was read that could go stale). A refused write returns the order as it stood, and
 * {@link decideStatusEvent} on that status says why: a duplicate, a stale report, a closed order, or an order not
 * fulfilled yet.
 */
export class StatusTracker {
  public constructor(private readonly dependencies: StatusTrackerDependencies) {}

  /**
   * Applies one event. Throws when the event must be delivered again: {@link OrderNotYetFulfilledError},
   * `OrderNotFoundError` (a report for an order we do not know is kept by retries and then the dead-letter
   * queue, not dropped) and infrastructure failures.
   */
  public async apply(event: StatusEvent): Promise<StatusEventOutcome> {
    const { orderId } = event;
    const { moved, order } = await this.dependencies.orders.advance(orderId, {
      to: event.status,
      from: statusesBelow(event.status),
      at: this.dependencies.clock.now(),
      reason: statusMoveReason(event),
    });
    if (moved) return { kind: 'applied', orderId, to: event.status, version: order.version };
    const decision = decideStatusEvent(order.status, event.status);
    switch (decision) {
      case 'duplicate':
      case 'stale':
        return { kind: 'ignored', orderId, reason: decision, status: order.status };
      case 'cannotApply':
        return { kind: 'cannotApply', orderId, status: order.status };
      case 'notYetFulfilled':
        throw new OrderNotYetFulfilledError(orderId, order.status, event.status);
      case 'apply':
        // The write refused a status it was given as allowed: the store's condition is broken, not raced.
        throw new InvalidTransitionError(orderId, order.status, event.status);
    }
  }
}
