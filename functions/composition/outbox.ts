import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeEventPublisher } from '../adapters/eventbridge-event-publisher';
import { SqsEventPublisher } from '../adapters/sqs-event-publisher';
import { once, tracer } from '../composition-root';
import { loadConfig } from '../config';
import type { OrderEventPublisher } from '../domain/event-derivation';

/**
 * What only the outbox relay uses: its SQS and EventBridge clients and the two publishers built on them, each
 * built once per execution environment on first use. Endpoints come from the SDK's own configuration
 * (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_EVENTBRIDGE`), so the same code reaches fauxqs and the local
 * EventBridge on a laptop.
 */

/** The relay's environment; a missing or malformed value fails loudly on first use. */
export const outboxConfig = once(() => loadConfig('outbox', process.env));

/** The relay's SQS client. Exported so that tests can add middleware to it (fault injection). */
export const outboxSqsClient = once(() => tracer.captureAWSv3Client(new SQSClient({})));

/** The relay's EventBridge client. Exported so that tests can add middleware to it (fault injection). */
export const outboxEventBridgeClient = once(() => tracer.captureAWSv3Client(new EventBridgeClient({})));

/** The order-events FIFO queue, where this system's own consumers read events in order per order. */
export const orderEventsQueuePublisher = once(
  (): OrderEventPublisher =>
    new SqsEventPublisher({ client: outboxSqsClient(), queueUrl: outboxConfig().ORDER_EVENTS_QUEUE_URL }),
);

/** The event bus, where other services subscribe. */
export const eventBusPublisher = once(
  (): OrderEventPublisher =>
    new EventBridgeEventPublisher({
      client: outboxEventBridgeClient(),
      eventBusName: outboxConfig().EVENT_BUS_NAME,
    }),
);
