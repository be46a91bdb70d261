import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { getStatusTracker } from '../composition/logistics';
import { logger } from '../composition-root';
import {
  decodeStatusEvent,
  InvalidStatusEventError,
  OrderNotYetFulfilledError,
  type StatusEvent,
} from '../domain/logistics';

// One processor per execution environment, as Powertools intends; it is reset at the start of every batch.
const processor = new SqsFifoPartialProcessorAsync();

/** Where a record stands in its life on the queue, for every log line about it. */
function recordKeys(record: SQSRecord): Record<string, string | undefined> {
  return {
    messageId: record.messageId,
    messageGroupId: record.attributes.MessageGroupId,
    receiveCount: record.attributes.ApproximateReceiveCount,
  };
}

async function handleRecord(record: SQSRecord): Promise<void> {
  let event: StatusEvent;
  try {
    event = decodeStatusEvent(record.body);
  } catch (error) {
    if (error instanceof InvalidStatusEventError) {
      logger.error('poison message: not a status event; failing it until the queue moves it to its DLQ', {
        ...recordKeys(record),
        code: error.code,
        issues: error.issues,
      });
    }
    throw error;
  }
  const eventKeys = { eventId: event.eventId, orderId: event.orderId, status: event.status };
  try {
    const outcome = await getStatusTracker().apply(event);
    switch (outcome.kind) {
      case 'applied':
        logger.info('status event applied', {
          ...recordKeys(record),
          ...eventKeys,
          version: outcome.version,
        });
        break;
      case 'ignored':
        logger.info('status event ignored', {
          ...recordKeys(record),
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
 * Partial batch responses with `skipGroupOnError`: after the first failure in a message group, the rest of that
 * group in the batch is reported failed unprocessed (one order's reports are never applied out of the order
 * they were queued in), while other groups go on. A poison message (not a status event) is logged with its
 * message id, group and validation issues and failed like any failure; after the queue's `maxReceiveCount`
 * receives its redrive policy moves it to the dead-letter queue (which alarms) and the group flows again. A
 * report redriven from there later cannot regress the order: it is decided against the order's current state.
 * A report still waiting for fulfilment after `maxReceiveCount` receives also lands there (and alarms), from
 * where a redrive applies it.
 */
async function consumeStatusEvents(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const response = await processPartialResponse(event, handleRecord, processor, {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  });
  if (response.batchItemFailures.length > 0) {
    logger.warn('messages reported failed; they return after the visibility timeout', {
      failed: response.batchItemFailures.map((failure) => failure.itemIdentifier),
      batchSize: event.Records.length,
    });
  }
  return response;
}

export const handler = middy(consumeStatusEvents).use(injectLambdaContext(logger, { resetKeys: true }));
