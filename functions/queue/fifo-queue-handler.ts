import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '../composition-root';
import { SchemaViolationError } from '../domain/errors';
import { observedHandler } from '../observability';

/** Where a record stands in its life on the queue, for every log line about it. */
export function recordKeys(record: SQSRecord): Record<string, string | undefined> {
  return {
    messageId: record.messageId,
    messageGroupId: record.attributes.MessageGroupId,
    receiveCount: record.attributes.ApproximateReceiveCount,
  };
}

/**
 * Decodes a record's body; a body that is not a valid message (the decoder throws a schema violation) is poison: logged with its message id, group,
 * receive count and issues, and rethrown so it is failed like any failure. After the queue's maxReceiveCount
 * receives its redrive policy moves it to the dead-letter queue (which alarms), and its group flows again.
 */
export function decodeOrPoison<T>(record: SQSRecord, decode: (body: string) => T, kind: string): T {
  try {
    return decode(record.body);
  } catch (error) {
    if (error instanceof SchemaViolationError) {
      logger.error(`poison message: not ${kind}; failing it until the queue moves it to its DLQ`, {
        ...recordKeys(record),
        code: error.code,
        issues: error.issues,
      });
    }
    throw error;
  }
}

/**
 * Every log line about a record carries its order (the message group: both queues group by order id) and, as
 * correlation id, its deduplication id, which our producers set to the event id: the same id the outbox relay
 * and the logistics webhook logged when they sent it. Removed again after the record, so the batch's own lines
 * name no order.
 */
function withRecordKeys(handleRecord: (record: SQSRecord) => Promise<void>) {
  return async (record: SQSRecord): Promise<void> => {
    logger.appendKeys({ orderId: record.attributes.MessageGroupId });
    logger.setCorrelationId(record.attributes.MessageDeduplicationId ?? record.messageId);
    try {
      await handleRecord(record);
    } finally {
      logger.removeKeys(['orderId', 'correlation_id']);
    }
  };
}

/**
 * A Lambda handler for a FIFO queue whose message groups are orders: Powertools' `SqsFifoPartialProcessorAsync`
 * with `skipGroupOnError`, so after the first failure in a group the rest of that group in the batch is reported
 * failed unprocessed (one order's messages are never applied out of order) while other groups go on. The
 * full-batch-failure exception is off: an all-failed batch is answered with its item failures too, which
 * Lambda treats like a thrown error but keeps the answer explicit.
 */
export function fifoQueueHandler(handleRecord: (record: SQSRecord) => Promise<void>) {
  // One processor per execution environment, as Powertools intends; it is reset at the start of every batch.
  const processor = new SqsFifoPartialProcessorAsync();
  const consume = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const response = await processPartialResponse(event, withRecordKeys(handleRecord), processor, {
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
  };
  return observedHandler(consume);
}
