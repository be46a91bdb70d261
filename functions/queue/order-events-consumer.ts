import type { SQSRecord } from 'aws-lambda';
import { getFulfillmentTrigger } from '../composition/consumer';
import { logger } from '../composition-root';
import type { OrderEvent } from '../domain/events';
import { decodeOrderEvent, InvalidOrderEventError } from '../domain/fulfillment-trigger';
import { decodeOrPoison, fifoQueueHandler, recordKeys } from './fifo-queue-handler';

async function handleRecord(record: SQSRecord): Promise<void> {
  const event: OrderEvent = decodeOrPoison(
    record,
    decodeOrderEvent,
    (error): error is InvalidOrderEventError => error instanceof InvalidOrderEventError,
    'an order event',
  );
  const eventKeys = { eventId: event.eventId, type: event.type, orderId: event.orderId };
  try {
    const outcome = await getFulfillmentTrigger().handle(event);
    logger.info('order event handled', { ...recordKeys(record), ...eventKeys, outcome });
  } catch (error) {
    logger.warn('order event failed; it will be delivered again', {
      ...recordKeys(record),
      ...eventKeys,
      error: error instanceof Error ? error : String(error),
    });
    throw error;
  }
}

/**
 * Consumes `order-events.fifo` (one message group per order): starts the fulfilment saga on PaymentSucceeded
 * and requests the refund on RefundRequested (see `FulfillmentTrigger`); acknowledges every other event.
 *
 * Partial batch responses per order group and poison handling are `fifoQueueHandler`'s and `decodeOrPoison`'s.
 * Because every effect is idempotent and decided from the order's current state, a message redriven from the
 * DLQ later, out of order, cannot regress an order.
 */
export const handler = fifoQueueHandler(handleRecord);
