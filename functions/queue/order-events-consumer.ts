import type { SQSRecord } from 'aws-lambda';
import { getFulfillmentTrigger } from '../composition/consumer';
import { logger } from '../composition-root';
import { SagaStart } from '../domain/consumer-ports';
import type { OrderEvent } from '../domain/events';
import { decodeOrderEvent, type OrderEventOutcome } from '../domain/fulfillment-trigger';
import { logOutcome } from '../observability';
import { decodeOrPoison, fifoQueueHandler, recordKeys } from './fifo-queue-handler';

/**
 * What an outcome adds to the line that already names the order and the event: its kind, and only the facts the
 * order and the event do not say (the saga's start, the status that made the event stale, the refund).
 */
export function outcomeKeys(outcome: OrderEventOutcome): Record<string, string | boolean> {
  switch (outcome.kind) {
    case 'fulfillmentStarted':
      return { outcome: outcome.kind, saga: outcome.saga, movedToFulfilling: outcome.movedToFulfilling };
    case 'staleEvent':
      return { outcome: outcome.kind, orderStatus: outcome.status };
    case 'refundRequested':
      return { outcome: outcome.kind, paymentId: outcome.paymentId, refundId: outcome.refundId };
    case 'notForThisConsumer':
      return { outcome: outcome.kind };
  }
}

/**
 * Routine, so logged at DEBUG: a saga started for a PAID order, and the events other consumers act on (most of
 * the queue); the order's timeline, its saga and Step Functions' `ExecutionsStarted` say them. A start on an
 * order already FULFILLING or a saga already started (a duplicate, a crash recovered), a stale event and a
 * refund are not routine.
 */
export function isRoutine(outcome: OrderEventOutcome): boolean {
  switch (outcome.kind) {
    case 'fulfillmentStarted':
      return outcome.movedToFulfilling && outcome.saga === SagaStart.STARTED;
    case 'notForThisConsumer':
      return true;
    case 'staleEvent':
    case 'refundRequested':
      return false;
  }
}

async function handleRecord(record: SQSRecord): Promise<void> {
  const event: OrderEvent = decodeOrPoison(record, decodeOrderEvent, 'an order event');
  const eventKeys = { eventId: event.eventId, type: event.type, orderId: event.orderId };
  try {
    const outcome = await getFulfillmentTrigger().handle(event);
    // One line per event: the order, the event and what came of it. The message's id, group (the order) and
    // receive count go on the failure lines, where they find it on the queue or in the DLQ.
    logOutcome(isRoutine(outcome), 'order event handled', { ...eventKeys, ...outcomeKeys(outcome) });
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
