import { IdempotencyKeyReusedError, OrderNotFoundError } from './errors';
import { fingerprint } from './fingerprint';
import { newOrder, type Order, type PlaceOrderCommand, transition } from './order';
import { OrderStatus } from './order-status';
import type { Clock, IdGenerator, OrderRepository, OrderWithHistory, PaymentTimers } from './ports';

export interface OrderServiceDependencies {
  readonly repository: OrderRepository;
  readonly timers: PaymentTimers;
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
  /**
   * Why the payment timeout could not be scheduled, if it could not. The order stands: the sweeper cancels it
   * when its deadline passes, so a failed timer costs latency, never correctness.
   */
  readonly timerFailure?: unknown;
}

/** The order use cases, written against ports only so that they run unchanged in Lambda and in unit tests. */
export class OrderService {
  public constructor(private readonly dependencies: OrderServiceDependencies) {}

  /**
   * Places an order awaiting payment. With an idempotency key, the key is claimed for the new order before the
   * order is written: a repeat of the same request returns the first order, a different request under the same
   * key is refused with {@link IdempotencyKeyReusedError}. A key that names an order never written (its request
   * stopped between the two writes, or is between them now) is completed by this request, the same one: it
   * writes that order, and whichever of the two writes it first created it.
   */
  public async placeOrder(command: PlaceOrderCommand, idempotencyKey?: string): Promise<PlaceOrderResult> {
    const { repository, clock, ids, paymentTimeoutSeconds, idempotencyKeyTtlSeconds } = this.dependencies;
    const now = clock.now();
    const placed = (orderId: string) => newOrder(command, { orderId, now, paymentTimeoutSeconds });
    const { order, created } = placed(ids.newOrderId());
    if (idempotencyKey === undefined) {
      await repository.create(order, created);
      return await this.withTimer(order);
    }
    const requestFingerprint = fingerprint(command);
    const claim = {
      // Each customer has a key space of their own: another's key neither finds their order nor collides.
      key: customerIdempotencyKey(command.customerId, idempotencyKey),
      requestFingerprint,
      expiresAt: new Date(now.getTime() + idempotencyKeyTtlSeconds * 1000),
    };
    const outcome = await repository.create(order, created, claim);
    if (outcome.kind === 'created') return await this.withTimer(order);
    if (outcome.requestFingerprint !== requestFingerprint)
      throw new IdempotencyKeyReusedError(idempotencyKey);
    const existing = await repository.get(outcome.orderId);
    if (existing !== undefined) return { order: existing.order, created: false };
    const resumed = placed(outcome.orderId);
    const completed = await repository.create(resumed.order, resumed.created, claim);
    if (completed.kind === 'created') return await this.withTimer(resumed.order);
    if (completed.requestFingerprint !== requestFingerprint)
      throw new IdempotencyKeyReusedError(idempotencyKey);
    return { order: (await this.getOrder(completed.orderId)).order, created: false };
  }

  public async getOrder(orderId: string): Promise<OrderWithHistory> {
    const found = await this.dependencies.repository.get(orderId);
    if (found === undefined) {
      throw new OrderNotFoundError(orderId);
    }
    return found;
  }

  /**
   * The order, if it belongs to `customerId`. Another customer's order is reported exactly as a missing one
   * ({@link OrderNotFoundError}), so that nobody learns which order ids exist.
   */
  public async getCustomerOrder(orderId: string, customerId: string): Promise<OrderWithHistory> {
    const found = await this.getOrder(orderId);
    if (found.order.customerId !== customerId) throw new OrderNotFoundError(orderId);
    return found;
  }

  /**
   * Cancels a customer's own order that is still awaiting payment; any other status is an
   * `InvalidTransitionError`, a payment being prepared right now a `PaymentInProgressError`, and another
   * customer's order an `OrderNotFoundError`, checked before anything is written.
   */
  public async cancelOrder(orderId: string, customerId: string): Promise<Order> {
    await this.getCustomerOrder(orderId, customerId);
    return await this.moveOrder(orderId, OrderStatus.CANCELLED, 'cancelled by customer');
  }

  /**
   * Moves an order to `to` if the transition table allows it from the status just read, with a write that
   * only succeeds if nobody changed the order in between.
   */
  public async moveOrder(orderId: string, to: OrderStatus, reason: string): Promise<Order> {
    const { order } = await this.getOrder(orderId);
    const now = this.dependencies.clock.now();
    const decided = transition(order, to, now, reason);
    // Leaving PENDING_PAYMENT while a payment is being prepared would strand the customer's payment.
    const guard = order.status === OrderStatus.PENDING_PAYMENT ? { noLiveLeaseAt: now } : {};
    await this.dependencies.repository.saveTransition(order, decided.next, decided.transition, guard);
    return decided.next;
  }

  private async withTimer(order: Order): Promise<PlaceOrderResult> {
    try {
      await this.dependencies.timers.schedule(order.orderId, new Date(order.paymentDeadline));
      return { order, created: true };
    } catch (timerFailure) {
      return { order, created: true, timerFailure };
    }
  }
}

/** The stored idempotency key: the customer's id and their key, so that keys of different customers never meet. */
export function customerIdempotencyKey(customerId: string, idempotencyKey: string): string {
  return `${customerId}#${idempotencyKey}`;
}
