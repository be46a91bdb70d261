/**
 * Order statuses and the one table that decides which moves between them are allowed. Nothing else in the
 * system decides a status: handlers, consumers and the saga all ask {@link canTransition}.
 */
export const OrderStatus = {
  PENDING_PAYMENT: 'PENDING_PAYMENT',
  PAID: 'PAID',
  CANCELLED: 'CANCELLED',
  FULFILLING: 'FULFILLING',
  FULFILLED: 'FULFILLED',
  FULFILLMENT_FAILED: 'FULFILLMENT_FAILED',
  OUTBOUND: 'OUTBOUND',
  SHIPPED: 'SHIPPED',
  DELIVERED: 'DELIVERED',
} as const;

export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

export const ORDER_STATUSES: readonly OrderStatus[] = Object.values(OrderStatus);

/**
 * Logistics reports may skip a step (a lost OUTBOUND report must not strand an order that is already SHIPPED),
 * so each logistics status may move to any later one; nothing ever moves backwards.
 */
const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING_PAYMENT: [OrderStatus.PAID, OrderStatus.CANCELLED],
  PAID: [OrderStatus.FULFILLING],
  FULFILLING: [OrderStatus.FULFILLED, OrderStatus.FULFILLMENT_FAILED],
  FULFILLED: [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.DELIVERED],
  OUTBOUND: [OrderStatus.SHIPPED, OrderStatus.DELIVERED],
  SHIPPED: [OrderStatus.DELIVERED],
  DELIVERED: [],
  CANCELLED: [],
  FULFILLMENT_FAILED: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isTerminal(status: OrderStatus): boolean {
  return TRANSITIONS[status].length === 0;
}

export function isOrderStatus(value: string): value is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(value);
}
