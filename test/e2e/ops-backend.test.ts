import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsoleBackend } from '../../lib/console/backend';
import { opsConsoleBackend } from '../../lib/console/ops-backend';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { STATUS_EVENTS_QUEUE } from '../../lib/model';
import { fetchAs } from '../support/auth';
import { runScript } from '../support/cli';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { opsNamesOf, startTestSystem } from '../support/local-system';
import { payOrder } from '../support/stripe';

/**
 * The console's backend on the whole local system, through `lib/ops` only: an order whose saga failed (the
 * warehouse failing) in the list, the overview and its story; a dead letter seen and redriven, the redrive
 * answering what moved; and `npm run ops -- orders list`, the same listing as a process.
 */
const STATUS_DLQ = 'status-events-dlq.fifo';
const CUSTOMER = 'console-shopper';

let system: LocalSystem;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;
let sfn: SFNClient;
let backend: ConsoleBackend;

beforeAll(async () => {
  system = await startTestSystem({
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
    sagaRetryIntervalMs: 5,
    // The scheduled reconciler stays out of the way: every payment here is the webhook's.
    scheduleRatesSeconds: { 'payment-reconciler': 3600 },
  });
  dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
  sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
  sfn = new SFNClient(localClientConfig(system.endpoints.stepfunctions));
  backend = opsConsoleBackend({
    dynamodb,
    sqs,
    sfn,
    ...(await opsNamesOf(system)),
    refundStuckAfterSeconds: 3600,
  });
});

afterAll(async () => {
  dynamodb?.destroy();
  sqs?.destroy();
  sfn?.destroy();
  await system?.stop();
});

async function placeOrder(): Promise<string> {
  const response = await fetchAs(system, CUSTOMER, '/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ currency: 'EUR', items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }] }),
  });
  if (response.status !== 201) throw new Error(`placing an order answered ${response.status}`);
  return ((await response.json()) as { orderId: string }).orderId;
}

describe('opsConsoleBackend', () => {
  it('lists, counts and tells the story of an order whose saga failed, and draws the saga', async () => {
    // Prepare
    const warehouse = system.warehouse;
    if (warehouse === undefined) throw new Error('no warehouse simulator');
    const orderId = await placeOrder();
    warehouse.setFailureRate(1);
    try {
      await payOrder(system, CUSTOMER, orderId);
      await eventually(async () => {
        const [failed] = await backend.sagas('FAILED');
        return failed?.name === `fulfillment-${orderId}` ? failed : undefined;
      }, 60_000);
    } finally {
      warehouse.setFailureRate(0);
    }

    // Act
    const page = await backend.listOrders({ status: 'FULFILLMENT_FAILED', customerId: CUSTOMER, limit: 10 });
    const overview = await backend.overview();
    const story = await backend.orderStory(orderId);
    const unknown = await backend.orderStory('01NOSUCHORDER0000000000000');
    const definition = await backend.sagaDefinition();
    const notFound = await backend.redriveSaga('fulfillment-01NOSUCHORDER0000000000000');

    // Assess
    expect(page).toEqual({
      orders: [expect.objectContaining({ orderId, status: 'FULFILLMENT_FAILED', totalAmount: 2500 })],
      next: undefined,
    });
    expect(overview).toMatchObject({
      ordersCounted: 1,
      complete: true,
      failedSagas: 1,
      ordersByStatus: { FULFILLMENT_FAILED: 1, PENDING_PAYMENT: 0, PAID: 0 },
      stuckRefunds: [],
      paymentsFoundByReconciliation: [],
    });
    expect(overview.ordersPerMinute.reduce((sum, minute) => sum + minute.count, 0)).toBe(1);
    expect(overview.deadLetterQueues.map((queue) => queue.name)).toContain(STATUS_DLQ);
    expect(story?.order).toMatchObject({ orderId, status: 'FULFILLMENT_FAILED' });
    expect(story?.saga).toMatchObject({ status: 'FAILED', error: 'FulfillmentFailed' });
    expect(unknown).toBeUndefined();
    expect(definition.States[definition.StartAt]).toBeDefined();
    expect(definition.States.PickGoods).toMatchObject({ Type: 'Task', Next: 'ShipOut' });
    expect(definition.States.PickGoods?.Catch?.map((handler) => handler.Next)).toEqual(['ReturnGoods']);
    expect(notFound).toEqual([
      expect.objectContaining({ name: 'fulfillment-01NOSUCHORDER0000000000000', outcome: 'not-found' }),
    ]);
  }, 90_000);

  it('shows a dead letter with its age and body, and its redrive answers what moved where', async () => {
    // Prepare
    const queue = system.queues[STATUS_EVENTS_QUEUE];
    if (queue === undefined) throw new Error(`no ${STATUS_EVENTS_QUEUE}`);
    const body = JSON.stringify({ note: 'parked by the test' });
    const before = new Date();
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.deadLetterUrl,
        MessageBody: body,
        MessageGroupId: 'console-test',
        MessageDeduplicationId: 'console-test-1',
      }),
    );

    // Act
    const queues = await backend.deadLetterQueues();
    const shown = await backend.deadLetterMessages(STATUS_DLQ, 10);
    const redrive = await backend.redriveDeadLetters(STATUS_DLQ, undefined);

    // Assess
    const seen = queues.find((view) => view.name === STATUS_DLQ);
    expect(seen).toMatchObject({ source: STATUS_EVENTS_QUEUE, approximateMessages: 1 });
    expect(Date.parse(seen?.oldestSentAt ?? '')).toBeGreaterThanOrEqual(before.getTime() - 1000);
    expect(shown.queue).toEqual({ ...seen, name: STATUS_DLQ });
    expect(shown.messages).toEqual([expect.objectContaining({ messageGroupId: 'console-test', body })]);
    expect(redrive).toEqual({
      deadLetterQueue: STATUS_DLQ,
      sourceQueue: STATUS_EVENTS_QUEUE,
      moved: 1,
      skipped: 0,
    });
  }, 30_000);
});

describe('npm run ops -- orders list', () => {
  it('prints the orders of a status as JSON, as the console lists them', async () => {
    // Act
    const run = await runScript('ops.ts', [
      '--local',
      system.url,
      'orders',
      'list',
      '--status',
      'FULFILLMENT_FAILED',
      '--json',
    ]);
    const listed = await backend.listOrders({ status: 'FULFILLMENT_FAILED', limit: 50 });

    // Assess
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ orders: listed.orders, next: null });
    expect(listed.orders).toHaveLength(1);
  }, 60_000);
});
