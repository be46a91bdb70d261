import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsStatusEventSender } from '../adapters/sqs-status-event-sender';
import { once, orderRepository, secretValue, systemClock, tracer } from '../composition-root';
import { loadConfig } from '../config';
import { type StatusEventSender, StatusTracker } from '../domain/logistics';

/**
 * What only the logistics functions use: the webhook's secret and its sender to `status-events.fifo`, and the
 * status consumer's tracker, each built once per execution environment on first use (so the webhook needs no
 * table and the consumer no queue URL). The SQS endpoint comes from the SDK's own configuration
 * (`AWS_ENDPOINT_URL_SQS` locally).
 */

/** The webhook's environment; a missing or malformed value fails loudly on first use. */
export const logisticsWebhookConfig = once(() => loadConfig('logisticsWebhook', process.env));

/** The logistics provider's signing secret, cached by Powertools Parameters between invocations in AWS. */
export function logisticsWebhookSecret(): Promise<string> {
  return secretValue('LOGISTICS_WEBHOOK_SECRET');
}

/** The webhook's SQS client. Exported so that tests can add middleware to it (fault injection). */
export const logisticsSqsClient = once(() => tracer.captureAWSv3Client(new SQSClient({})));

export const statusEventSender = once(
  (): StatusEventSender =>
    new SqsStatusEventSender({
      client: logisticsSqsClient(),
      queueUrl: logisticsWebhookConfig().STATUS_EVENTS_QUEUE_URL,
    }),
);

export const getStatusTracker = once(
  () => new StatusTracker({ orders: orderRepository(), clock: systemClock }),
);
