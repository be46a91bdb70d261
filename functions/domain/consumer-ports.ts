import type { Order } from './order';
import type { OrderStatus } from './order-status';
import type { OrderWithHistory, PaymentProvider } from './ports';

/**
 * The ports of the order-events consumer's domain logic ({@link FulfillmentTrigger} in `fulfillment-trigger.ts`):
 * what it needs from the world, as interfaces that adapters at the edge implement.
 */

/** What the fulfilment saga starts with: exactly the facts of the payment it fulfils, nothing it could re-read. */
export interface FulfillmentSagaInput {
  readonly orderId: string;
  readonly paymentId: string;
  /** Integer minor units of `currency`. */
  readonly amount: number;
  readonly currency: string;
}

export const SagaStart = {
  /** The engine accepted the start (for Step Functions, also an identical repeat while the saga still runs). */
  STARTED: 'started',
  /** The order's saga was started before: nothing new runs. */
  ALREADY_STARTED: 'alreadyStarted',
} as const;

export type SagaStart = (typeof SagaStart)[keyof typeof SagaStart];

/**
 * Starts fulfilment sagas. `start` must be idempotent per order: the saga's identity is derived from the order
 * id alone (not from the message or the attempt), so every delivery of every copy of an event names the same
 * saga and the engine refuses to run it twice; that refusal is `alreadyStarted`, not an error.
 */
export interface FulfillmentSagas {
  start(input: FulfillmentSagaInput): Promise<SagaStart>;
}

/**
 * The order operations the consumer uses; `OrderService` implements them. `moveOrder` is a conditional write:
 * it throws `ConcurrentModificationError` if the order changed under it and `InvalidTransitionError` if the
 * order's current status does not allow the move.
 */
export interface OrderMoves {
  getOrder(orderId: string): Promise<OrderWithHistory>;
  moveOrder(orderId: string, to: OrderStatus, reason: string): Promise<Order>;
}

/** Refunds at the payment provider, idempotent per idempotency key (see {@link PaymentProvider}). */
export type Refunds = Pick<PaymentProvider, 'refund'>;
