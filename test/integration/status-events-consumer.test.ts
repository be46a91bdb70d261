import { randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { type LogisticsStatus, progressionRank, StatusTracker } from '../../functions/domain/logistics';
import type { Order } from '../../functions/domain/order';
import { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import {
  createTestTables,
  putOrderBeforeIssue21,
  type TestTables,
  useTablesForHandlers,
} from '../support/dynamodb';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events';

/**
 * The status consumer in-process, through the real SDK against DynamoDB Local, with the SQS events Lambda
 * would hand it: forward-only moves, duplicates and stale reports ignored, reports ahead of fulfilment failed
 * and applied later, poison and `skipGroupOnError`, concurrent consumers of one order, one DynamoDB request per
 * report, and order items stored by the code before issue 21.
 */

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

let tables: TestTables;
let repository: DynamoDbOrderRepository;
let orders: OrderService;
let handler: Handler;
/** Imported after the environment is set, like the handler, so that it is built SILENT. */
let logger: typeof import('../../functions/composition-root').logger;
/** The handler's own DynamoDB client, to count what it sends. */
let handlerDynamoDb: typeof import('../../functions/composition-root').documentClient;

beforeAll(async () => {
  tables = await createTestTables();
  useTablesForHandlers(tables);
  repository = new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => new Date(),
  });
  orders = new OrderService({
    repository,
    // These tests never schedule a timeout: orders are moved explicitly.
    timers: { schedule: async () => {}, cancel: async () => {} },
    clock: { now: () => new Date() },
    ids: { newOrderId: () => ulid() },
    paymentTimeoutSeconds: 1800,
    idempotencyKeyTtlSeconds: 3600,
  });
  handler = (await import('../../functions/queue/status-events-consumer')).handler as unknown as Handler;
  ({ logger, documentClient: handlerDynamoDb } = await import('../../functions/composition-root'));
});

afterEach(() => {
  vi.restoreAllMocks();
});

const PATH_TO: Partial<Record<OrderStatus, readonly OrderStatus[]>> = {
  PENDING_PAYMENT: [],
  PAID: [OrderStatus.PAID],
  CANCELLED: [OrderStatus.CANCELLED],
  FULFILLING: [OrderStatus.PAID, OrderStatus.FULFILLING],
  FULFILLED: [OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.FULFILLED],
  FULFILLMENT_FAILED: [OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.FULFILLMENT_FAILED],
};

/** A new order moved through the real service to `status`. */
async function orderIn(status: OrderStatus): Promise<Order> {
  const { order } = await orders.placeOrder({
    customerId: 'customer-logistics',
    currency: 'EUR',
    items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }],
  });
  let current = order;
  for (const to of PATH_TO[status] ?? []) current = await orders.moveOrder(order.orderId, to, 'test setup');
  return current;
}

function report(orderId: string, status: LogisticsStatus, eventId = `lg_${randomUUID()}`): SQSRecord {
  return sqsRecord({
    body: JSON.stringify({ eventId, orderId, status, occurredAt: new Date().toISOString() }),
    messageGroupId: orderId,
  });
}

function deliver(...records: SQSRecord[]): Promise<SQSBatchResponse> {
  return handler(sqsEvent(records), lambdaContext);
}

/** The same record delivered again, as SQS does after the visibility timeout. */
function again(record: SQSRecord, receiveCount: number): SQSRecord {
  return { ...record, attributes: { ...record.attributes, ApproximateReceiveCount: String(receiveCount) } };
}

interface SentCommand {
  readonly command: string;
  /** What DynamoDB reports it consumed; a refused conditional write reports nothing here. */
  readonly writeUnits?: number;
}

/** Every DynamoDB command the handler sends while `during` runs, refused or not (the SDK's own retries aside). */
async function dynamoDbCommandsOf(during: () => Promise<unknown>): Promise<SentCommand[]> {
  const sent: SentCommand[] = [];
  const name = 'countTestCommands';
  handlerDynamoDb().middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName).replace(/Command$/, '');
      try {
        const result = await next({
          ...args,
          input: { ...(args.input as object), ReturnConsumedCapacity: 'TOTAL' },
        });
        const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
          .ConsumedCapacity;
        sent.push({ command, writeUnits: consumed?.CapacityUnits });
        return result;
      } catch (error) {
        sent.push({ command });
        throw error;
      }
    },
    { step: 'initialize', name },
  );
  try {
    await during();
  } finally {
    handlerDynamoDb().middlewareStack.remove(name);
  }
  return sent;
}

