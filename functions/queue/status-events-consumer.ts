import type { SQSRecord } from 'aws-lambda';
import { getStatusTracker } from '../composition/logistics';
import { logger } from '../composition-root';
import { decodeStatusEvent, OrderNotYetFulfilledError, type StatusEvent } from '../domain/logistics';
import { decodeOrPoison, fifoQueueHandler, recordKeys } from './fifo-queue-handler';

async function handleRecord(record: SQSRecord): Promise<void> {
  const event: StatusEvent = decodeOrPoison(record, decodeStatusEvent, 'a status event');
  const eventKeys = { eventId: event.eventId, orderId: event.orderId, status: event.status };
  try {
    const outcome = await getStatusTracker().apply(event);
    switch (outcome.kind) {
      case 'applied':
        // Debug only: the move is the order's timeline entry (naming the report, see `ops order`) and its bus
        // event, so an INFO line per report would say it a third time. The message's id, group (the order) and
        // receive count only on the lines of a record that returns.
        logger.debug('status event applied', { ...eventKeys, version: outcome.version });
        break;
      case 'ignored':
        // The only trace of a report that changed nothing: nothing stored, no event.
        logger.info('status event ignored', {
          ...eventKeys,
          reason: outcome.reason,
          orderStatus: outcome.status,
        });
        break;
      case 'cannotApply':
        logger.warn('status event for an order that can never reach it; acknowledged', {
          ...recordKeys(record),
          ...eventKeys,
          orderStatus: outcome.status,
        });
        break;
    }
  } catch (error) {
    if (error instanceof OrderNotYetFulfilledError) {
      logger.info('status event ahead of fulfilment; it will be delivered again', {
        ...recordKeys(record),
        ...eventKeys,
        code: error.code,
        orderStatus: error.status,
      });
    } else {
      logger.warn('status event failed; it will be delivered again', {
        ...recordKeys(record),
        ...eventKeys,
        error: error instanceof Error ? error : String(error),
      });
    }
    throw error;
  }
}

/**
 * Consumes `status-events.fifo` (one message group per order) and applies each logistics report forward only
 * (see `StatusTracker`): a report at or below the order's status is acknowledged and ignored, a report for an
 * order that has not reached FULFILLED yet is failed so that it returns after the visibility timeout (with the
 * order's later reports held behind it in the group), a report for a CANCELLED or FULFILLMENT_FAILED order is
 * acknowledged with a warning.
 *
 * Partial batch responses per order group and poison handling are `fifoQueueHandler`'s and `decodeOrPoison`'s. A
 * report redriven from there later cannot regress the order: it is decided against the order's current state.
 * A report still waiting for fulfilment after `maxReceiveCount` receives also lands there (and alarms), from
 * where a redrive applies it.
 */
export const handler = fifoQueueHandler(handleRecord);
