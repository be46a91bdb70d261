import { providerEventOf } from '../adapters/stripe-payment-provider';
import { getPaymentService, webhookSecret } from '../composition/payments';
import { logger } from '../composition-root';
import { ValidationError } from '../domain/errors';
import { PaymentFactSource } from '../domain/payment';
import { countMetric, logOutcome, PAYMENT_OUTCOME_METRICS } from '../observability';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { parseStripeSignedEvent } from './stripe-signed-event';

/**
 * `POST /webhooks/payments`: Stripe's callback, signed in `Stripe-Signature` and verified by the Stripe SDK before
 * anything else is read (401, nothing written). A type we do not handle is acknowledged as ignored, so Stripe
 * stops sending it. The event is applied idempotently and answered 200 at once; the domain reads the intent's
 * state from Stripe rather than trusting the body. A payment the order cannot take is recorded as owing a
 * refund; the refund itself is requested by the order-events consumer from the outbox's RefundRequested.
 */
export const handler = httpHandler(async (event) => {
  const stripeEvent = parseStripeSignedEvent(event, {
    headerName: 'Stripe-Signature',
    secret: await webhookSecret(),
    now: new Date(),
  });
  // Signed, so it comes from Stripe (or whoever holds the secret): a body that is not an event is still a 400.
  const providerEvent = providerEventOf(stripeEvent, (issues) => new ValidationError(issues));
  if (providerEvent === undefined) {
    logger.info('provider event ignored', { eventId: stripeEvent.id, type: stripeEvent.type });
    return jsonResponse(200, { received: true, outcome: 'ignored' });
  }
  logger.appendKeys({ orderId: providerEvent.orderId, paymentId: providerEvent.paymentId });
  const outcome = await getPaymentService().handleProviderEvent(providerEvent, PaymentFactSource.WEBHOOK);
  const metric = PAYMENT_OUTCOME_METRICS[outcome];
  if (metric !== undefined) countMetric(metric);
  // Routine when it made the order PAID: OrdersPaid counts it and the payment records its source.
  logOutcome(outcome === 'paid', 'provider event applied', {
    eventId: providerEvent.id,
    type: providerEvent.type,
    outcome,
  });
  return jsonResponse(200, { received: true, outcome });
});
