import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { committedChangesOf, type ItemChange } from '../adapters/dynamodb-table';
import { eventBusPublisher, orderEventsQueuePublisher } from '../composition/outbox';
import { logger } from '../composition-root';
import { AppError, ErrorCode } from '../domain/errors';
import { deriveEvents, type EventPublishError, type OrderEventPublisher } from '../domain/event-derivation';
import type { OrderEvent } from '../domain/events';
import { observedHandler } from '../observability';

/** A stream record lacks what every DynamoDB stream record has (its sequence number, its event name). */
export class InvalidStreamRecordError extends AppError {
  public override readonly name = 'InvalidStreamRecordError';
  public readonly code = ErrorCode.INVALID_STREAM_RECORD;
  public readonly retryable = false;
}

/** A stream record with the events it announces. */
export interface DerivedRecord {
  readonly sequenceNumber: string;
  readonly events: readonly OrderEvent[];
}

export interface RelayOutcome {
  /** Index of the first record whose events were not all delivered to every channel; absent when all were. */
  readonly firstUndelivered?: number;
  readonly failure?: EventPublishError;
}

/**
 * Sends the records' events, in record order, through each channel in turn: a channel is only given the events
 * that every channel before it delivered, so each record reaches the queue before the bus, and an event is
 * never on the bus unless it is in the queue.
 */
export async function relayInOrder(
  records: readonly DerivedRecord[],
  channels: readonly OrderEventPublisher[],
): Promise<RelayOutcome> {
  const events = records.flatMap((record) => record.events);
  const recordOf = records.flatMap((record, index) => record.events.map(() => index));
  let delivered = events.length;
  let failure: EventPublishError | undefined;
  for (const channel of channels) {
    if (delivered === 0) break;
    const result = await channel.publish(events.slice(0, delivered));
    if (result.delivered < delivered) {
      delivered = result.delivered;
      failure = result.failure;
    }
  }
  const firstUndelivered = recordOf[delivered];
  return firstUndelivered === undefined ? {} : { firstUndelivered, ...(failure && { failure }) };
}

/**
 * The outbox relay: publishes the domain events of every committed change of the orders table, read from its
 * stream, to the order-events FIFO queue and then to the event bus. The event exists because the write
 * committed, never otherwise.
 *
 * Every record is decoded (by the table adapter's strict decoder) and derived before anything is sent, so a
 * malformed record throws (`MalformedStreamItemError`, `InvalidDerivedEventError`) and publishes nothing; the
 * event source then bisects the batch and retries, and finally hands the poison record to its on-failure
 * destination.
 *
 * A delivery failure (a `Failed` entry of SendMessageBatch, an entry of PutEvents with an error code, or a
 * thrown error) reports the first record whose events were not all published, and every record after it, as
 * batch item failures. The stream resumes from the earliest one, so events stay in order per shard, and
 * therefore per order. A retried record's events that did go out before are sent again: the FIFO queue drops
 * them by their deduplication id (the event id) within its five-minute window, and consumers, which dedupe on
 * the event id too, absorb any copy beyond it. The bus delivers at least once anyway; its subscribers dedupe.
 */
async function relayOutbox(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const records = event.Records.map((record, position): DerivedRecord => {
    const { sequenceNumber, change } = parseRecord(record, position);
    return { sequenceNumber, events: committedChangesOf(change).flatMap(deriveEvents) };
  });
  const outcome = await relayInOrder(records, [orderEventsQueuePublisher(), eventBusPublisher()]);
  if (outcome.firstUndelivered === undefined) {
    return { batchItemFailures: [] };
  }
  const failed = records.slice(outcome.firstUndelivered);
  const failedEvent = failed[0]?.events.find((candidate) => candidate.eventId === outcome.failure?.eventId);
  if (failedEvent !== undefined) {
    // The event id is the correlation id its consumers log too (it is the FIFO message's deduplication id).
    logger.appendKeys({ orderId: failedEvent.orderId });
    logger.setCorrelationId(failedEvent.eventId);
  }
  logger.warn('events not delivered; the stream resumes from the first record not fully published', {
    sequenceNumber: failed[0]?.sequenceNumber,
    failedRecords: failed.length,
    channel: outcome.failure?.channel,
    eventId: outcome.failure?.eventId,
    reason: outcome.failure?.reason,
    error: outcome.failure,
  });
  return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.sequenceNumber })) };
}

type Image = Record<string, AttributeValue> | undefined;

function parseRecord(
  record: DynamoDBRecord,
  position: number,
): { readonly sequenceNumber: string; readonly change: ItemChange } {
  const stream = record.dynamodb;
  const sequenceNumber = stream?.SequenceNumber;
  if (sequenceNumber === undefined || record.eventName === undefined) {
    throw new InvalidStreamRecordError(`stream record ${position} has no sequence number or event name`);
  }
  const oldImage = imageOf(stream?.OldImage);
  const newImage = imageOf(stream?.NewImage);
  return {
    sequenceNumber,
    change: { eventName: record.eventName, ...(oldImage && { oldImage }), ...(newImage && { newImage }) },
  };
}

function imageOf(image: Image): Record<string, unknown> | undefined {
  // The stream's AttributeValue type and the SDK's differ only in how they spell the union.
  return image === undefined ? undefined : unmarshall(image as Parameters<typeof unmarshall>[0]);
}

/** A batch spans many orders: its lines name the order they are about rather than one for the invocation. */
export const handler = observedHandler(relayOutbox);
