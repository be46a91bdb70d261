import { getOrderService, logger } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrderWithHistory } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/** `GET /orders/{orderId}`: the order with its timeline, read strongly consistent. */
export const handler = httpHandler(async (event) => {
  const orderId = orderIdParameter(event);
  logger.appendKeys({ orderId });
  const found = await getOrderService().getCustomerOrder(orderId, customerIdOf(event));
  return jsonResponse(200, representOrderWithHistory(found));
});
