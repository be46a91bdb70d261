import * as z from 'zod/mini';
import { ORDER_STATUSES } from './order-status';
import { PAYMENT_STATUSES } from './payment';
import { amountSchema, currencySchema, orderReferenceSchema } from './validation';

/**
 * The event catalogue: every domain event the outbox relay publishes, one schema per type. The relay validates
 * what it derives before publishing and consumers validate what they receive, so a change to a shape breaks
 * loudly at one end instead of silently at the other. `docs/events.md` describes each type.
 *
 * Event ids are deterministic (see `eventIdOf`), so a replayed stream record yields the same event and the
 * FIFO queue's deduplication and the consumers' idempotency both recognise it.
 */
export const OrderEventType = {
  ORDER_PLACED: 'OrderPlaced',
  ORDER_STATUS_CHANGED: 'OrderStatusChanged',
  PAYMENT_SUCCEEDED: 'PaymentSucceeded',
  PAYMENT_FAILED: 'PaymentFailed',
  REFUND_REQUESTED: 'RefundRequested',
  PAYMENT_REFUNDED: 'PaymentRefunded',
} as const;

export type OrderEventType = (typeof OrderEventType)[keyof typeof OrderEventType];

const orderStatus = z.enum(ORDER_STATUSES as [string, ...string[]]);
const paymentStatus = z.enum(PAYMENT_STATUSES as [string, ...string[]]);
const money = { amount: amountSchema, currency: currencySchema };

const envelope = {
  eventId: z.string().check(z.minLength(1), z.maxLength(128)),
  orderId: orderReferenceSchema,
  occurredAt: z.iso.datetime(),
};

const paymentData = z.strictObject({
  paymentId: z.string().check(z.minLength(1)),
  status: paymentStatus,
  ...money,
  refundReason: z.optional(z.string()),
});

export const orderEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    ...envelope,
    type: z.literal(OrderEventType.ORDER_PLACED),
    version: z.number().check(z.int(), z.gte(1)),
    data: z.strictObject({
      customerId: z.string().check(z.minLength(1)),
      totalAmount: amountSchema,
      currency: currencySchema,
      paymentDeadline: z.iso.datetime(),
    }),
  }),
  z.strictObject({
    ...envelope,
    type: z.literal(OrderEventType.ORDER_STATUS_CHANGED),
    version: z.number().check(z.int(), z.gte(2)),
    data: z.strictObject({ from: orderStatus, to: orderStatus }),
  }),
  z.strictObject({ ...envelope, type: z.literal(OrderEventType.PAYMENT_SUCCEEDED), data: paymentData }),
  z.strictObject({ ...envelope, type: z.literal(OrderEventType.PAYMENT_FAILED), data: paymentData }),
  z.strictObject({ ...envelope, type: z.literal(OrderEventType.REFUND_REQUESTED), data: paymentData }),
  z.strictObject({ ...envelope, type: z.literal(OrderEventType.PAYMENT_REFUNDED), data: paymentData }),
]);

export type OrderEvent = z.output<typeof orderEventSchema>;

/**
 * The deterministic id of an event: an order's change by its version (`<orderId>:v<version>`), a payment's by
 * the status it reached (`<paymentId>:<status>`), since a payment reaches each status at most once.
 */
export function eventIdOf(
  event:
    | { readonly kind: 'order'; readonly orderId: string; readonly version: number }
    | { readonly kind: 'payment'; readonly paymentId: string; readonly status: string },
): string {
  return event.kind === 'order' ? `${event.orderId}:v${event.version}` : `${event.paymentId}:${event.status}`;
}
