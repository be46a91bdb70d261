import { marshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { orderItem } from '../../functions/adapters/dynamodb-table';
import { OrderEventType } from '../../functions/domain/events';
import { newOrder } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { OMITTED_CONTEXT_KEYS } from '../../functions/log-formatter';
import { METRICS_NAMESPACE } from '../../lib/business-metrics';
import { createTestTables, type TestTables, useTablesForHandlers } from '../support/dynamodb';
import { httpEvent } from '../support/http-events';
import { type CapturedOutput, captureProcessOutput } from '../support/output-capture';
import {
  closedLoopbackPort,
  lambdaContext,
  ManualClock,
  orderServiceOn,
  sampleOrder,
  secondsAfter,
  timerSettings,
} from '../support/payment-window';
import { sqsEvent, sqsRecord } from '../support/sqs-events';

/**
 * What the functions write to stdout, as CloudWatch Logs would receive it: JSON log lines that carry the order
 * and a correlation id, and EMF lines with the business metrics, one handler of each kind called through its
 * middleware stack.
 */

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly service: string;
  readonly orderId?: string;
  readonly correlation_id?: string;
  readonly function_request_id?: string;
  readonly [key: string]: unknown;
}

interface EmfLine {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly service: string;
  readonly [metric: string]: unknown;
}

interface Output {
  readonly logs: LogLine[];
  readonly metrics: EmfLine[];
}

let capture: CapturedOutput | undefined;

function restoreStreams(): void {
  capture?.restore();
  capture = undefined;
}

/**
 * Runs `act` with stdout and stderr captured (Lambda sends both to CloudWatch Logs; Powertools writes warnings
 * and errors to stderr); every line written must be JSON.
 */
async function captured<T>(act: () => Promise<T>): Promise<{ result: T } & Output> {
  capture = captureProcessOutput();
  const { chunks } = capture;
  let result: T;
  try {
    result = await act();
  } finally {
    restoreStreams();
  }
  const lines = chunks
    .join('')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  // The log group names the function: no line repeats its name, ARN or memory size.
  for (const line of lines) for (const key of OMITTED_CONTEXT_KEYS) expect(line).not.toHaveProperty(key);
  return {
    result,
    logs: lines.filter((line) => !('_aws' in line)) as unknown as LogLine[],
    metrics: lines.filter((line) => '_aws' in line) as unknown as EmfLine[],
  };
}

/** The value of a business metric in the EMF lines, checked against the metric contract. */
function metricValue(metrics: readonly EmfLine[], name: string): unknown {
  const line = metrics.find((candidate) =>
    candidate._aws.CloudWatchMetrics.some((set) => set.Metrics.some((metric) => metric.Name === name)),
  );
  if (line === undefined) return undefined;
  const set = line._aws.CloudWatchMetrics[0];
  expect(set?.Namespace).toBe(METRICS_NAMESPACE);
  expect(set?.Dimensions).toEqual([['service']]);
  expect(set?.Metrics.find((metric) => metric.Name === name)?.Unit).toBe('Count');
  expect(line.service).toBe('order-backbone');
  return line[name];
}

function lineWith(logs: readonly LogLine[], message: string): LogLine | undefined {
  return logs.find((line) => line.message.includes(message));
}

function orderIdOf(response: APIGatewayProxyStructuredResultV2): string {
  return String((JSON.parse(response.body ?? 'null') as { orderId?: unknown }).orderId);
}

