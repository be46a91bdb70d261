import { getPaymentService } from '../composition/payments';
import { logger } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { customerIdOf, orderIdParameter } from './request';

/**
 * `POST /orders/{orderId}/payments`: the order's open payment intent, with what the customer's browser pays it
 * with (`clientSecret`, used with the shop's publishable key by Stripe.js). 201 when the intent was created now
 * (under the order's payment lease), 200 when the order already had one the customer can still pay: asking
 * twice never makes a second intent. 409 when the order cannot be paid.
 */
export const handler = httpHandler(async (event) => {
  const orderId = orderIdParameter(event);
  logger.appendKeys({ orderId });
  const { intent, created } = await getPaymentService().preparePayment(orderId, customerIdOf(event));
  logger.appendKeys({ paymentId: intent.paymentId });
  return jsonResponse(created ? 201 : 200, {
    paymentId: intent.paymentId,
    orderId,
    amount: intent.amount,
    currency: intent.currency,
    status: intent.status,
    clientSecret: intent.clientSecret,
  });
});