async function timelineOf(orderId: string): Promise<{ to: OrderStatus; reason: string }[]> {
  const { history } = await orders.getOrder(orderId);
  return history.map((entry) => ({ to: entry.to, reason: entry.reason }));
}

/** The logistics part of a timeline climbs strictly: no backward move, no status twice. */
function expectClimbing(statuses: readonly OrderStatus[]): void {
  const ranks = statuses.map((status) => progressionRank(status)).filter((rank) => rank !== undefined);
  expect(ranks).toEqual([...ranks].sort((left, right) => left - right));
  expect(new Set(ranks).size).toBe(ranks.length);
}

describe('status-events consumer: forward only', () => {
  it('moves a FULFILLED order straight to DELIVERED (a skip), with the report in the timeline', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.FULFILLED);
    const eventId = `lg_${randomUUID()}`;
    const record = report(order.orderId, OrderStatus.DELIVERED, eventId);

    // Act
    const response = await deliver(record);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const { order: after } = await orders.getOrder(order.orderId);
    expect(after).toMatchObject({ status: OrderStatus.DELIVERED, version: order.version + 1 });
    const timeline = await timelineOf(order.orderId);
    expect(timeline.at(-1)).toEqual({
      to: OrderStatus.DELIVERED,
      reason: `logistics ${eventId} at ${JSON.parse(record.body).occurredAt}`,
    });
  });

  it('acknowledges and ignores a duplicate and a stale report, writing nothing', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.FULFILLED);
    const shipped = report(order.orderId, OrderStatus.SHIPPED);
    expect((await deliver(shipped)).batchItemFailures).toEqual([]);
    const before = await orders.getOrder(order.orderId);
    const infos = vi.spyOn(logger, 'info');

    // Act: the same message again, the same status under a new event id, and an older status.
    const responses = [
      await deliver(again(shipped, 2)),
      await deliver(report(order.orderId, OrderStatus.SHIPPED)),
      await deliver(report(order.orderId, OrderStatus.OUTBOUND)),
    ];

    // Assess
    expect(responses.map((response) => response.batchItemFailures)).toEqual([[], [], []]);
    expect(await orders.getOrder(order.orderId)).toEqual(before);
    expect(infos).toHaveBeenCalledWith(
      'status event ignored',
      expect.objectContaining({ orderId: order.orderId, reason: 'stale', orderStatus: 'SHIPPED' }),
    );
    expect(infos).toHaveBeenCalledWith(
      'status event ignored',
      expect.objectContaining({ orderId: order.orderId, reason: 'duplicate', orderStatus: 'SHIPPED' }),
    );
  });

  it.each([OrderStatus.CANCELLED, OrderStatus.FULFILLMENT_FAILED])(
    'acknowledges a report for a %s order with a warning and writes nothing',
    async (status) => {
      // Prepare
      const order = await orderIn(status);
      const warnings = vi.spyOn(logger, 'warn');

      // Act
      const response = await deliver(report(order.orderId, OrderStatus.SHIPPED));

      // Assess
      expect(response.batchItemFailures).toEqual([]);
      expect((await orders.getOrder(order.orderId)).order).toEqual(order);
      expect(warnings).toHaveBeenCalledWith(
        expect.stringContaining('can never reach it'),
        expect.objectContaining({ orderId: order.orderId, orderStatus: status }),
      );
    },
  );

  it('fails a report for an order nobody created, so it is retried and can reach the DLQ', async () => {
    // Prepare
    const record = report(ulid(), OrderStatus.OUTBOUND);

    // Act
    const response = await deliver(record);

    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
  });
});

