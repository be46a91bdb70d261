import { getPaymentService, logger, webhookSecret } from '../composition-root';
import type { ProviderEventOutcome } from '../domain/payment-service';
import { BusinessMetric, countMetric } from '../observability';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { parseSignedJsonBody } from './request';
import { providerEventBody } from './schemas';

/** The outcomes that are business events; the rest (duplicates, ignored events, failures) change no count. */
const OUTCOME_METRICS: Readonly<Record<ProviderEventOutcome, BusinessMetric | undefined>> = {
  paid: BusinessMetric.ORDERS_PAID,
  refundPending: BusinessMetric.REFUNDS_REQUESTED,
  refunded: BusinessMetric.PAYMENTS_REFUNDED,
  failureRecorded: undefined,
  duplicate: undefined,
  ignored: undefined,
};

/**
 * `POST /webhooks/payments`: a payment provider's callback, signed in `Payment-Signature` (checked before
 * anything else is read: 401, nothing written). The event is applied idempotently and answered 200 at once,
 * so the provider stops retrying. A payment the order cannot take is recorded as owing a refund; the refund
 * itself is requested by the order-events consumer from the outbox's RefundRequested, off this path.
 */
export const handler = httpHandler(async (event) => {
  const providerEvent = parseSignedJsonBody(event, {
    headerName: 'Payment-Signature',
    secret: await webhookSecret(),
    schema: providerEventBody,
    now: new Date(),
  });
  logger.appendKeys({ orderId: providerEvent.data.orderId, paymentId: providerEvent.data.paymentId });
  const outcome = await getPaymentService().handleProviderEvent(providerEvent);
  const metric = OUTCOME_METRICS[outcome];
  if (metric !== undefined) countMetric(metric);
  logger.info('provider event applied', { eventId: providerEvent.id, type: providerEvent.type, outcome });
  return jsonResponse(200, { received: true, outcome });
});
