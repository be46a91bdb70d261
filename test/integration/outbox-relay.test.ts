import {
  CreateEventBusCommand,
  EventBridgeClient,
  type PutEventsCommandInput,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type {
  Context,
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  AttributeValue as LambdaAttributeValue,
} from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTITY,
  historyEntry,
  type Item,
  keys,
  MalformedStreamItemError,
  paymentItem,
} from '../../functions/adapters/dynamodb-table';
import { ErrorCode } from '../../functions/domain/errors';
import type { OrderEvent } from '../../functions/domain/events';
import { newOrder, type Order, type OrderTransition, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { type PaymentStatus, paymentFrom } from '../../functions/domain/payment';
import {
  type LocalEvent,
  type LocalEventBridge,
  startLocalEventBridge,
} from '../../lib/local/aws/eventbridge';
import { type CreatedQueue, createQueues } from '../../lib/local/aws/resources';
import { type SqsLocal, startSqsLocal } from '../../lib/local/aws/sqs-local';
import { appModel } from '../../lib/model';

const REGION = 'eu-west-1';
const ACCOUNT = '000000000000';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const QUEUE_NAME = 'order-events.fifo';
const BUS_NAME = 'order-backbone-events';
const FAULT = 'test-fault-injection';
const NOW = new Date('2026-11-28T10:00:00.000Z');

type RelayHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;
type OutboxComposition = typeof import('../../functions/composition/outbox');

const lambdaContext = {
  functionName: 'outbox-relay',
  awsRequestId: 'test-request',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

let sqsLocal: SqsLocal;
let eventBridge: LocalEventBridge;
let sqs: SQSClient;
let queue: CreatedQueue;
let relay: RelayHandler;
let outbox: OutboxComposition;
const savedEnvironment = { ...process.env };

beforeAll(async () => {
  [sqsLocal, eventBridge] = await Promise.all([
    startSqsLocal(),
    startLocalEventBridge({ region: REGION, accountId: ACCOUNT }),
  ]);
  sqs = new SQSClient({ endpoint: sqsLocal.endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  const declaration = appModel.queues.find((candidate) => candidate.name === QUEUE_NAME);
  if (declaration === undefined) throw new Error(`lib/model.ts declares no ${QUEUE_NAME}`);
  const created = (await createQueues(sqs, [declaration]))[QUEUE_NAME];
  if (created === undefined) throw new Error('createQueues returned nothing for the order-events queue');
  queue = created;
  const buses = new EventBridgeClient({
    endpoint: eventBridge.url,
    region: REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  await buses.send(new CreateEventBusCommand({ Name: BUS_NAME }));
  buses.destroy();

  // Before the import: the logger reads its level, and the clients their endpoints, from here.
  Object.assign(process.env, {
    ORDER_EVENTS_QUEUE_URL: queue.url,
    EVENT_BUS_NAME: BUS_NAME,
    AWS_ENDPOINT_URL_SQS: sqsLocal.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const relayModule = await import('../../functions/stream/outbox-relay');
  relay = relayModule.handler as unknown as RelayHandler;
  outbox = await import('../../functions/composition/outbox');
});

afterEach(() => {
  // A test that failed half-way must not leave its fault on the shared clients.
  outbox.outboxSqsClient().middlewareStack.remove(FAULT);
  outbox.outboxEventBridgeClient().middlewareStack.remove(FAULT);
});

afterAll(async () => {
  outbox?.outboxSqsClient().destroy();
  outbox?.outboxEventBridgeClient().destroy();
  sqs?.destroy();
  await Promise.all([sqsLocal?.stop(), eventBridge?.stop()]);
  process.env = savedEnvironment;
});

// ---------------------------------------------------------------------------------------------------------
// Building stream records as the table's stream would carry them

let sequence = 0;

function record(eventName: 'INSERT' | 'MODIFY' | 'REMOVE', newItem?: Item, oldItem?: Item): DynamoDBRecord {
  sequence += 1;
  const item = newItem ?? oldItem ?? {};
  // The stream's AttributeValue type and the SDK's differ only in how they spell the union.
  const image = (value: Item | undefined) =>
    value === undefined
      ? undefined
      : (marshall(value, { removeUndefinedValues: true }) as Record<string, LambdaAttributeValue>);
  return {
    eventID: `event-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: REGION,
    eventSourceARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/orders/stream/2026-11-28T00:00:00.000`,
    dynamodb: {
      ApproximateCreationDateTime: NOW.getTime() / 1000,
      Keys: image({ PK: item.PK, SK: item.SK }),
      ...(newItem !== undefined && { NewImage: image(newItem) }),
      ...(oldItem !== undefined && { OldImage: image(oldItem) }),
      SequenceNumber: String(sequence).padStart(21, '0'),
      SizeBytes: 256,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

function streamEvent(records: readonly DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: [...records] };
}

function sequenceNumbers(records: readonly DynamoDBRecord[]): { itemIdentifier: string }[] {
  return records.map((entry) => ({ itemIdentifier: entry.dynamodb?.SequenceNumber ?? '' }));
}

/** The order item as the repository writes it: the order and its timeline up to its version. */
function orderItem(order: Order, ...timeline: OrderTransition[]): Item {
  return {
    ...keys.order(order.orderId),
    entityType: ENTITY.order,
    ...order,
    history: timeline.map(historyEntry),
  };
}

/** One order's story: its states, each as the item the repository would write. */
function story(orderId: string) {
  const { order: placed, created } = newOrder(
    { customerId: 'customer-1', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 1200 }] },
    { orderId, now: NOW, paymentTimeoutSeconds: 1800 },
  );
  const paid = transition(placed, OrderStatus.PAID, new Date(NOW.getTime() + 1000), 'paid');
  const fulfilling = transition(paid.next, OrderStatus.FULFILLING, new Date(NOW.getTime() + 2000), 'saga');
  const cancelled = transition(placed, OrderStatus.CANCELLED, new Date(NOW.getTime() + 3000), 'timeout');
  const placedItem = orderItem(placed, created);
  const paidItem = orderItem(paid.next, created, paid.transition);
  const payment = (status: PaymentStatus) =>
    paymentItem(
      paymentFrom(
        { paymentId: `pi-${orderId}`, orderId, amount: 1200, currency: 'EUR' },
        status,
        new Date(NOW.getTime() + 1000),
      ),
    );
  return {
    placedRecord: () => record('INSERT', placedItem),
    leaseRecord: () =>
      record('INSERT', {
        ...keys.lease(orderId),
        entityType: ENTITY.lease,
        orderId,
        leaseOwner: 'checkout',
        leaseExpiresAt: NOW.getTime() + 30_000,
        fencingToken: 1,
      }),
    paidRecord: () => record('MODIFY', paidItem, placedItem),
    fulfillingRecord: () =>
      record('MODIFY', orderItem(fulfilling.next, created, paid.transition, fulfilling.transition), paidItem),
    cancelledRecord: () =>
      record('MODIFY', orderItem(cancelled.next, created, cancelled.transition), placedItem),
    intentRecord: () => record('INSERT', payment('PENDING')),
    paymentSucceededRecord: () => record('MODIFY', payment('SUCCEEDED'), payment('PENDING')),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Reading what was published

interface QueuedMessage {
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly eventType: string | undefined;
  readonly event: OrderEvent;
}

/** Receives and deletes every message in the queue, in the order SQS hands them out. */
async function drainQueue(): Promise<QueuedMessage[]> {
  const drained: QueuedMessage[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return drained;
    for (const message of Messages) {
      drained.push({
        groupId: message.Attributes?.MessageGroupId,
        deduplicationId: message.Attributes?.MessageDeduplicationId,
        eventType: message.MessageAttributes?.eventType?.StringValue,
        event: JSON.parse(message.Body ?? 'null') as OrderEvent,
      });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

function eventIdsByGroup(messages: readonly QueuedMessage[]): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const message of messages) {
    const group = message.groupId ?? '(none)';
    groups[group] = [...(groups[group] ?? []), message.event.eventId];
  }
  return groups;
}

function busEventsOf(orderIds: readonly string[]): LocalEvent[] {
  return eventBridge.events().filter((event) => {
    const detail = event.detail as { readonly orderId?: string };
    return event.eventBusName === BUS_NAME && orderIds.includes(detail.orderId ?? '');
  });
}

function busEventIds(orderIds: readonly string[]): string[] {
  return busEventsOf(orderIds).map((event) => (event.detail as { readonly eventId: string }).eventId);
}

// ---------------------------------------------------------------------------------------------------------
// Test-only faults, as AWS SDK middleware on the relay's own clients

/** The next SendMessageBatch that carries `eventId` reports that entry as Failed (it is not sent). */
function failSqsEntry(eventId: string): void {
  outbox.outboxSqsClient().middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      const input = args.input as SendMessageBatchCommandInput;
      const entries = input.Entries ?? [];
      const target = entries.find((entry) => entry.MessageDeduplicationId === eventId);
      if (target === undefined) return next(args);
      const rest = entries.filter((entry) => entry !== target);
      const failed = { Id: target.Id, SenderFault: false, Code: 'InternalError', Message: 'injected fault' };
      if (rest.length === 0) {
        const output: SendMessageBatchCommandOutput = { Successful: [], Failed: [failed], $metadata: {} };
        return { output, response: undefined };
      }
      const result = await next({ ...args, input: { ...input, Entries: rest } });
      const output = result.output as SendMessageBatchCommandOutput;
      return { ...result, output: { ...output, Failed: [...(output.Failed ?? []), failed] } };
    },
    { step: 'initialize', name: FAULT },
  );
}

/** Every PutEvents that carries `eventId` reports that entry as failed (it is not put); the others go through. */
function failBusEntry(eventId: string): void {
  outbox.outboxEventBridgeClient().middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutEventsCommand') return next(args);
      const input = args.input as PutEventsCommandInput;
      const entries = input.Entries ?? [];
      const index = entries.findIndex((entry) => entry.Detail?.includes(`"eventId":"${eventId}"`) === true);
      if (index < 0) return next(args);
      const failed = { ErrorCode: 'InternalFailure', ErrorMessage: 'injected fault' };
      const rest = entries.filter((_, position) => position !== index);
      if (rest.length === 0) {
        const output: PutEventsCommandOutput = { FailedEntryCount: 1, Entries: [failed], $metadata: {} };
        return { output, response: undefined };
      }
      const result = await next({ ...args, input: { ...input, Entries: rest } });
      const output = result.output as PutEventsCommandOutput;
      // PutEvents answers entry by entry in request order: put the failure back where its entry was.
      const answered = [...(output.Entries ?? [])];
      answered.splice(index, 0, failed);
      return {
        ...result,
        output: { ...output, FailedEntryCount: (output.FailedEntryCount ?? 0) + 1, Entries: answered },
      };
    },
    { step: 'initialize', name: FAULT },
  );
}

/** Every PutEvents call throws, as a throttled or unreachable service would make it. */
function throwOnPutEvents(): void {
  outbox.outboxEventBridgeClient().middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'PutEventsCommand') return next(args);
      throw Object.assign(new Error('injected: rate exceeded'), { name: 'ThrottlingException' });
    },
    { step: 'initialize', name: FAULT },
  );
}

// ---------------------------------------------------------------------------------------------------------

describe('the outbox relay handler', () => {
  it('publishes each record`s events to the FIFO queue in order per order, and to the bus', async () => {
    // Prepare: one order's whole story amid bookkeeping items, plus enough other orders for several calls
    const a = story('RELAY-A');
    const others = Array.from({ length: 11 }, (_, index) => `RELAY-B${index}`);
    const records = [
      a.placedRecord(),
      a.leaseRecord(),
      a.intentRecord(),
      ...others.map((orderId) => story(orderId).placedRecord()),
      a.paymentSucceededRecord(),
      a.paidRecord(),
      a.fulfillingRecord(),
    ];

    // Act
    const response = await relay(streamEvent(records), lambdaContext);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    const messages = await drainQueue();
    expect(eventIdsByGroup(messages)).toEqual({
      'RELAY-A': ['RELAY-A:v1', 'pi-RELAY-A:SUCCEEDED', 'RELAY-A:v2', 'RELAY-A:v3'],
      ...Object.fromEntries(others.map((orderId) => [orderId, [`${orderId}:v1`]])),
    });
    for (const message of messages) {
      expect(message.deduplicationId).toBe(message.event.eventId);
      expect(message.eventType).toBe(message.event.type);
    }
    expect(messages.find((message) => message.event.eventId === 'RELAY-A:v2')?.event).toEqual({
      type: 'OrderStatusChanged',
      eventId: 'RELAY-A:v2',
      orderId: 'RELAY-A',
      occurredAt: new Date(NOW.getTime() + 1000).toISOString(),
      version: 2,
      data: { from: OrderStatus.PENDING_PAYMENT, to: OrderStatus.PAID },
    });
    const onBus = busEventsOf(['RELAY-A', ...others]);
    expect(onBus).toHaveLength(15);
    expect(onBus.find((event) => event.detailType === 'PaymentSucceeded')).toMatchObject({
      source: 'order-backbone',
      detail: { eventId: 'pi-RELAY-A:SUCCEEDED', data: { status: 'SUCCEEDED', amount: 1200 } },
    });
  });

  it('adds no duplicate to the FIFO queue when a batch is replayed', async () => {
    // Prepare
    const c = story('RELAY-C');
    const records = [c.placedRecord(), c.cancelledRecord()];
    await relay(streamEvent(records), lambdaContext);

    // Act
    const replay = await relay(streamEvent(records), lambdaContext);

    // Assess
    expect(replay).toEqual({ batchItemFailures: [] });
    expect(eventIdsByGroup(await drainQueue())).toEqual({ 'RELAY-C': ['RELAY-C:v1', 'RELAY-C:v2'] });
    // The bus promises at least once: the replay may repeat there, and subscribers dedupe on the event id.
    expect(new Set(busEventIds(['RELAY-C']))).toEqual(new Set(['RELAY-C:v1', 'RELAY-C:v2']));
  });

  it('reports record k and every later one when the bus rejects k`s event, and a re-run from k heals it', async () => {
    // Prepare: two orders interleaved; record 2 is the one whose event the bus rejects
    const d = story('RELAY-D');
    const e = story('RELAY-E');
    const records = [
      d.placedRecord(),
      e.placedRecord(),
      d.paidRecord(),
      e.cancelledRecord(),
      d.leaseRecord(),
      d.fulfillingRecord(),
    ];
    failBusEntry('RELAY-D:v2');

    // Act
    const response = await relay(streamEvent(records), lambdaContext);

    // Assess
    expect(response).toEqual({ batchItemFailures: sequenceNumbers(records.slice(2)) });
    expect(busEventIds(['RELAY-D', 'RELAY-E'])).not.toContain('RELAY-D:v2');

    // Act: the stream resumes from record 2, the fault gone
    outbox.outboxEventBridgeClient().middlewareStack.remove(FAULT);
    const retry = await relay(streamEvent(records.slice(2)), lambdaContext);

    // Assess: one copy of each event in the queue, in order per order; every event on the bus at least once
    expect(retry).toEqual({ batchItemFailures: [] });
    expect(eventIdsByGroup(await drainQueue())).toEqual({
      'RELAY-D': ['RELAY-D:v1', 'RELAY-D:v2', 'RELAY-D:v3'],
      'RELAY-E': ['RELAY-E:v1', 'RELAY-E:v2'],
    });
    expect(new Set(busEventIds(['RELAY-D', 'RELAY-E']))).toEqual(
      new Set(['RELAY-D:v1', 'RELAY-D:v2', 'RELAY-D:v3', 'RELAY-E:v1', 'RELAY-E:v2']),
    );
  });

  it('reports record k and every later one when SendMessageBatch fails k`s entry, and puts none of them on the bus', async () => {
    // Prepare: G's second event must not overtake its failed first one in the queue
    const f = story('RELAY-F');
    const g = story('RELAY-G');
    const records = [f.placedRecord(), g.placedRecord(), f.paidRecord(), g.cancelledRecord()];
    failSqsEntry('RELAY-G:v1');

    // Act
    const response = await relay(streamEvent(records), lambdaContext);

    // Assess: an event reaches the bus only once it is in the queue
    expect(response).toEqual({ batchItemFailures: sequenceNumbers(records.slice(1)) });
    expect(busEventIds(['RELAY-F', 'RELAY-G'])).toEqual(['RELAY-F:v1']);

    // Act: the stream resumes from record 1, the fault gone
    outbox.outboxSqsClient().middlewareStack.remove(FAULT);
    const retry = await relay(streamEvent(records.slice(1)), lambdaContext);

    // Assess
    expect(retry).toEqual({ batchItemFailures: [] });
    expect(eventIdsByGroup(await drainQueue())).toEqual({
      'RELAY-F': ['RELAY-F:v1', 'RELAY-F:v2'],
      'RELAY-G': ['RELAY-G:v1', 'RELAY-G:v2'],
    });
    expect(new Set(busEventIds(['RELAY-F', 'RELAY-G']))).toEqual(
      new Set(['RELAY-F:v1', 'RELAY-F:v2', 'RELAY-G:v1', 'RELAY-G:v2']),
    );
  });

  it('reports from the first record with events when PutEvents throws, not the records before it', async () => {
    // Prepare: the first record announces nothing
    const h = story('RELAY-H');
    const records = [h.leaseRecord(), h.placedRecord(), h.cancelledRecord()];
    throwOnPutEvents();

    // Act
    const response = await relay(streamEvent(records), lambdaContext);

    // Assess
    expect(response).toEqual({ batchItemFailures: sequenceNumbers(records.slice(1)) });
    expect(busEventIds(['RELAY-H'])).toEqual([]);
    expect(eventIdsByGroup(await drainQueue())).toEqual({ 'RELAY-H': ['RELAY-H:v1', 'RELAY-H:v2'] });
  });

  it('throws a typed error on a malformed order record and publishes nothing of its batch', async () => {
    // Prepare: a good record first, then an order item with a status that does not exist
    const good = story('RELAY-I').placedRecord();
    const { order: placedJ, created: createdJ } = newOrder(
      { customerId: 'customer-1', currency: 'EUR', items: [{ sku: 'A', quantity: 1, unitPrice: 1200 }] },
      { orderId: 'RELAY-J', now: NOW, paymentTimeoutSeconds: 1800 },
    );
    const corrupt = record(
      'MODIFY',
      { ...orderItem(placedJ, createdJ), status: 'TELEPORTED', version: 2 },
      orderItem(placedJ, createdJ),
    );

    // Act
    const outcome = relay(streamEvent([good, corrupt]), lambdaContext);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(MalformedStreamItemError);
    await expect(outcome).rejects.toMatchObject({ code: ErrorCode.MALFORMED_STREAM_ITEM });
    expect(await drainQueue()).toEqual([]);
    expect(busEventIds(['RELAY-I', 'RELAY-J'])).toEqual([]);
  });
});