describe('status-events consumer: reports ahead of fulfilment', () => {
  it.each([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.FULFILLING])(
    'fails the reports of a %s order (holding its group) while other orders go on, then applies them in order',
    async (status) => {
      // Prepare
      const early = await orderIn(status);
      const other = await orderIn(OrderStatus.FULFILLED);
      const outbound = report(early.orderId, OrderStatus.OUTBOUND);
      const shipped = report(early.orderId, OrderStatus.SHIPPED);
      const otherShipped = report(other.orderId, OrderStatus.SHIPPED);

      // Act
      const during = await deliver(outbound, otherShipped, shipped);
      const remaining = PATH_TO.FULFILLED?.slice(PATH_TO[status]?.length ?? 0) ?? [];
      for (const to of remaining) await orders.moveOrder(early.orderId, to, 'fulfilment finished');
      const after = await deliver(again(outbound, 2), again(shipped, 2));

      // Assess
      expect(during.batchItemFailures).toEqual([
        { itemIdentifier: outbound.messageId },
        { itemIdentifier: shipped.messageId },
      ]);
      expect((await orders.getOrder(other.orderId)).order.status).toBe(OrderStatus.SHIPPED);
      expect(after.batchItemFailures).toEqual([]);
      const timeline = (await timelineOf(early.orderId)).map((entry) => entry.to);
      expect(timeline.slice(-3)).toEqual([OrderStatus.FULFILLED, OrderStatus.OUTBOUND, OrderStatus.SHIPPED]);
    },
  );
});

