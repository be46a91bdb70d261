import type { FulfillmentSagas, Refunds, SagaStart } from './consumer-ports';
import { AppError, ErrorCode, SchemaViolationError } from './errors';
import { type OrderEvent, OrderEventType, orderEventSchema } from './events';
import { OrderStatus } from './order-status';
import type { Clock, OrderAdvances } from './ports';
import { type FieldIssue, parseJsonWith } from './validation';

/**
 * A message that is not an event of the catalogue. The consumer fails it rather than dropping it: the queue's
 * redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives, where it raises an alarm
 * and keeps the evidence.
 */
export class InvalidOrderEventError extends SchemaViolationError {
  public override readonly name = 'InvalidOrderEventError';
  public readonly code = ErrorCode.INVALID_ORDER_EVENT;

  public constructor(issues: readonly FieldIssue[]) {
    super('not an order event', issues);
  }
}

/**
 * PaymentSucceeded arrived for an order still awaiting payment. Events come from committed state, in which the
 * payment and the order's PAID status are written together, so this is not a race to wait out but a defect:
 * failing lets the message reach the dead-letter queue and its alarm instead of being lost.
 */
export class OrderNotPaidError extends AppError {
  public override readonly name = 'OrderNotPaidError';
  public readonly code = ErrorCode.ORDER_NOT_PAID;
  public readonly retryable = false;

  public constructor(
    public readonly orderId: string,
    public readonly status: string,
  ) {
    super(`payment succeeded for order ${orderId}, but the order is ${status}`);
  }
}

/**
 * Parses a queue message body into an event of the catalogue.
 *
 * @throws {@link InvalidOrderEventError} when the body is not JSON or not a valid event
 */
export function decodeOrderEvent(body: string): OrderEvent {
  return parseJsonWith(orderEventSchema, body, (issues) => new InvalidOrderEventError(issues));
}

/** What handling one event did; every kind is a success (the message may be deleted). */
export type OrderEventOutcome =
  | {
      readonly kind: 'fulfillmentStarted';
      readonly orderId: string;
      /** False when the order was FULFILLING already (a duplicate, or a crash after the move). */
      readonly movedToFulfilling: boolean;
      readonly saga: SagaStart;
    }
  /** The order is past FULFILLING or was cancelled: the event is older than the order's state. */
  | { readonly kind: 'staleEvent'; readonly orderId: string; readonly status: OrderStatus }
  | {
      readonly kind: 'refundRequested';
      readonly orderId: string;
      readonly paymentId: string;
      readonly refundId: string;
    }
  /** Another service's business (they read the event bus): acknowledged. */
  | { readonly kind: 'notForThisConsumer'; readonly orderId: string; readonly type: OrderEvent['type'] };

export interface FulfillmentTriggerDependencies {
  readonly orders: OrderAdvances;
  readonly sagas: FulfillmentSagas;
  readonly refunds: Refunds;
  readonly clock: Clock;
}

type PaymentSucceeded = Extract<OrderEvent, { type: typeof OrderEventType.PAYMENT_SUCCEEDED }>;
type RefundRequested = Extract<OrderEvent, { type: typeof OrderEventType.REFUND_REQUESTED }>;

/**
 * The effects of the order events the order-events consumer acts on. Every effect is decided from the order's
 * current, committed state and is idempotent, so the queue's at-least-once delivery, duplicate events and a
 * redrive from the dead-letter queue (which also breaks FIFO order) can repeat or reorder events without harm:
 * an event older than the order's state is acknowledged and ignored, and nothing ever moves an order back.
 */
export class FulfillmentTrigger {
  public constructor(private readonly dependencies: FulfillmentTriggerDependencies) {}

  /**
   * Applies one event. Throws when the event must be delivered again (an infrastructure failure, a retryable
   * provider error); the caller reports the message as failed.
   */
  public async handle(event: OrderEvent): Promise<OrderEventOutcome> {
    switch (event.type) {
      case OrderEventType.PAYMENT_SUCCEEDED:
        return await this.startFulfillment(event);
      case OrderEventType.REFUND_REQUESTED:
        return await this.requestRefund(event);
      default:
        return { kind: 'notForThisConsumer', orderId: event.orderId, type: event.type };
    }
  }

  /**
   * PAID -> FULFILLING, then starts the saga; on a FULFILLING order only starts the saga.
   *
   * The move is one conditional write that the stored status decides, with no read before it: the event says
   * which payment succeeded, and a refused move returns the order as it stood, which says why. The order moves
   * first so that the status says "a saga owns this order" before any saga exists: a saga is never running for an
   * order that a concurrent writer could still take elsewhere. A crash between the two steps is safe because the
   * message is then not deleted: its redelivery finds the order FULFILLING and starts the saga. That start, and
   * every duplicate of the event, names the saga after the order: a Standard execution starts at most once, and
   * an Express one (whose names do not deduplicate) repeats only steps that answer from the step ledger.
   */
  private async startFulfillment(event: PaymentSucceeded): Promise<OrderEventOutcome> {
    const { orderId } = event;
    const { paymentId, amount, currency } = event.data;
    const { moved, order } = await this.dependencies.orders.advance(orderId, {
      from: [OrderStatus.PAID],
      to: OrderStatus.FULFILLING,
      at: this.dependencies.clock.now(),
      reason: 'fulfilment started',
    });
    if (!moved && order.status === OrderStatus.PENDING_PAYMENT)
      throw new OrderNotPaidError(orderId, order.status);
    if (!moved && order.status !== OrderStatus.FULFILLING) {
      // FULFILLED and later: the saga ran. CANCELLED or FULFILLMENT_FAILED: it must not (any money owed back is
      // refunded through its own RefundRequested event).
      return { kind: 'staleEvent', orderId, status: order.status };
    }
    return {
      kind: 'fulfillmentStarted',
      orderId,
      movedToFulfilling: moved,
      saga: await this.dependencies.sagas.start({
        orderId,
        paymentId,
        amount,
        currency,
        items: order.items.map(({ sku, quantity }) => ({ sku, quantity })),
      }),
    };
  }

  /**
   * Asks the provider to refund the payment under the key `refund-<paymentId>`, on which the provider
   * deduplicates: every delivery of the event, and the stream-triggered refunds this consumer replaces, name
   * the same refund. Provider errors propagate, retryable or not: a refund owed is never dropped silently, and
   * one the provider keeps refusing reaches the dead-letter queue for a person to look at.
   */
  private async requestRefund(event: RefundRequested): Promise<OrderEventOutcome> {
    const { paymentId, amount, currency } = event.data;
    const refund = await this.dependencies.refunds.refund(
      { paymentId, amount, currency },
      `refund-${paymentId}`,
    );
    return { kind: 'refundRequested', orderId: event.orderId, paymentId, refundId: refund.refundId };
  }
}
