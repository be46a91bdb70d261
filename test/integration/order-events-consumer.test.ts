import { readFileSync } from 'node:fs';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import {
  fulfillmentExecutionName,
  SfnFulfillmentSagas,
} from '../../functions/adapters/sfn-fulfillment-sagas';
import { stripeClient } from '../../functions/adapters/stripe-client';
import { eventIdOf, OrderEventType } from '../../functions/domain/events';
import { FulfillmentTrigger } from '../../functions/domain/fulfillment-trigger';
import type { Order } from '../../functions/domain/order';
import { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentStatus } from '../../functions/domain/payment';
import type { OrderAdvances, OrderRepository } from '../../functions/domain/ports';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/aws/step-functions/server';
import {
  type FakePaymentProvider,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { installSdkInstrumentation } from '../../lib/local/runtime/sdk-instrumentation';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import {
  createTestTables,
  putOrderBeforeIssue21,
  type TestTables,
  useTablesForHandlers,
} from '../support/dynamodb';
import { localClientConfig, TEST_ACCOUNT, TEST_REGION } from '../support/local-aws';
import { RecordingInvoker, waitFor } from '../support/local-functions';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events';

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

const API_KEY = 'sk_test_consumer';

let tables: TestTables;
let sfn: LocalStepFunctions;
let sfnClient: SFNClient;
let provider: FakePaymentProvider;
let repository: DynamoDbOrderRepository;
let orders: OrderService;
let handler: Handler;
/** Imported after the environment is set, like the handler, so that it is built SILENT. */
let logger: typeof import('../../functions/composition-root').logger;
const sagaProbe = new RecordingInvoker({ 'saga-probe': async () => ({ recorded: true }) });

function fixture(name: string): object {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as object;
}

function stateMachineArn(): string {
  const arn = sfn.stateMachineArns.fulfillment;
  if (arn === undefined) throw new Error('the fixture state machine is not declared');
  return arn;
}

function ordersOver(orderRepository: OrderRepository): OrderService {
  return new OrderService({
    repository: orderRepository,
    // These tests never schedule a timeout: orders are moved explicitly.
    timers: { schedule: async () => {}, cancel: async () => {} },
    clock: { now: () => new Date() },
    ids: { newOrderId: () => ulid() },
    paymentTimeoutSeconds: 1800,
    idempotencyKeyTtlSeconds: 3600,
  });
}

beforeAll(async () => {
  tables = await createTestTables();
  sfn = await startLocalStepFunctions({
    region: TEST_REGION,
    accountId: TEST_ACCOUNT,
    invoker: sagaProbe,
    stateMachines: [
      {
        name: 'fulfillment',
        definition: fixture('sfn-fulfillment-consumer.asl.json'),
        taskFunctions: {
          [`arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:saga-probe`]: 'saga-probe',
        },
      },
    ],
  });
  sfnClient = new SFNClient(localClientConfig(sfn.url));
  provider = await startFakePaymentProvider({
    apiKey: API_KEY,
    webhookSecret: 'whsec_consumer',
    // No webhook receiver here: one failed attempt per refund.succeeded callback, no retries running on.
    deliveryRetry: { attempts: 1 },
  });
  useTablesForHandlers(tables, {
    AWS_ENDPOINT_URL_SFN: sfn.url,
    FULFILLMENT_STATE_MACHINE_ARN: stateMachineArn(),
    PAYMENT_PROVIDER_URL: provider.url,
    PAYMENT_PROVIDER_API_KEY: API_KEY,
  });
  repository = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => new Date(),
  });
  orders = ordersOver(repository);
  handler = (await import('../../functions/queue/order-events-consumer')).handler as unknown as Handler;
  logger = (await import('../../functions/composition-root')).logger;
});

afterAll(async () => {
  sfnClient?.destroy();
  await sfn?.stop();
  await provider?.stop();
});

/** A new order moved through the real service to `status` (via PAID where that is on the way). */
async function orderIn(status: OrderStatus): Promise<Order> {
  const { order } = await orders.placeOrder({
    customerId: 'customer-1',
    currency: 'EUR',
    items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
  });
  const path: Partial<Record<OrderStatus, readonly OrderStatus[]>> = {
    PENDING_PAYMENT: [],
    PAID: [OrderStatus.PAID],
    CANCELLED: [OrderStatus.CANCELLED],
    FULFILLING: [OrderStatus.PAID, OrderStatus.FULFILLING],
    FULFILLED: [OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.FULFILLED],
  };
  let current = order;
  for (const to of path[status] ?? []) current = await orders.moveOrder(order.orderId, to, 'test setup');
  return current;
}

