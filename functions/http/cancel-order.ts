import { getOrderService } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse, representOrder } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/** `POST /orders/{orderId}/cancel`: only an order still awaiting payment can be cancelled; else 409. */
export const handler = httpHandler(async (event) => {
  const order = await getOrderService().cancelOrder(orderIdParameter(event), customerIdOf(event));
  return jsonResponse(200, representOrder(order));
});
