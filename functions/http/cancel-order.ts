import { getOrderService, logger } from '../composition-root';
import { BusinessMetric, countMetric } from '../observability';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrder } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/** `POST /orders/{orderId}/cancel`: only an order still awaiting payment can be cancelled; else 409. */
export const handler = httpHandler(async (event) => {
  const orderId = orderIdParameter(event);
  logger.appendKeys({ orderId });
  const order = await getOrderService().cancelOrder(orderId, customerIdOf(event));
  countMetric(BusinessMetric.ORDERS_CANCELLED_BY_CUSTOMER);
  logger.info('order cancelled by the customer');
  return jsonResponse(200, representOrder(order));
});
