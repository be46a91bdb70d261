import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { SqsStatusEventSender } from '../adapters/sqs-status-event-sender';
import { getOrderService, once, secretValue, tracer } from '../composition-root';
import { ConfigurationError } from '../config';
import { type StatusEventSender, StatusTracker } from '../domain/logistics';

/**
 * What only the logistics functions use: the webhook's secret and its sender to `status-events.fifo`, and the
 * status consumer's tracker, each built once per execution environment on first use (so the webhook needs no
 * table and the consumer no queue URL). The SQS endpoint comes from the SDK's own configuration
 * (`AWS_ENDPOINT_URL_SQS` locally).
 */

const webhookSettings = z.object({
  STATUS_EVENTS_QUEUE_URL: z.url(),
});

/** The webhook's environment; a missing or malformed value fails loudly on first use. */
export const logisticsWebhookConfig = once(() => {
  const result = webhookSettings.safeParse(process.env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigurationError(`invalid function environment (logistics webhook): ${problems.join('; ')}`);
  }
  return result.data;
});

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

export const getStatusTracker = once(() => new StatusTracker({ orders: getOrderService() }));
