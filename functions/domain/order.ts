import { InvalidTransitionError, ValidationError } from './errors';
import { isIsoCurrency, MAX_AMOUNT } from './money';
import { canTransition, OrderStatus } from './order-status';
import type { FieldIssue } from './validation';

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
  /** A free line would make a zero-amount order, and payment providers refuse zero-amount payments. */
  minUnitPrice: 1,
  maxUnitPrice: MAX_AMOUNT,
  /** The sum of quantity x unit price over the lines. */
  maxTotalAmount: MAX_AMOUNT,
  /** In characters (code points), as JSON Schema's maxLength counts them. */
  maxSkuLength: 64,
} as const;

/** A visible character of any script: letter, mark, number, punctuation or symbol. */
const VISIBLE = String.raw`\p{L}\p{M}\p{N}\p{P}\p{S}`;

/**
 * A SKU: 1 to {@link ORDER_LIMITS.maxSkuLength} visible characters of any script, with plain spaces (U+0020)
 * only between them. Everything else is refused: control characters (NUL, newline), format characters (bidi
 * overrides, which make a SKU display as another, and zero-width characters), line and paragraph separators,
 * other spaces (no-break, ideographic), lone surrogates, private-use and unassigned code points, and U+FFFD,
 * the trace of bytes that were not UTF-8. The length is in the pattern because it counts code points, as
 * JSON Schema does, where a string's length counts UTF-16 units.
 */
export const SKU_PATTERN = new RegExp(
  `^(?!.*\\uFFFD)[${VISIBLE}](?:[${VISIBLE} ]{0,${ORDER_LIMITS.maxSkuLength - 2}}[${VISIBLE}])?$`,
  'u',
);

export const SKU_RULE = `must be 1 to ${ORDER_LIMITS.maxSkuLength} letters, digits, punctuation marks or symbols, with spaces only between them`;

function isIntegerFrom(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

function isPricedLine(item: OrderItem): boolean {
  return (
    isIntegerFrom(item.quantity, ORDER_LIMITS.minQuantity, ORDER_LIMITS.maxQuantity) &&
    isIntegerFrom(item.unitPrice, ORDER_LIMITS.minUnitPrice, ORDER_LIMITS.maxUnitPrice)
  );
}

function itemIssues(item: OrderItem, index: number): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (!SKU_PATTERN.test(item.sku)) {
    issues.push({ path: `items/${index}/sku`, message: SKU_RULE });
  }
  if (!isIntegerFrom(item.quantity, ORDER_LIMITS.minQuantity, ORDER_LIMITS.maxQuantity)) {
    issues.push({
      path: `items/${index}/quantity`,
      message: `must be an integer from ${ORDER_LIMITS.minQuantity} to ${ORDER_LIMITS.maxQuantity}`,
    });
  }
  if (!isIntegerFrom(item.unitPrice, ORDER_LIMITS.minUnitPrice, ORDER_LIMITS.maxUnitPrice)) {
    issues.push({
      path: `items/${index}/unitPrice`,
      message: `must be an integer count of minor units from ${ORDER_LIMITS.minUnitPrice} to ${ORDER_LIMITS.maxUnitPrice}`,
    });
  }
  return issues;
}

/**
 * The rules across an order's lines, which no per-field schema can express: one line per SKU, and the total's
 * bound. A SKU on a second line is refused, not merged: the two lines may carry different unit prices, and
 * guessing which one the customer meant would charge them something they did not see. SKUs are compared in
 * Unicode NFC, so the same text typed two ways is the same SKU. The total is checked once every line is priced
 * within its bounds, since it means nothing before.
 */
export function crossItemIssues(items: readonly OrderItem[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const firstLineOf = new Map<string, number>();
  items.forEach((item, index) => {
    const sku = item.sku.normalize('NFC');
    const first = firstLineOf.get(sku);
    if (first === undefined) {
      firstLineOf.set(sku, index);
    } else {
      issues.push({
        path: `items/${index}/sku`,
        message: `repeats the SKU of items/${first}; put each SKU on one line with its whole quantity`,
      });
    }
  });
  if (items.every(isPricedLine)) {
    const total = totalOf(items);
    if (total > ORDER_LIMITS.maxTotalAmount) {
      issues.push({
        path: 'items',
        message: `total ${total} minor units; at most ${ORDER_LIMITS.maxTotalAmount} are accepted`,
      });
    }
  }
  return issues;
}

/**
 * Checks the rules of an order that no schema can express on its own (ISO currency, integer money, bounds, the
 * rules across lines), so that the domain stays correct whatever adapter calls it.
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
  issues.push(...command.items.flatMap(itemIssues), ...crossItemIssues(command.items));
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
