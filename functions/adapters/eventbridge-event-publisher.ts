import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import type { OrderEventPublisher, PublishResult } from '../domain/event-derivation';
import type { OrderEvent } from '../domain/events';
import { type EventBatch, publishInBatches } from './batch-event-publishing';

/** PutEvents takes at most ten entries. */
export const EVENTBRIDGE_MAX_BATCH_ENTRIES = 10;

/** The `source` of every event the system puts on its bus; rules of other services match on it. */
export const EVENT_SOURCE = 'order-backbone';

export interface EventBridgeEventPublisherOptions {
  readonly client: EventBridgeClient;
  /** Name or ARN of the bus. */
  readonly eventBusName: string;
}

const CHANNEL = 'eventbridge';

/**
 * Publishes events to an EventBridge bus for other services: source `order-backbone`, detail-type = the event's
 * type, detail = the event's JSON (its `eventId` is what subscribers deduplicate on: EventBridge delivers at
 * least once and keeps no order), time = when the event occurred.
 *
 * Up to ten entries per PutEvents call (the events are a few hundred bytes, far below the call's 256 KB).
 * PutEvents answers entry by entry, in request order; the first call with a failed entry ends the publish
 * (see {@link PublishResult}).
 */
export class EventBridgeEventPublisher implements OrderEventPublisher {
  public constructor(private readonly options: EventBridgeEventPublisherOptions) {}

  public async publish(events: readonly OrderEvent[]): Promise<PublishResult> {
    return await publishInBatches(CHANNEL, events, chunksOf(events), async (batch) => {
      const output = await this.options.client.send(
        new PutEventsCommand({ Entries: batch.map((event) => this.toEntry(event)) }),
      );
      const results = output.Entries ?? [];
      const index = batch.findIndex((_, position) => {
        const result = results[position];
        // No result, or no event id, for an entry means it cannot be counted as delivered.
        return result === undefined || result.ErrorCode !== undefined || result.EventId === undefined;
      });
      if (index >= 0) {
        const result = results[index];
        return {
          index,
          reason: result?.ErrorCode ?? 'NotAcknowledged',
          message: result?.ErrorMessage ?? 'the answer holds no event id for this entry',
        };
      }
      if ((output.FailedEntryCount ?? 0) > 0) {
        // A count the entries do not explain: nothing in this call can be trusted as delivered.
        return { index: 0, reason: 'FailedEntryCount', message: `${output.FailedEntryCount} entries failed` };
      }
      return undefined;
    });
  }

  private toEntry(event: OrderEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.options.eventBusName,
      Source: EVENT_SOURCE,
      DetailType: event.type,
      Detail: JSON.stringify(event),
      Time: new Date(event.occurredAt),
    };
  }
}

/** Consecutive batches of at most ten events. */
function* chunksOf(events: readonly OrderEvent[]): Generator<EventBatch> {
  for (let start = 0; start < events.length; start += EVENTBRIDGE_MAX_BATCH_ENTRIES) {
    yield { start, batch: events.slice(start, start + EVENTBRIDGE_MAX_BATCH_ENTRIES) };
  }
}
