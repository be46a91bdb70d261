import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { getFulfillmentTrigger } from '../composition/consumer';
import { logger } from '../composition-root';
import type { OrderEvent } from '../domain/events';
import { decodeOrderEvent, InvalidOrderEventError } from '../domain/fulfillment-trigger';

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
  let event: OrderEvent;
  try {
    event = decodeOrderEvent(record.body);
  } catch (error) {
    if (error instanceof InvalidOrderEventError) {
      logger.error('poison message: not an order event; failing it until the queue moves it to its DLQ', {
        ...recordKeys(record),
        code: error.code,
        issues: error.issues,
      });
    }
    throw error;
  }
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
 * Partial batch responses with `skipGroupOnError`: after the first failure in a message group, the rest of that
 * group in the batch is reported failed unprocessed (so one order's events never apply out of order), while
 * other groups go on. A poison message (a body that is not an event of the catalogue) is logged with its
 * message id, group and validation issues and reported failed like any failure. It blocks its group only for a
 * while: after the queue's `maxReceiveCount` receives, its redrive policy moves it to the dead-letter queue
 * (which alarms) and the group flows again. Because every effect is idempotent and decided from the order's
 * current state, a message redriven from the DLQ later, out of order, cannot regress an order.
 *
 * The full-batch-failure exception is off, so even an all-failed batch is answered with its item failures,
 * which Lambda treats the same as a thrown error but keeps the answer explicit.
 */
async function consumeOrderEvents(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
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

export const handler = middy(consumeOrderEvents).use(injectLambdaContext(logger, { resetKeys: true }));
