import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Order } from '../domain/order';
import type { OrderWithHistory } from '../domain/ports';

export interface OrderRepresentation {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: string;
  readonly totalAmount: number;
  readonly currency: string;
  readonly paymentDeadline: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number; readonly unitPrice: number }[];
}

export function representOrder(order: Order): OrderRepresentation {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    status: order.status,
    totalAmount: order.totalAmount,
    currency: order.currency,
    paymentDeadline: order.paymentDeadline,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    items: order.items,
  };
}

export function representOrderWithHistory({ order, history, payments }: OrderWithHistory) {
  return {
    ...representOrder(order),
    history: history.map((entry) => ({ status: entry.to, at: entry.at })),
    payments: payments.map((payment) => ({
      paymentId: payment.paymentId,
      status: payment.status,
      amount: payment.amount,
      currency: payment.currency,
    })),
  };
}

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}