describe('logs and metrics of each kind of handler', () => {
  let tables: TestTables;
  /** The order service on the test tables, at the current time, with a payment window no test waits out. */
  const ordersNow = () =>
    orderServiceOn(tables, {
      clock: new ManualClock(new Date()),
      paymentTimeoutSeconds: 600,
      newOrderId: () => ulid(),
    });

  /** An order in FULFILLING, as the saga leaves it before its last step, and that step's handler. */
  async function fulfillingOrderAndOutcomeHandler() {
    const handler = (await import('../../functions/saga/fulfillment-outcome')).handler as unknown as Handler<
      unknown,
      unknown
    >;
    const orders = ordersNow();
    const { order } = await orders.placeOrder(sampleOrder);
    await orders.moveOrder(order.orderId, OrderStatus.PAID, 'paid by pi_test');
    await orders.moveOrder(order.orderId, OrderStatus.FULFILLING, 'saga started');
    return { handler, order, orders };
  }

  beforeAll(async () => {
    tables = await createTestTables();
    const [schedulerPort, sqsPort, eventBridgePort] = await Promise.all([
      closedLoopbackPort(),
      closedLoopbackPort(),
      closedLoopbackPort(),
    ]);
    useTablesForHandlers(tables, {
      ...timerSettings,
      AWS_ENDPOINT_URL_SCHEDULER: `http://127.0.0.1:${schedulerPort}`,
      AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${sqsPort}`,
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${eventBridgePort}`,
      AWS_MAX_ATTEMPTS: '1',
      ORDER_EVENTS_QUEUE_URL: `http://127.0.0.1:${sqsPort}/000000000000/order-events.fifo`,
      EVENT_BUS_NAME: 'order-backbone-events',
      // Logs and metrics on, as in AWS: this file reads them. Lambda's advanced logging controls set
      // AWS_LAMBDA_LOG_LEVEL, which Powertools obeys over any level it is given.
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AWS_LAMBDA_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_DISABLED: 'false',
      FULFILLMENT_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:fulfillment',
      PAYMENT_PROVIDER_URL: `http://127.0.0.1:${sqsPort}`,
      PAYMENT_PROVIDER_API_KEY: 'sk_test_telemetry',
    });
  });

  afterEach(restoreStreams);

  it('HTTP: the caller correlation id, or the request id, and the order on every line; orders created and cancelled counted', async () => {
    // Prepare
    const createOrder = (await import('../../functions/http/create-order')).handler as unknown as Handler<
      unknown,
      APIGatewayProxyStructuredResultV2
    >;
    const cancelOrder = (await import('../../functions/http/cancel-order')).handler as unknown as Handler<
      unknown,
      APIGatewayProxyStructuredResultV2
    >;
    const creation = httpEvent({
      method: 'POST',
      path: '/orders',
      routeKey: 'POST /orders',
      body: JSON.stringify(sampleOrder),
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'checkout-4711' },
      customer: sampleOrder.customerId,
    });

    // Act
    const created = await captured(() => createOrder(creation, lambdaContext));
    const orderId = orderIdOf(created.result);
    const cancellation = httpEvent({
      method: 'POST',
      path: `/orders/${orderId}/cancel`,
      routeKey: 'POST /orders/{orderId}/cancel',
      pathParameters: { orderId },
      customer: sampleOrder.customerId,
    });
    const cancelled = await captured(() => cancelOrder(cancellation, lambdaContext));

    // Assess
    expect(created.result.statusCode).toBe(201);
    expect(created.logs.length).toBeGreaterThan(0);
    for (const line of created.logs) {
      expect(line).toMatchObject({ correlation_id: 'checkout-4711', orderId, service: 'order-backbone' });
      expect(line.function_request_id).toBe(lambdaContext.awsRequestId);
    }
    expect(lineWith(created.logs, 'could not be scheduled')?.level).toBe('ERROR');
    expect(metricValue(created.metrics, 'OrdersCreated')).toBe(1);
    expect(metricValue(created.metrics, 'PaymentTimerScheduleFailed')).toBe(1);
    expect(cancelled.result.statusCode).toBe(200);
    expect(lineWith(cancelled.logs, 'cancelled by the customer')).toMatchObject({
      orderId,
      correlation_id: cancellation.requestContext.requestId,
    });
    expect(metricValue(cancelled.metrics, 'OrdersCancelledByCustomer')).toBe(1);
    expect(metricValue(cancelled.metrics, 'OrdersCreated')).toBeUndefined();
  });

  it('a replayed create-order request is not counted as a new order', async () => {
    // Prepare
    const createOrder = (await import('../../functions/http/create-order')).handler as unknown as Handler<
      unknown,
      APIGatewayProxyStructuredResultV2
    >;
    const request = () =>
      httpEvent({
        method: 'POST',
        path: '/orders',
        routeKey: 'POST /orders',
        body: JSON.stringify(sampleOrder),
        headers: { 'content-type': 'application/json', 'idempotency-key': `key-${ulid()}` },
        customer: sampleOrder.customerId,
      });
    const first = request();
    const replay = { ...request(), headers: first.headers };
    await captured(() => createOrder(first, lambdaContext));

    // Act
    const replayed = await captured(() => createOrder(replay, lambdaContext));

    // Assess
    expect(replayed.result.statusCode).toBe(200);
    expect(metricValue(replayed.metrics, 'OrdersCreated')).toBeUndefined();
  });

  it('scheduled: the payment timeout logs with its order as correlation id and counts the cancellation', async () => {
    // Prepare
    const handler = (await import('../../functions/scheduled/payment-timeout')).handler as unknown as Handler<
      unknown,
      unknown
    >;
    const orders = orderServiceOn(tables, {
      clock: new ManualClock(secondsAfter(new Date(), -3600)),
      paymentTimeoutSeconds: 60,
      newOrderId: () => ulid(),
    });
    const { order } = await orders.placeOrder(sampleOrder);

    // Act
    const { logs, metrics } = await captured(() => handler({ orderId: order.orderId }, lambdaContext));

    // Assess
    expect(lineWith(logs, 'payment timeout handled')).toMatchObject({
      orderId: order.orderId,
      correlation_id: order.orderId,
      outcome: 'cancelled',
    });
    expect(metricValue(metrics, 'OrdersCancelledByTimeout')).toBe(1);
  });

  it('scheduled: the sweeper counts its catches and the stuck refunds on every run, zero included', async () => {
    // Prepare
    const handler = (await import('../../functions/scheduled/sweeper')).handler as unknown as Handler<
      unknown,
      unknown
    >;

    // Act
    const { metrics } = await captured(() => handler({}, lambdaContext));

    // Assess
    expect(metricValue(metrics, 'OrdersCancelledBySweeper')).toBe(0);
    expect(metricValue(metrics, 'RefundsStuckPending')).toBe(0);
  });

  it('queue: each record logs its order and its event id as correlation id, and the batch lines neither', async () => {
    // Prepare
    const handler = (await import('../../functions/queue/status-events-consumer'))
      .handler as unknown as Handler<SQSEvent, unknown>;
    const orders = ordersNow();
    const { order } = await orders.placeOrder(sampleOrder);
    await orders.cancelOrder(order.orderId, order.customerId);
    const eventId = `lg_${ulid()}`;
    const record = sqsRecord({
      body: JSON.stringify({ eventId, orderId: order.orderId, status: 'SHIPPED', occurredAt: new Date() }),
      messageGroupId: order.orderId,
    });
    // As the logistics webhook sends it: the deduplication id is the event id.
    const delivered = { ...record, attributes: { ...record.attributes, MessageDeduplicationId: eventId } };
    const poison = sqsRecord({ body: 'not json', messageGroupId: 'another-order' });

    // Act
    const { logs } = await captured(() => handler(sqsEvent([delivered, poison]), lambdaContext));

    // Assess
    expect(lineWith(logs, 'can never reach it')).toMatchObject({
      orderId: order.orderId,
      correlation_id: eventId,
    });
    expect(lineWith(logs, 'poison message')).toMatchObject({
      orderId: 'another-order',
      correlation_id: poison.attributes.MessageDeduplicationId,
    });
    const batchLine = lineWith(logs, 'reported failed');
    expect(batchLine).toBeDefined();
    expect(batchLine).not.toHaveProperty('orderId');
    expect(batchLine).not.toHaveProperty('correlation_id');
  });

  it('queue: a routine order event writes no line at INFO; a stale one is one line with the order, the event, its type and outcome, and no message details', async () => {
    // Prepare
    const handler = (await import('../../functions/queue/order-events-consumer'))
      .handler as unknown as Handler<SQSEvent, unknown>;
    const placedId = ulid();
    const placedEventId = `ev_${ulid()}`;
    const placed = sqsRecord({
      body: JSON.stringify({
        eventId: placedEventId,
        orderId: placedId,
        occurredAt: new Date().toISOString(),
        type: OrderEventType.ORDER_PLACED,
        version: 1,
        data: {
          customerId: sampleOrder.customerId,
          totalAmount: 1200,
          currency: 'EUR',
          paymentDeadline: new Date().toISOString(),
        },
      }),
      messageGroupId: placedId,
    });
    // A payment for an order the customer cancelled: the event is stale, a decision off the happy path.
    const orders = ordersNow();
    const { order } = await orders.placeOrder(sampleOrder);
    await orders.cancelOrder(order.orderId, order.customerId);
    const eventId = `ev_${ulid()}`;
    const paid = sqsRecord({
      body: JSON.stringify({
        eventId,
        orderId: order.orderId,
        occurredAt: new Date().toISOString(),
        type: OrderEventType.PAYMENT_SUCCEEDED,
        data: { paymentId: 'pi_telemetry', status: 'SUCCEEDED', amount: 1200, currency: 'EUR' },
      }),
      messageGroupId: order.orderId,
    });
    // As the outbox relay sends them: the deduplication id is the event id.
    const delivered = [
      { ...placed, attributes: { ...placed.attributes, MessageDeduplicationId: placedEventId } },
      { ...paid, attributes: { ...paid.attributes, MessageDeduplicationId: eventId } },
    ];

    // Act
    const { logs, metrics } = await captured(() => handler(sqsEvent(delivered), lambdaContext));

    // Assess
    expect(logs).toHaveLength(1);
    const [line] = logs;
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'order event handled',
      orderId: order.orderId,
      correlation_id: eventId,
      eventId,
      type: OrderEventType.PAYMENT_SUCCEEDED,
      outcome: 'staleEvent',
      orderStatus: OrderStatus.CANCELLED,
      function_request_id: lambdaContext.awsRequestId,
    });
    // `cold_start` is written only on a cold start's lines, never as false.
    expect(line?.cold_start).not.toBe(false);
    expect(
      Object.keys(line ?? {})
        .filter((key) => key !== 'cold_start')
        .sort(),
    ).toEqual(
      [
        'correlation_id',
        'eventId',
        'function_request_id',
        'level',
        'message',
        'orderId',
        'orderStatus',
        'outcome',
        'service',
        'timestamp',
        'type',
      ].sort(),
    );
    expect(metrics).toEqual([]);
  });

  it('an invocation that counts nothing and logs nothing writes no line, with the log level set as in AWS', async () => {
    // Prepare
    const handler = (await import('../../functions/http/get-order')).handler as unknown as Handler<
      unknown,
      APIGatewayProxyStructuredResultV2
    >;
    const orders = ordersNow();
    const { order } = await orders.placeOrder(sampleOrder);
    const request = httpEvent({
      method: 'GET',
      path: `/orders/${order.orderId}`,
      routeKey: 'GET /orders/{orderId}',
      pathParameters: { orderId: order.orderId },
      customer: sampleOrder.customerId,
    });

    // Act
    const { result, logs, metrics } = await captured(() => handler(request, lambdaContext));

    // Assess: no "No application metrics to publish" warning from Metrics, which ALC's INFO would let through.
    expect(result.statusCode).toBe(200);
    expect(logs).toEqual([]);
    expect(metrics).toEqual([]);
  });

  it('saga: a participant logs its order as correlation id, counts fulfilled orders, and logs only a repeat at INFO', async () => {
    // Prepare
    const { handler, order } = await fulfillingOrderAndOutcomeHandler();

    // Act
    const { logs, metrics } = await captured(() =>
      handler({ outcome: 'FULFILLED', orderId: order.orderId }, lambdaContext),
    );
    const repeat = await captured(() =>
      handler({ outcome: 'FULFILLED', orderId: order.orderId }, lambdaContext),
    );

    // Assess: the fulfilment is routine (counted, and in the order's timeline); only the repeat is a line at INFO.
    expect(lineWith(logs, 'order fulfilled')).toBeUndefined();
    expect(metricValue(metrics, 'OrdersFulfilled')).toBe(1);
    expect(lineWith(repeat.logs, 'order fulfilled')).toMatchObject({
      level: 'INFO',
      orderId: order.orderId,
      correlation_id: order.orderId,
      result: 'alreadyFulfilled',
    });
    expect(metricValue(repeat.metrics, 'OrdersFulfilled')).toBeUndefined();
  });

  it('saga: a failed fulfilment is a warning with the error and the head of its cause, not the whole cause', async () => {
    // Prepare
    const { handler, order, orders } = await fulfillingOrderAndOutcomeHandler();
    await orders.moveOrder(order.orderId, OrderStatus.FULFILLMENT_FAILED, 'fulfilment failed');
    // A Lambda error's cause as Step Functions passes it: type, message and a long stack trace.
    const cause = JSON.stringify({
      errorType: 'WarehouseUnavailableError',
      errorMessage: 'the warehouse did not answer',
      trace: Array.from({ length: 100 }, (_, line) => `    at frame${line} (/var/task/index.mjs:1:${line})`),
    });

    // Act
    const { logs } = await captured(() =>
      handler(
        {
          outcome: 'FAILED',
          orderId: order.orderId,
          paymentId: 'pi_test',
          error: { Error: 'WarehouseUnavailableError', Cause: cause },
        },
        lambdaContext,
      ),
    );

    // Assess
    const warning = lineWith(logs, 'order fulfilment failed');
    expect(warning).toMatchObject({
      level: 'WARN',
      orderId: order.orderId,
      result: 'alreadyFailed',
      error: 'WarehouseUnavailableError',
      cause: cause.slice(0, 300),
    });
    expect(cause.length).toBeGreaterThan(300);
  });

  it('stream: a delivery failure logs the order and the event id of the event it could not publish', async () => {
    // Prepare
    const handler = (await import('../../functions/stream/outbox-relay')).handler as unknown as Handler<
      DynamoDBStreamEvent,
      unknown
    >;
    const { order, created } = newOrder(sampleOrder, {
      orderId: ulid(),
      now: new Date(),
      paymentTimeoutSeconds: 600,
    });
    const image = marshall(orderItem(order, created), { removeUndefinedValues: true }) as NonNullable<
      NonNullable<DynamoDBStreamEvent['Records'][number]['dynamodb']>['NewImage']
    >;
    const event: DynamoDBStreamEvent = {
      Records: [
        {
          eventID: 'stream-event-1',
          eventName: 'INSERT',
          eventSource: 'aws:dynamodb',
          dynamodb: {
            NewImage: image,
            SequenceNumber: '000000000000000000001',
            StreamViewType: 'NEW_AND_OLD_IMAGES',
          },
        },
      ],
    };

    // Act
    const { logs } = await captured(() => handler(event, lambdaContext));

    // Assess
    const warning = lineWith(logs, 'events not delivered');
    expect(warning).toMatchObject({ orderId: order.orderId, level: 'WARN' });
    expect(warning?.correlation_id).toEqual(expect.any(String));
    expect(warning?.correlation_id).toBe(warning?.eventId);
  });
});
