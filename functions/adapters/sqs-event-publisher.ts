import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { OrderEventPublisher, PublishResult } from '../domain/event-derivation';
import type { OrderEvent } from '../domain/events';
import { type EventBatch, publishInBatches } from './batch-event-publishing';

/** SendMessageBatch takes at most ten entries. */
export const SQS_MAX_BATCH_ENTRIES = 10;

export interface SqsEventPublisherOptions {
  readonly client: SQSClient;
  /** URL of a FIFO queue (content-based deduplication need not be on: every message names its own id). */
  readonly queueUrl: string;
}

const CHANNEL = 'sqs';

/**
 * Publishes events to an SQS FIFO queue: message group = the order id, so one order's events are consumed one
 * at a time and in order; deduplication id = the event id, so a resend within SQS's five-minute window is
 * dropped by the queue; body = the event's JSON; message attribute `eventType` = its type, for filtering
 * without parsing.
 *
 * Batches hold up to ten messages and never two of the same group. SQS reports each entry of a batch on its
 * own, and nothing promises that a group's later entry fails when an earlier one does; with one message per
 * group per call, a failure can never let an order's later event overtake the failed one in the queue.
 * The first call with a failed entry ends the publish (see {@link PublishResult}).
 */
export class SqsEventPublisher implements OrderEventPublisher {
  public constructor(private readonly options: SqsEventPublisherOptions) {}

  public async publish(events: readonly OrderEvent[]): Promise<PublishResult> {
    return await publishInBatches(CHANNEL, events, batchesOf(events), async (batch) => {
      const entries = batch.map((event, index) => toEntry(event, index));
      const output = await this.options.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.options.queueUrl, Entries: entries }),
      );
      const succeeded = new Set((output.Successful ?? []).map((entry) => entry.Id));
      const reported = new Map((output.Failed ?? []).map((entry) => [entry.Id, entry]));
      // An entry the answer does not list as successful is treated as failed: it must be sent again.
      const index = entries.findIndex((entry) => !succeeded.has(entry.Id) || reported.has(entry.Id));
      if (index < 0) return undefined;
      const failure = reported.get(entries[index]?.Id);
      return {
        index,
        reason: failure?.Code ?? 'NotAcknowledged',
        message: failure?.Message ?? 'the batch answer does not list this entry as sent',
      };
    });
  }
}

function toEntry(event: OrderEvent, index: number): SendMessageBatchRequestEntry {
  return {
    // Entry ids allow only letters, digits, '-' and '_', so the position stands in for the event id.
    Id: `m${index}`,
    MessageBody: JSON.stringify(event),
    MessageGroupId: event.orderId,
    MessageDeduplicationId: event.eventId,
    MessageAttributes: { eventType: { DataType: 'String', StringValue: event.type } },
  };
}

/** Consecutive batches of at most ten events, a new one begun whenever an order would appear twice. */
function* batchesOf(events: readonly OrderEvent[]): Generator<EventBatch> {
  let start = 0;
  let batch: OrderEvent[] = [];
  let groups = new Set<string>();
  for (const [index, event] of events.entries()) {
    if (batch.length === SQS_MAX_BATCH_ENTRIES || groups.has(event.orderId)) {
      yield { start, batch };
      start = index;
      batch = [];
      groups = new Set();
    }
    batch.push(event);
    groups.add(event.orderId);
  }
  if (batch.length > 0) {
    yield { start, batch };
  }
}
