import { getPaymentService, logger } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/**
 * `POST /orders/{orderId}/payments`: a payment intent at the provider, created under the order's payment
 * lease. 409 when the order cannot be paid or a payment is being prepared for it right now.
 */
export const handler = httpHandler(async (event) => {
  const orderId = orderIdParameter(event);
  logger.appendKeys({ orderId });
  const intent = await getPaymentService().preparePayment(orderId, customerIdOf(event));
  return jsonResponse(201, {
    paymentId: intent.paymentId,
    orderId: intent.orderId,
    amount: intent.amount,
    currency: intent.currency,
  });
});
