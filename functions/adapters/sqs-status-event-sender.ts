import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { StatusEvent, StatusEventSender } from '../domain/logistics';

export interface SqsStatusEventSenderOptions {
  readonly client: SQSClient;
  /** URL of the FIFO queue `status-events.fifo` (content-based deduplication need not be on). */
  readonly queueUrl: string;
}

/**
 * Sends status events to an SQS FIFO queue: message group = the order id, so one order's reports are applied
 * one at a time and in the order they were accepted; deduplication id = the provider's event id, so a
 * provider's retry within SQS's five-minute window is dropped by the queue (a later one is recognised by the
 * consumer as a duplicate); body = the validated event's JSON; message attribute `status`, for filtering
 * without parsing.
 */
export class SqsStatusEventSender implements StatusEventSender {
  public constructor(private readonly options: SqsStatusEventSenderOptions) {}

  public async send(event: StatusEvent): Promise<void> {
    await this.options.client.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.orderId,
        MessageDeduplicationId: event.eventId,
        MessageAttributes: { status: { DataType: 'String', StringValue: event.status } },
      }),
    );
  }
}
