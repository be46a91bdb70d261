import { type FieldIssue, InvalidTransitionError, ValidationError } from './errors';
import { isIsoCurrency, MAX_UNIT_PRICE } from './money';
import { canTransition, OrderStatus } from './order-status';

export interface OrderItem {
  readonly sku: string;
  readonly quantity: number;
  /** Integer minor units of the order's currency. */
  readonly unitPrice: number;
}

export interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  /** Starts at 1 and grows by one with every transition; conditional writes compare it. */
  readonly version: number;
  readonly currency: string;
  readonly totalAmount: number;
  readonly items: readonly OrderItem[];
  readonly paymentDeadline: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One entry of an order's timeline: the move that produced `version`. Creation is the move from nothing. */
export interface OrderTransition {
  readonly orderId: string;
  readonly version: number;
  readonly from: OrderStatus | null;
  readonly to: OrderStatus;
  readonly at: string;
  readonly reason: string;
}

export interface PlaceOrderCommand {
  readonly customerId: string;
  readonly currency: string;
  readonly items: readonly OrderItem[];
}

export const ORDER_LIMITS = {
  minItems: 1,
  maxItems: 100,
  minQuantity: 1,
  maxQuantity: 999,
  maxUnitPrice: MAX_UNIT_PRICE,
} as const;

/**
 * Checks the rules of an order that no schema can express on its own (ISO currency, integer money, bounds),
 * so that the domain stays correct whatever adapter calls it.
 */
export function validatePlaceOrder(command: PlaceOrderCommand): void {
  const issues: FieldIssue[] = [];
  if (command.customerId.trim().length === 0) {
    issues.push({ path: 'customerId', message: 'must not be blank' });
  }
  if (!isIsoCurrency(command.currency)) {
    issues.push({ path: 'currency', message: 'must be an ISO 4217 currency code such as EUR' });
  }
  if (command.items.length < ORDER_LIMITS.minItems || command.items.length > ORDER_LIMITS.maxItems) {
    issues.push({
      path: 'items',
      message: `must hold ${ORDER_LIMITS.minItems} to ${ORDER_LIMITS.maxItems} items`,
    });
  }
  command.items.forEach((item, index) => {
    if (item.sku.trim().length === 0) {
      issues.push({ path: `items/${index}/sku`, message: 'must not be blank' });
    }
    if (
      !Number.isInteger(item.quantity) ||
      item.quantity < ORDER_LIMITS.minQuantity ||
      item.quantity > ORDER_LIMITS.maxQuantity
    ) {
      issues.push({
        path: `items/${index}/quantity`,
        message: `must be an integer from ${ORDER_LIMITS.minQuantity} to ${ORDER_LIMITS.maxQuantity}`,
      });
    }
    if (
      !Number.isInteger(item.unitPrice) ||
      item.unitPrice < 0 ||
      item.unitPrice > ORDER_LIMITS.maxUnitPrice
    ) {
      issues.push({
        path: `items/${index}/unitPrice`,
        message: `must be an integer count of minor units from 0 to ${ORDER_LIMITS.maxUnitPrice}`,
      });
    }
  });
  if (issues.length > 0) {
    throw new ValidationError(issues);
  }
}

export function totalOf(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
}

export interface NewOrderContext {
  readonly orderId: string;
  readonly now: Date;
  readonly paymentTimeoutSeconds: number;
}

/** Builds a new order awaiting payment, and the timeline entry of its creation. */
export function newOrder(
  command: PlaceOrderCommand,
  context: NewOrderContext,
): { order: Order; created: OrderTransition } {
  validatePlaceOrder(command);
  const createdAt = context.now.toISOString();
  const order: Order = {
    orderId: context.orderId,
    customerId: command.customerId,
    status: OrderStatus.PENDING_PAYMENT,
    version: 1,
    currency: command.currency,
    totalAmount: totalOf(command.items),
    items: command.items.map((item) => ({
      sku: item.sku,
      quantity: item.quantity,
      unitPrice: item.unitPrice,
    })),
    paymentDeadline: new Date(context.now.getTime() + context.paymentTimeoutSeconds * 1000).toISOString(),
    createdAt,
    updatedAt: createdAt,
  };
  const created: OrderTransition = {
    orderId: order.orderId,
    version: 1,
    from: null,
    to: OrderStatus.PENDING_PAYMENT,
    at: createdAt,
    reason: 'order placed',
  };
  return { order, created };
}

/**
 * Decides a move of `order` to `to`. Throws {@link InvalidTransitionError} when the transition table refuses it;
 * otherwise returns the next version of the order and its timeline entry, for a write conditioned on the
 * current status and version.
 */
export function transition(
  order: Order,
  to: OrderStatus,
  at: Date,
  reason: string,
): { next: Order; transition: OrderTransition } {
  if (!canTransition(order.status, to)) {
    throw new InvalidTransitionError(order.orderId, order.status, to);
  }
  const timestamp = at.toISOString();
  const next: Order = { ...order, status: to, version: order.version + 1, updatedAt: timestamp };
  return {
    next,
    transition: {
      orderId: order.orderId,
      version: next.version,
      from: order.status,
      to,
      at: timestamp,
      reason,
    },
  };
}
