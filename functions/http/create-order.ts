import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { getOrderService, logger } from '../composition-root';
import { ValidationError } from '../domain/errors';
import { parseWith } from '../domain/validation';
import { BusinessMetric, countMetric } from '../observability';
import { CustomerMismatchError } from './errors';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrder } from './order-representation';
import { customerIdOf, header, parseJsonBody } from './request';
import { createOrderBody, idempotencyKeyHeader } from './schemas';

function idempotencyKeyOf(event: APIGatewayProxyEventV2): string | undefined {
  const value = header(event, 'idempotency-key');
  if (value === undefined) {
    return undefined;
  }
  return parseWith(
    idempotencyKeyHeader,
    value,
    (issues) => new ValidationError(issues.map((issue) => ({ ...issue, path: 'Idempotency-Key' }))),
  );
}

/** `POST /orders`: 201 with the new order, or 200 with the first order when an idempotent request repeats. */
export const handler = httpHandler(async (event) => {
  const idempotencyKey = idempotencyKeyOf(event);
  const customerId = customerIdOf(event);
  const { customerId: named, ...body } = parseJsonBody(event, createOrderBody);
  if (named !== undefined && named !== customerId) throw new CustomerMismatchError();
  const { order, created, timerFailure } = await getOrderService().placeOrder(
    { ...body, customerId },
    idempotencyKey,
  );
  logger.appendKeys({ orderId: order.orderId });
  if (created) countMetric(BusinessMetric.ORDERS_CREATED);
  if (timerFailure !== undefined) {
    logger.error('payment timeout could not be scheduled; the sweeper will cancel the order if unpaid', {
      orderId: order.orderId,
      error: timerFailure instanceof Error ? timerFailure : String(timerFailure),
    });
    countMetric(BusinessMetric.PAYMENT_TIMER_SCHEDULE_FAILED);
  }
  return jsonResponse(created ? 201 : 200, representOrder(order), { location: `/orders/${order.orderId}` });
});
