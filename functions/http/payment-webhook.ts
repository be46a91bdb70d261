import { getPaymentService, logger, webhookSecret } from '../composition-root';
import { ValidationError } from '../domain/errors';
import { verifySignature } from '../domain/webhook-signature';
import { MalformedJsonError } from './errors';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { header, issuesOf, rawBody } from './request';
import { providerEventBody } from './schemas';

/**
 * `POST /webhooks/payments`: a payment provider's callback. The signature is checked against the exact bytes
 * received before anything else is read (401, nothing written); then the event is applied idempotently and
 * answered 200 at once, so the provider stops retrying. A payment the order cannot take is recorded as owing
 * a refund; the refund itself is requested by the refund worker, off this path.
 */
export const handler = httpHandler(async (event) => {
  const body = rawBody(event);
  verifySignature({
    header: header(event, 'payment-signature'),
    headerName: 'Payment-Signature',
    rawBody: body,
    secret: await webhookSecret(),
    now: new Date(),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new MalformedJsonError({ cause: error });
  }
  const result = providerEventBody.safeParse(parsed);
  if (!result.success) {
    throw new ValidationError(issuesOf(result.error));
  }
  const providerEvent = result.data;
  logger.appendKeys({ orderId: providerEvent.data.orderId, paymentId: providerEvent.data.paymentId });
  const outcome = await getPaymentService().handleProviderEvent(providerEvent);
  logger.info('provider event applied', { eventId: providerEvent.id, type: providerEvent.type, outcome });
  return jsonResponse(200, { received: true, outcome });
});
