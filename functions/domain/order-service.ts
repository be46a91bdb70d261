import { IdempotencyKeyReusedError, OrderNotFoundError } from './errors';
import { fingerprint } from './fingerprint';
import { newOrder, type Order, type PlaceOrderCommand, transition } from './order';
import { OrderStatus } from './order-status';
import type { Clock, IdGenerator, OrderRepository, OrderWithHistory } from './ports';

export interface OrderServiceDependencies {
  readonly repository: OrderRepository;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly paymentTimeoutSeconds: number;
  /** How long an idempotency key keeps answering with its first order (24 h, like most payment APIs). */
  readonly idempotencyKeyTtlSeconds: number;
}

export interface PlaceOrderResult {
  readonly order: Order;
  /** False when an earlier request with the same idempotency key already created this order. */
  readonly created: boolean;
}

/** The order use cases, written against ports only so that they run unchanged in Lambda and in unit tests. */
export class OrderService {
  public constructor(private readonly dependencies: OrderServiceDependencies) {}

  /**
   * Places an order awaiting payment. With an idempotency key, the order and the key are written in one
   * conditional transaction: a repeat of the same request returns the first order, a different request under
   * the same key is refused with {@link IdempotencyKeyReusedError}.
   */
  public async placeOrder(command: PlaceOrderCommand, idempotencyKey?: string): Promise<PlaceOrderResult> {
    const { repository, clock, ids, paymentTimeoutSeconds, idempotencyKeyTtlSeconds } = this.dependencies;
    const now = clock.now();
    const { order, created } = newOrder(command, { orderId: ids.newOrderId(), now, paymentTimeoutSeconds });
    if (idempotencyKey === undefined) {
      await repository.create(order, created);
      return { order, created: true };
    }
    const requestFingerprint = fingerprint(command);
    const outcome = await repository.create(order, created, {
      key: idempotencyKey,
      requestFingerprint,
      expiresAt: new Date(now.getTime() + idempotencyKeyTtlSeconds * 1000),
    });
    if (outcome.kind === 'created') {
      return { order, created: true };
    }
    if (outcome.requestFingerprint !== requestFingerprint) {
      throw new IdempotencyKeyReusedError(idempotencyKey);
    }
    const existing = await this.getOrder(outcome.orderId);
    return { order: existing.order, created: false };
  }

  public async getOrder(orderId: string): Promise<OrderWithHistory> {
    const found = await this.dependencies.repository.get(orderId);
    if (found === undefined) {
      throw new OrderNotFoundError(orderId);
    }
    return found;
  }

  /** Cancels an order that is still awaiting payment; any other status is an `InvalidTransitionError`. */
  public async cancelOrder(orderId: string): Promise<Order> {
    return await this.moveOrder(orderId, OrderStatus.CANCELLED, 'cancelled by customer');
  }

  /**
   * Moves an order to `to` if the transition table allows it from the status just read, with a write that
   * only succeeds if nobody changed the order in between.
   */
  public async moveOrder(orderId: string, to: OrderStatus, reason: string): Promise<Order> {
    const { order } = await this.getOrder(orderId);
    const decided = transition(order, to, this.dependencies.clock.now(), reason);
    await this.dependencies.repository.saveTransition(order, decided.next, decided.transition);
    return decided.next;
  }
}