function paymentEvent(
  type: typeof OrderEventType.PAYMENT_SUCCEEDED | typeof OrderEventType.REFUND_REQUESTED,
  order: Order,
  paymentId: string,
): string {
  const status =
    type === OrderEventType.PAYMENT_SUCCEEDED ? PaymentStatus.SUCCEEDED : PaymentStatus.REFUND_PENDING;
  return JSON.stringify({
    eventId: eventIdOf({ kind: 'payment', paymentId, status }),
    orderId: order.orderId,
    occurredAt: new Date().toISOString(),
    type,
    data: { paymentId, status, amount: order.totalAmount, currency: order.currency },
  });
}

/** An intent the customer paid at the fake provider, so that a refund of it can be created: its id. */
async function paidIntent(order: Order): Promise<string> {
  const stripe = stripeClient(provider.url, API_KEY);
  const intent = await stripe.paymentIntents.create({
    amount: order.totalAmount,
    currency: order.currency.toLowerCase(),
    metadata: { orderId: order.orderId },
  });
  await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
  return intent.id;
}

function deliver(...records: ReturnType<typeof sqsRecord>[]): Promise<SQSBatchResponse> {
  return handler(sqsEvent(records), lambdaContext);
}

function executionsOf(orderId: string) {
  return sfn.executions().filter((execution) => execution.name === fulfillmentExecutionName(orderId));
}

async function fulfillingTransitions(orderId: string): Promise<number> {
  const { history } = await orders.getOrder(orderId);
  return history.filter((transition) => transition.to === OrderStatus.FULFILLING).length;
}

