import { EventPublishError, type PublishResult } from '../domain/event-derivation';
import type { OrderEvent } from '../domain/events';

/** Consecutive events sent in one call; `start` is the position of `batch[0]` among all the events. */
export interface EventBatch {
  readonly start: number;
  readonly batch: readonly OrderEvent[];
}

/** The first entry of a batch the service did not accept, by its position in the batch. */
export interface BatchEntryFailure {
  readonly index: number;
  /** The service's own error code for the entry, or a stand-in when the answer does not say. */
  readonly reason: string;
  readonly message: string;
}

/**
 * The publish loop the batch publishers (SQS, EventBridge) share: sends the batches in order and ends at the
 * first batch with a failed entry, or whose call throws, counting as delivered exactly the events before that
 * entry (before the whole batch for a throw), as {@link PublishResult} requires.
 *
 * @param send sends one batch; resolves with its first failed entry, or `undefined` when all were accepted
 */
export async function publishInBatches(
  channel: string,
  events: readonly OrderEvent[],
  batches: Iterable<EventBatch>,
  send: (batch: readonly OrderEvent[]) => Promise<BatchEntryFailure | undefined>,
): Promise<PublishResult> {
  for (const { start, batch } of batches) {
    let failed: BatchEntryFailure | undefined;
    try {
      failed = await send(batch);
    } catch (error) {
      return {
        delivered: start,
        failure: new EventPublishError(
          channel,
          batch[0]?.eventId ?? '',
          error instanceof Error ? error.name : 'UnknownError',
          String(error),
          { cause: error },
        ),
      };
    }
    if (failed !== undefined) {
      return {
        delivered: start + failed.index,
        failure: new EventPublishError(
          channel,
          batch[failed.index]?.eventId ?? '',
          failed.reason,
          failed.message,
        ),
      };
    }
  }
  return { delivered: events.length };
}
