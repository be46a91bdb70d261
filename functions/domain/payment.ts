import { type AppError, OrderNotFoundError, OrderNotPayableError } from './errors';
import type { Order } from './order';
import { OrderStatus } from './order-status';

/** A payment's own small lifecycle, separate from its order's. */
export const PaymentStatus = {
  /** An intent exists at the provider; the customer has not paid yet. */
  PENDING: 'PENDING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  /** Money arrived that the order cannot keep; a refund is owed and is being requested. */
  REFUND_PENDING: 'REFUND_PENDING',
  REFUNDED: 'REFUNDED',
  /** The intent was cancelled at the provider before anyone paid it (the order's payment window closed). */
  CANCELLED: 'CANCELLED',
} as const;

export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus];

export const PAYMENT_STATUSES: readonly PaymentStatus[] = Object.values(PaymentStatus);

/** Why money that arrived is being sent back. */
export const RefundReason = {
  ORDER_CANCELLED: 'ORDER_CANCELLED',
  ORDER_ALREADY_PAID: 'ORDER_ALREADY_PAID',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  AMOUNT_MISMATCH: 'AMOUNT_MISMATCH',
  /** The order was paid but could not be fulfilled; the fulfilment saga compensated it. */
  FULFILLMENT_FAILED: 'FULFILLMENT_FAILED',
} as const;

export type RefundReason = (typeof RefundReason)[keyof typeof RefundReason];

/**
 * Who learnt the payment fact a record holds: the customer's checkout created the intent; the provider's webhook,
 * the scheduled reconciliation or the check-back before a cancellation read its outcome from the provider; the
 * fulfilment saga's compensation owed a refund. Operators read it to see how often webhooks are being missed.
 */
export const PaymentFactSource = {
  CHECKOUT: 'checkout',
  WEBHOOK: 'webhook',
  RECONCILIATION: 'reconciliation',
  CHECK_BACK: 'check-back',
  FULFILMENT: 'fulfilment',
} as const;

export type PaymentFactSource = (typeof PaymentFactSource)[keyof typeof PaymentFactSource];

export interface Payment {
  readonly paymentId: string;
  readonly orderId: string;
  readonly status: PaymentStatus;
  readonly amount: number;
  readonly currency: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly refundReason?: RefundReason;
  /** Absent on records written before sources were recorded. */
  readonly recordedBy?: PaymentFactSource;
}

/** The payment facts the provider reports for an intent. */
export interface ReportedPayment {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
}

/** Statuses a payment may still leave when the provider reports its outcome; any other status is final. */
const OPEN_PAYMENT_STATUSES: readonly PaymentStatus[] = [PaymentStatus.PENDING, PaymentStatus.FAILED];

export function isOpenPayment(payment: Payment | undefined): boolean {
  return payment === undefined || OPEN_PAYMENT_STATUSES.includes(payment.status);
}

/**
 * Why a customer may not prepare a payment for an order at `now`, or `undefined` if they may: another
 * customer's order does not exist for them; it must await payment and its deadline must not have passed.
 */
export function refusalToPay(
  orderId: string,
  order: Order | undefined,
  customerId: string,
  now: Date,
): AppError | undefined {
  if (order === undefined || order.customerId !== customerId) return new OrderNotFoundError(orderId);
  if (order.status !== OrderStatus.PENDING_PAYMENT) {
    return new OrderNotPayableError(orderId, `it is ${order.status}`);
  }
  if (now.getTime() >= Date.parse(order.paymentDeadline)) {
    return new OrderNotPayableError(orderId, `its payment deadline ${order.paymentDeadline} has passed`);
  }
  return undefined;
}

export type SucceededPaymentDecision =
  /** The payment was settled before (a duplicate callback, or the same payment reported twice): change nothing. */
  | { readonly kind: 'alreadySettled'; readonly payment: Payment }
  /** The order takes this payment: it becomes PAID. */
  | { readonly kind: 'pay' }
  /** The order cannot take this money: record the payment as owing a refund. */
  | { readonly kind: 'refund'; readonly reason: RefundReason };

/**
 * What a reported successful payment does. An order awaiting payment whose amount and currency match is paid,
 * even past its deadline if no timeout has cancelled it yet: exactly one of PAID and CANCELLED wins, decided by
 * whichever conditional write commits first. Every other case keeps no money.
 */
export function decideSucceededPayment(
  reported: ReportedPayment,
  order: Order | undefined,
  existing: Payment | undefined,
): SucceededPaymentDecision {
  if (existing !== undefined && !isOpenPayment(existing)) {
    return { kind: 'alreadySettled', payment: existing };
  }
  if (order === undefined) {
    return { kind: 'refund', reason: RefundReason.ORDER_NOT_FOUND };
  }
  if (order.status === OrderStatus.CANCELLED) {
    return { kind: 'refund', reason: RefundReason.ORDER_CANCELLED };
  }
  if (order.status !== OrderStatus.PENDING_PAYMENT) {
    return { kind: 'refund', reason: RefundReason.ORDER_ALREADY_PAID };
  }
  if (order.totalAmount !== reported.amount || order.currency !== reported.currency) {
    return { kind: 'refund', reason: RefundReason.AMOUNT_MISMATCH };
  }
  return { kind: 'pay' };
}

export function paymentFrom(
  reported: ReportedPayment,
  status: PaymentStatus,
  at: Date,
  details: {
    readonly existing?: Payment | undefined;
    readonly refundReason?: RefundReason | undefined;
    readonly recordedBy?: PaymentFactSource | undefined;
  } = {},
): Payment {
  const timestamp = at.toISOString();
  const { existing, refundReason, recordedBy } = details;
  return {
    paymentId: reported.paymentId,
    orderId: reported.orderId,
    status,
    amount: reported.amount,
    currency: reported.currency,
    createdAt: existing?.createdAt ?? timestamp,
    updatedAt: timestamp,
    ...(refundReason === undefined ? {} : { refundReason }),
    ...(recordedBy === undefined ? {} : { recordedBy }),
  };
}