describe('order-events consumer: PaymentSucceeded', () => {
  it('moves a PAID order to FULFILLING and starts one saga named after the order, with the payment and the lines as input', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.PAID);
    const paymentId = `pi_${ulid()}`;

    // Act
    const response = await deliver(
      sqsRecord({ body: paymentEvent('PaymentSucceeded', order, paymentId), messageGroupId: order.orderId }),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((await orders.getOrder(order.orderId)).order.status).toBe(OrderStatus.FULFILLING);
    const executions = executionsOf(order.orderId);
    expect(executions).toHaveLength(1);
    expect(JSON.parse(executions[0]?.input ?? '{}')).toEqual({
      orderId: order.orderId,
      paymentId,
      amount: order.totalAmount,
      currency: order.currency,
      items: order.items.map(({ sku, quantity }) => ({ sku, quantity })),
    });
    await waitFor(() => executionsOf(order.orderId)[0]?.status === 'SUCCEEDED');
  });

  it('starts exactly one saga and moves once when the event comes three times in a batch and again in later batches', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.PAID);
    const body = paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`);
    const copy = () => sqsRecord({ body, messageGroupId: order.orderId });

    // Act
    const responses = [
      await deliver(copy(), copy(), copy()),
      await deliver(copy()),
      // By now the saga has finished: the engine answers ExecutionAlreadyExists, which is success.
      await (async () => {
        await waitFor(() => executionsOf(order.orderId)[0]?.status === 'SUCCEEDED');
        return await deliver(copy());
      })(),
    ];

    // Assess
    expect(responses.map((response) => response.batchItemFailures)).toEqual([[], [], []]);
    expect(executionsOf(order.orderId)).toHaveLength(1);
    expect(await fulfillingTransitions(order.orderId)).toBe(1);
    expect((await orders.getOrder(order.orderId)).order.status).toBe(OrderStatus.FULFILLING);
  });

  it('starts the saga for an order left FULFILLING without one (a crash between the two steps), without moving it', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.FULFILLING);
    expect(executionsOf(order.orderId)).toHaveLength(0);

    // Act
    const response = await deliver(
      sqsRecord({
        body: paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`),
        messageGroupId: order.orderId,
      }),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(executionsOf(order.orderId)).toHaveLength(1);
    expect(await fulfillingTransitions(order.orderId)).toBe(1);
  });

  it.each([OrderStatus.CANCELLED, OrderStatus.FULFILLED])(
    'acknowledges and ignores the event for a %s order',
    async (status) => {
      // Prepare
      const order = await orderIn(status);
      const versionBefore = order.version;

      // Act
      const response = await deliver(
        sqsRecord({
          body: paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`),
          messageGroupId: order.orderId,
        }),
      );

      // Assess
      expect(response.batchItemFailures).toEqual([]);
      const after = (await orders.getOrder(order.orderId)).order;
      expect(after.status).toBe(status);
      expect(after.version).toBe(versionBefore);
      expect(executionsOf(order.orderId)).toHaveLength(0);
    },
  );

  it('fails the message for an order still awaiting payment, so it is retried and can reach the DLQ', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.PENDING_PAYMENT);
    const record = sqsRecord({
      body: paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`),
      messageGroupId: order.orderId,
    });

    // Act
    const response = await deliver(record);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect((await orders.getOrder(order.orderId)).order.status).toBe(OrderStatus.PENDING_PAYMENT);
    expect(executionsOf(order.orderId)).toHaveLength(0);
  });

  it('starts the saga without moving the order when another delivery moved it first', async () => {
    // Prepare: an adapter whose first move is preceded by a competing identical move, so the trigger's own
    // conditional write is refused in DynamoDB and answers with the order as the competitor left it.
    const order = await orderIn(OrderStatus.PAID);
    let competitorWrites = 0;
    const racing: OrderAdvances = {
      advance: async (orderId, move) => {
        if (competitorWrites === 0) {
          competitorWrites += 1;
          await repository.advance(orderId, { ...move, reason: 'competitor' });
        }
        return await repository.advance(orderId, move);
      },
    };
    const trigger = new FulfillmentTrigger({
      orders: racing,
      sagas: new SfnFulfillmentSagas({ client: sfnClient, stateMachineArn: stateMachineArn() }),
      refunds: { refund: () => Promise.reject(new Error('no refunds in this test')) },
      clock: { now: () => new Date() },
    });
    const paymentId = `pi_${ulid()}`;

    // Act
    const outcome = await trigger.handle({
      eventId: eventIdOf({ kind: 'payment', paymentId, status: PaymentStatus.SUCCEEDED }),
      orderId: order.orderId,
      occurredAt: new Date().toISOString(),
      type: OrderEventType.PAYMENT_SUCCEEDED,
      data: {
        paymentId,
        status: PaymentStatus.SUCCEEDED,
        amount: order.totalAmount,
        currency: order.currency,
      },
    });

    // Assess
    expect(competitorWrites).toBe(1);
    expect(outcome).toEqual({
      kind: 'fulfillmentStarted',
      orderId: order.orderId,
      movedToFulfilling: false,
      saga: 'started',
    });
    const { history } = await orders.getOrder(order.orderId);
    expect(history.filter((transition) => transition.to === OrderStatus.FULFILLING)).toEqual([
      expect.objectContaining({ reason: 'competitor' }),
    ]);
    expect(executionsOf(order.orderId)).toHaveLength(1);
  });

  it('sends one DynamoDB request of one unit per event, the move, then the start', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.PAID);
    const record = () =>
      sqsRecord({
        body: paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`),
        messageGroupId: order.orderId,
      });
    const instrumentation = installSdkInstrumentation();
    instrumentation.takeUsage();

    // Act: the first delivery moves the order; a duplicate finds it FULFILLING from the refused write itself.
    const first = await deliver(record());
    const moved = instrumentation.takeUsage();
    const duplicate = await deliver(record());
    const refused = instrumentation.takeUsage();

    // Assess
    expect([first.batchItemFailures, duplicate.batchItemFailures]).toEqual([[], []]);
    expect(moved).toEqual({
      'DynamoDB:UpdateItem': { requests: 1, readCapacityUnits: 0, writeCapacityUnits: 1 },
      'SFN:StartExecution': { requests: 1, readCapacityUnits: 0, writeCapacityUnits: 0 },
    });
    // A refused write costs one unit in AWS too; DynamoDB Local reports no capacity with the exception.
    expect(refused).toEqual({
      'DynamoDB:UpdateItem': { requests: 1, readCapacityUnits: 0, writeCapacityUnits: 0 },
      'SFN:StartExecution': { requests: 1, readCapacityUnits: 0, writeCapacityUnits: 0 },
    });
    expect(await fulfillingTransitions(order.orderId)).toBe(1);
  });

  it('moves an order item written before issue 21 (long timeline entries, stored times) and reads it whole', async () => {
    // Prepare: a PAID order as the code before issue 21 stored it.
    const orderId = ulid();
    const at = (minute: number) => `2026-11-28T10:0${minute}:00.000Z`;
    await putOrderBeforeIssue21(tables, {
      orderId,
      customerId: 'customer-1',
      items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
      paymentDeadline: '2026-11-28T10:30:00.000Z',
      timeline: [
        { to: OrderStatus.PENDING_PAYMENT, at: at(0), reason: 'order placed' },
        { to: OrderStatus.PAID, at: at(1), reason: 'paid' },
      ],
    });
    const order = { orderId, totalAmount: 2500, currency: 'EUR' } as Order;

    // Act
    const response = await deliver(
      sqsRecord({ body: paymentEvent('PaymentSucceeded', order, `pi_${ulid()}`), messageGroupId: orderId }),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const stored = await orders.getOrder(orderId);
    expect(stored.order).toMatchObject({ status: OrderStatus.FULFILLING, version: 3, createdAt: at(0) });
    expect(stored.history.map(({ version, from, to }) => [version, from, to])).toEqual([
      [1, null, OrderStatus.PENDING_PAYMENT],
      [2, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID],
      [3, OrderStatus.PAID, OrderStatus.FULFILLING],
    ]);
    expect(stored.order.updatedAt).toBe(stored.history[2]?.at);
    expect(executionsOf(orderId)).toHaveLength(1);
  });
});

describe('order-events consumer: RefundRequested', () => {
  it('asks the provider once for a refund delivered twice', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.CANCELLED);
    const paymentId = await paidIntent(order);
    const body = paymentEvent('RefundRequested', order, paymentId);

    // Act
    const first = await deliver(sqsRecord({ body, messageGroupId: order.orderId }));
    const second = await deliver(sqsRecord({ body, messageGroupId: order.orderId }));

    // Assess
    expect([first.batchItemFailures, second.batchItemFailures]).toEqual([[], []]);
    const refunds = provider.refunds().filter((refund) => refund.payment_intent === paymentId);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({ amount: order.totalAmount, currency: order.currency.toLowerCase() });
    // Stripe keeps the idempotency key on the event of the request that created the refund.
    const created = provider
      .events()
      .filter(
        ({ event, paymentIntentId }) => event.type === 'refund.created' && paymentIntentId === paymentId,
      );
    expect(created.map(({ event }) => event.request.idempotency_key)).toEqual([`refund-${paymentId}`]);
  });

  it('fails the message while the provider is unavailable and refunds once when it is delivered again', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.CANCELLED);
    const paymentId = await paidIntent(order);
    const record = sqsRecord({
      body: paymentEvent('RefundRequested', order, paymentId),
      messageGroupId: order.orderId,
    });
    // Two: the SDK repeats a 503 once with the same idempotency key before the handler sees a failure.
    provider.failNextRefunds(2);

    // Act
    const during = await deliver(record);
    const after = await deliver({
      ...record,
      attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
    });

    // Assess
    expect(during.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(after.batchItemFailures).toEqual([]);
    expect(provider.refunds().filter((refund) => refund.payment_intent === paymentId)).toHaveLength(1);
  });
});

describe('order-events consumer: batches', () => {
  it('acknowledges events that other services consume', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.PAID);
    const body = JSON.stringify({
      eventId: eventIdOf({ kind: 'order', orderId: order.orderId, version: 2 }),
      orderId: order.orderId,
      occurredAt: new Date().toISOString(),
      type: OrderEventType.ORDER_STATUS_CHANGED,
      version: 2,
      data: { from: OrderStatus.PENDING_PAYMENT, to: OrderStatus.PAID },
    });

    // Act
    const response = await deliver(sqsRecord({ body, messageGroupId: order.orderId }));

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect((await orders.getOrder(order.orderId)).order.status).toBe(OrderStatus.PAID);
    expect(executionsOf(order.orderId)).toHaveLength(0);
  });

  it('fails a poison message and the rest of its group, logs why, and lets the other group through', async () => {
    // Prepare
    const blocked = await orderIn(OrderStatus.PAID);
    const flowing = await orderIn(OrderStatus.PAID);
    const poison = sqsRecord({
      body: JSON.stringify({ type: 'PaymentSucceeded', orderId: blocked.orderId }),
      messageGroupId: blocked.orderId,
    });
    const blockedLater = sqsRecord({
      body: paymentEvent('PaymentSucceeded', blocked, `pi_${ulid()}`),
      messageGroupId: blocked.orderId,
    });
    const flowingPayment = paymentEvent('PaymentSucceeded', flowing, `pi_${ulid()}`);
    const flowingFirst = sqsRecord({ body: flowingPayment, messageGroupId: flowing.orderId });
    const flowingSecond = sqsRecord({ body: flowingPayment, messageGroupId: flowing.orderId });
    const errors = vi.spyOn(logger, 'error');

    // Act
    const response = await deliver(poison, flowingFirst, blockedLater, flowingSecond);

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: poison.messageId },
      { itemIdentifier: blockedLater.messageId },
    ]);
    expect((await orders.getOrder(blocked.orderId)).order.status).toBe(OrderStatus.PAID);
    expect(executionsOf(blocked.orderId)).toHaveLength(0);
    expect((await orders.getOrder(flowing.orderId)).order.status).toBe(OrderStatus.FULFILLING);
    expect(executionsOf(flowing.orderId)).toHaveLength(1);
    expect(errors).toHaveBeenCalledWith(
      expect.stringContaining('poison message'),
      expect.objectContaining({
        messageId: poison.messageId,
        messageGroupId: blocked.orderId,
        code: 'INVALID_ORDER_EVENT',
        issues: expect.arrayContaining([expect.objectContaining({ path: 'eventId' })]),
      }),
    );
    errors.mockRestore();
  });

  it('reports a batch of nothing but poison as failed item by item, not as a thrown error', async () => {
    // Prepare
    const record = sqsRecord({ body: 'not json at all', messageGroupId: 'some-order' });

    // Act
    const response = await deliver(record);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  });
});
