import type { PickLine } from './fulfillment-ports';
import type { PaymentProvider } from './ports';

/**
 * The ports of the order-events consumer's domain logic ({@link FulfillmentTrigger} in `fulfillment-trigger.ts`):
 * what it needs from the world, as interfaces that adapters at the edge implement.
 */

/**
 * What the fulfilment saga starts with: the facts of the payment it fulfils and the order's lines (which never
 * change after creation), so its first step needs no read of the order.
 */
export interface FulfillmentSagaInput {
  readonly orderId: string;
  readonly paymentId: string;
  /** Integer minor units of `currency`. */
  readonly amount: number;
  readonly currency: string;
  readonly items: readonly PickLine[];
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

/** Refunds at the payment provider, idempotent per idempotency key (see {@link PaymentProvider}). */
export type Refunds = Pick<PaymentProvider, 'refund'>;
