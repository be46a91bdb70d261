import type { Order, OrderTransition } from './order';

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
}

/**
 * Where orders live. Every write is conditional: {@link OrderRepository.create} only if the order (and the
 * idempotency key) do not exist yet; {@link OrderRepository.saveTransition} only if the stored order still has
 * the status and version the transition was decided on, else it throws `ConcurrentModificationError`.
 */
export interface OrderRepository {
  create(order: Order, created: OrderTransition, idempotency?: IdempotencyClaim): Promise<CreateOrderOutcome>;
  get(orderId: string): Promise<OrderWithHistory | undefined>;
  saveTransition(previous: Order, next: Order, transition: OrderTransition): Promise<void>;
}
