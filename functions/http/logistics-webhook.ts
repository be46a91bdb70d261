import { logisticsWebhookSecret, statusEventSender } from '../composition/logistics';
import { logger } from '../composition-root';
import { httpHandler } from './http-handler';
import { jsonResponse } from './order-representation';
import { parseSignedJsonBody } from './request';
import { logisticsEventBody } from './schemas';

/**
 * `POST /webhooks/logistics`: the warehouse's and the carrier's status reports (OUTBOUND, SHIPPED, DELIVERED).
 * The size (413) and the `Logistics-Signature` (Stripe's scheme, its own secret; 401) are checked against the
 * exact bytes received before anything else is read; then the JSON (400 MALFORMED_JSON) and its shape (400
 * VALIDATION_FAILED). A valid report is only queued on `status-events.fifo` (group = order id, deduplication
 * id = event id) and answered 202: the status consumer applies it in order per order, forward only. Nothing
 * is queued on any rejection.
 */
export const handler = httpHandler(async (event) => {
  const statusEvent = parseSignedJsonBody(event, {
    headerName: 'Logistics-Signature',
    secret: await logisticsWebhookSecret(),
    schema: logisticsEventBody,
    now: new Date(),
  });
  logger.appendKeys({ orderId: statusEvent.orderId });
  await statusEventSender().send(statusEvent);
  // Debug only: the access log has every request, and the consumer's outcome (the timeline entry naming the
  // event id, or its own line) has every report.
  logger.debug('status event accepted', { eventId: statusEvent.eventId, status: statusEvent.status });
  return jsonResponse(202, { accepted: true, eventId: statusEvent.eventId });
});
