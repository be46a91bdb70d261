import { getOrderService } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrderWithHistory } from './order-representation';
import { orderIdParameter } from './request';

/** `GET /orders/{orderId}`: the order with its timeline, read strongly consistent. */
export const handler = httpHandler(async (event) => {
  const found = await getOrderService().getOrder(orderIdParameter(event));
  return jsonResponse(200, representOrderWithHistory(found));
});
