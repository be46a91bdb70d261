import { getOrderService } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrderWithHistory } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/** `GET /orders/{orderId}`: the order with its timeline, read strongly consistent. */
export const handler = httpHandler(async (event) => {
  const found = await getOrderService().getCustomerOrder(orderIdParameter(event), customerIdOf(event));
  return jsonResponse(200, representOrderWithHistory(found));
});