describe('status-events consumer: poison and groups', () => {
  it('fails a poison message and the rest of its group, logs why, and lets the other group through', async () => {
    // Prepare
    const blocked = await orderIn(OrderStatus.FULFILLED);
    const flowing = await orderIn(OrderStatus.FULFILLED);
    const poison = sqsRecord({
      body: JSON.stringify({ orderId: blocked.orderId, status: 'TELEPORTED' }),
      messageGroupId: blocked.orderId,
    });
    const blockedLater = report(blocked.orderId, OrderStatus.OUTBOUND);
    const flowingFirst = report(flowing.orderId, OrderStatus.OUTBOUND);
    const flowingSecond = report(flowing.orderId, OrderStatus.DELIVERED);
    const errors = vi.spyOn(logger, 'error');

    // Act
    const response = await deliver(poison, flowingFirst, blockedLater, flowingSecond);

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: poison.messageId },
      { itemIdentifier: blockedLater.messageId },
    ]);
    expect((await orders.getOrder(blocked.orderId)).order).toEqual(blocked);
    expect((await timelineOf(flowing.orderId)).map((entry) => entry.to).slice(-2)).toEqual([
      OrderStatus.OUTBOUND,
      OrderStatus.DELIVERED,
    ]);
    expect(errors).toHaveBeenCalledWith(
      expect.stringContaining('poison message'),
      expect.objectContaining({
        messageId: poison.messageId,
        messageGroupId: blocked.orderId,
        code: 'INVALID_STATUS_EVENT',
        issues: expect.arrayContaining([
          expect.objectContaining({ path: 'eventId' }),
          expect.objectContaining({ path: 'status' }),
        ]),
      }),
    );
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

describe('status-events consumer: concurrent consumers', () => {
  it('never regresses an order when several consumers apply its reports at once (a redrive racing the queue)', async () => {
    // Prepare: per order, every report in its own concurrent invocation, in an order that differs per order.
    const permutations: readonly LogisticsStatus[][] = [
      [OrderStatus.DELIVERED, OrderStatus.OUTBOUND, OrderStatus.SHIPPED],
      [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.DELIVERED],
      [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.OUTBOUND],
      [OrderStatus.SHIPPED, OrderStatus.OUTBOUND, OrderStatus.SHIPPED],
      [OrderStatus.OUTBOUND, OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.SHIPPED],
    ];
    const cases = await Promise.all(
      Array.from({ length: 15 }, async (_, index) => ({
        order: await orderIn(OrderStatus.FULFILLED),
        statuses: permutations[index % permutations.length] ?? [],
      })),
    );

    // Act: each consumer is its own tracker over the real conditional writes (one Lambda environment handles
    // one batch at a time, so concurrency means several environments, not one handler called twice).
    const outcomes = await Promise.all(
      cases.flatMap(({ order, statuses }) =>
        statuses.map((status) =>
          new StatusTracker({ orders: repository, clock: { now: () => new Date() } }).apply({
            eventId: `lg_${randomUUID()}`,
            orderId: order.orderId,
            status,
            occurredAt: new Date().toISOString(),
          }),
        ),
      ),
    );

    // Assess
    for (const { order, statuses } of cases) {
      const highest = statuses.reduce((top, status) =>
        (progressionRank(status) ?? 0) > (progressionRank(top) ?? 0) ? status : top,
      );
      const timeline = (await timelineOf(order.orderId)).map((entry) => entry.to);
      expect((await orders.getOrder(order.orderId)).order.status).toBe(highest);
      expectClimbing(timeline);
    }
    expect(outcomes.filter((outcome) => outcome.kind === 'applied').length).toBeGreaterThanOrEqual(
      cases.length,
    );
    expect(outcomes.some((outcome) => outcome.kind === 'ignored')).toBe(true);
  });
});

describe('status-events consumer: DynamoDB work per report', () => {
  it('applies each report of the happy path with one conditional write of one unit, and reads nothing', async () => {
    // Prepare
    const order = await orderIn(OrderStatus.FULFILLED);

    // Act
    const sent: SentCommand[][] = [];
    for (const status of [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.DELIVERED] as const) {
      sent.push(await dynamoDbCommandsOf(() => deliver(report(order.orderId, status))));
    }

    // Assess
    const oneWrite = [{ command: 'UpdateItem', writeUnits: 1 }];
    expect(sent).toEqual([oneWrite, oneWrite, oneWrite]);
    expect((await orders.getOrder(order.orderId)).order).toMatchObject({
      status: OrderStatus.DELIVERED,
      version: order.version + 3,
    });
  });

  it('tells a duplicate, a closed order and an order not yet fulfilled apart from that one write alone', async () => {
    // Prepare
    const shipped = await orderIn(OrderStatus.FULFILLED);
    await deliver(report(shipped.orderId, OrderStatus.SHIPPED));
    const cancelled = await orderIn(OrderStatus.CANCELLED);
    const paid = await orderIn(OrderStatus.PAID);

    const records = [
      report(shipped.orderId, OrderStatus.SHIPPED),
      report(cancelled.orderId, OrderStatus.SHIPPED),
      report(paid.orderId, OrderStatus.SHIPPED),
    ];

    // Act: one batch, one record per order, as Lambda hands them over.
    let response: SQSBatchResponse | undefined;
    const sent = await dynamoDbCommandsOf(async () => {
      response = await deliver(...records);
    });

    // Assess: only the report ahead of fulfilment returns; each record cost one refused write, no read.
    expect(response?.batchItemFailures).toEqual([{ itemIdentifier: records[2]?.messageId }]);
    expect(sent).toEqual([{ command: 'UpdateItem' }, { command: 'UpdateItem' }, { command: 'UpdateItem' }]);
  });
});

describe('status-events consumer: orders stored before issue 21', () => {
  it('moves an order item of the old shape forward, continuing its timeline version by version', async () => {
    // Prepare: a FULFILLED order item exactly as the code before issue 21 wrote it (long history entries).
    const orderId = ulid();
    const at = '2026-11-28T09:00:00.000Z';
    await putOrderBeforeIssue21(tables, {
      orderId,
      customerId: 'customer-old',
      items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }],
      paymentDeadline: at,
      timeline: [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.FULFILLING,
        OrderStatus.FULFILLED,
      ].map((to) => ({ to, at })),
    });

    // Act: the reports out of order, one of them twice.
    const responses = [
      await deliver(report(orderId, OrderStatus.SHIPPED)),
      await deliver(report(orderId, OrderStatus.OUTBOUND)),
      await deliver(report(orderId, OrderStatus.DELIVERED)),
      await deliver(report(orderId, OrderStatus.DELIVERED)),
    ];

    // Assess
    expect(responses.map((response) => response.batchItemFailures)).toEqual([[], [], [], []]);
    const { order, history } = await orders.getOrder(orderId);
    expect(order).toMatchObject({ status: OrderStatus.DELIVERED, version: 6, customerId: 'customer-old' });
    expect(history.map((entry) => [entry.version, entry.from, entry.to])).toEqual([
      [1, null, OrderStatus.PENDING_PAYMENT],
      [2, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID],
      [3, OrderStatus.PAID, OrderStatus.FULFILLING],
      [4, OrderStatus.FULFILLING, OrderStatus.FULFILLED],
      [5, OrderStatus.FULFILLED, OrderStatus.SHIPPED],
      [6, OrderStatus.SHIPPED, OrderStatus.DELIVERED],
    ]);
    expect(history.at(-1)?.reason).toMatch(/^logistics lg_/);
  });
});
