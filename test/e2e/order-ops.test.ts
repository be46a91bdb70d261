import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { appModel, STATUS_EVENTS_QUEUE, withMaxReceiveCount } from '../../lib/model';
import { runDlqCommand } from '../../lib/ops/dlq';
import {
  OrderCommandErrorCode,
  OrderNotFoundError,
  type OrderStory,
  OrderUsageError,
  runOrderCommand,
} from '../../lib/ops/order';
import { runSagasCommand } from '../../lib/ops/sagas';
import { fetchAs } from '../support/auth';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { opsNamesOf, reportLogisticsStatus, startTestSystem } from '../support/local-system';
import { payOrder } from '../support/stripe';

/**
 * The operator's view of one order on the whole local system, through a scripted incident: the warehouse is
 * down and cannot take goods back either, so the fulfilment saga fails at PickGoods and stops with
 * CompensationFailed (the order stays FULFILLING); meanwhile the carrier reports the order OUTBOUND, a report
 * that waits for fulfilment until it lands in status-events-dlq.fifo. `ops order` must show both problems with
 * their fixes, and after the warehouse recovers, the two redrives it names must bring the order to OUTBOUND.
 */
const STATUS_DLQ = 'status-events-dlq.fifo';
const LOCAL = 'http://local.test';

let system: LocalSystem;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;
let sfn: SFNClient;
let tableName: string;
let stateMachineArn: string;

beforeAll(async () => {
  system = await startTestSystem({
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
    // A report ahead of fulfilment is received twice, a second apart, then parked in its DLQ.
    model: withMaxReceiveCount(appModel, 2),
    queueVisibilityTimeoutSeconds: 1,
    sagaRetryIntervalMs: 5,
  });
  dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
  sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
  sfn = new SFNClient(localClientConfig(system.endpoints.stepfunctions));
  ({ tableName, stateMachineArn } = await opsNamesOf(system));
});

afterAll(async () => {
  dynamodb?.destroy();
  sqs?.destroy();
  sfn?.destroy();
  await system?.stop();
});

/** The one call of the order HTTP API here, so that a change to how orders are placed is made in one spot. */
async function placeOrder(): Promise<{ orderId: string }> {
  const response = await fetchAs(system, 'ops', '/orders', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      currency: 'EUR',
      items: [{ sku: 'MUG', quantity: 2, unitPrice: 1250 }],
    }),
  });
  if (response.status !== 201) throw new Error(`placing an order answered ${response.status}`);
  return (await response.json()) as { orderId: string };
}

/** `npm run ops -- order <args>` against the local system, through the library function it calls. */
function orderCommand(args: readonly string[], lines: string[]): Promise<OrderStory> {
  return runOrderCommand(args, {
    dynamodb,
    sqs,
    sfn,
    tableName,
    stateMachineArn,
    out: (line) => lines.push(line),
    commandPrefix: `npm run ops -- --local ${LOCAL}`,
  });
}

async function opsOrder(
  orderId: string,
  ...options: string[]
): Promise<{ story: OrderStory; lines: string[] }> {
  const lines: string[] = [];
  const story = await orderCommand([orderId, ...options], lines);
  return { story, lines };
}

/** Runs a fix command the story printed, through the library function that `npm run ops` calls for it. */
async function runPrinted(command: string | undefined): Promise<void> {
  const prefix = `npm run ops -- --local ${LOCAL} `;
  if (command === undefined || !command.startsWith(prefix)) throw new Error(`not a fix command: ${command}`);
  const [area, ...args] = command.slice(prefix.length).split(' ');
  const out = () => undefined;
  if (area === 'dlq') await runDlqCommand(args, { sqs, out });
  else if (area === 'sagas') await runSagasCommand(args, { sfn, stateMachineArn, out });
  else throw new Error(`no such ops area: ${area}`);
}

function warehouse() {
  if (system.warehouse === undefined) throw new Error('no warehouse simulator');
  return system.warehouse;
}

describe('npm run ops -- order <orderId>', () => {
  it('shows a failed saga and a parked report with their fixes, and after the redrives an order that moved on', async () => {
    // Prepare: the incident.
    warehouse().setFailureRate(1);
    warehouse().setCompensationFailureRate(1);
    const placed = await placeOrder();
    const paymentId = await payOrder(system, 'ops', placed.orderId);
    await eventually(async () =>
      (await opsOrder(placed.orderId)).story.saga?.status === 'FAILED' ? true : undefined,
    );
    await reportLogisticsStatus(system, {
      orderId: placed.orderId,
      status: 'OUTBOUND',
      eventId: `out-${placed.orderId}`,
    });

    // Act: what the operator sees.
    const during = await eventually(async () => {
      const seen = await opsOrder(placed.orderId);
      return seen.story.deadLetters.length > 0 ? seen : undefined;
    });

    // Assess
    const executionName = `fulfillment-${placed.orderId}`;
    expect(during.story.order).toMatchObject({ status: 'FULFILLING', version: 3 });
    expect(during.story.problems.map((problem) => [problem.summary, problem.command])).toEqual([
      [`1 message in ${STATUS_DLQ}`, `npm run ops -- --local ${LOCAL} dlq redrive ${STATUS_EVENTS_QUEUE}`],
      [
        expect.stringMatching(/^saga FAILED at PickGoods: LogisticsUnavailableError: /),
        `npm run ops -- --local ${LOCAL} sagas redrive ${executionName}`,
      ],
    ]);
    expect(during.story.deadLetters).toEqual([
      expect.objectContaining({
        queue: STATUS_DLQ,
        source: STATUS_EVENTS_QUEUE,
        messages: [expect.objectContaining({ messageGroupId: placed.orderId })],
      }),
    ]);
    expect(during.story.saga).toMatchObject({
      status: 'FAILED',
      error: 'CompensationFailed',
      redriveCount: 0,
    });
    const steps = during.story.saga?.steps.map((step) => [step.name, step.compensation, step.outcome]);
    expect(steps).toEqual([
      ['CreateFulfillmentOrder', false, 'succeeded'],
      ['PickGoods', false, 'failed'],
      ['ReturnGoods', true, 'failed'],
      ['ReturnGoodsFailed', true, 'succeeded'],
      ['CompensationFailed', true, 'failed'],
    ]);
    const pick = during.story.saga?.steps.find((step) => step.name === 'PickGoods');
    // The first attempt and the definition's four retries, each failed.
    expect(pick?.attempts).toBe(5);
    expect(pick?.failures).toHaveLength(5);
    expect(during.story.events.map((event) => [event.type, event.eventId])).toEqual([
      ['OrderPlaced', `${placed.orderId}:v1`],
      ['OrderStatusChanged', `${placed.orderId}:v2`],
      ['PaymentSucceeded', `${paymentId}:SUCCEEDED`],
      ['OrderStatusChanged', `${placed.orderId}:v3`],
    ]);
    expect(during.lines).toEqual(
      expect.arrayContaining([
        `Order ${placed.orderId}: FULFILLING (version 3)`,
        'PROBLEMS (2)',
        `  ! 1 message in ${STATUS_DLQ}`,
        `      once the cause is fixed: npm run ops -- --local ${LOCAL} dlq redrive ${STATUS_EVENTS_QUEUE}`,
        expect.stringMatching(/^ {6}compensation ReturnGoods failed too: LogisticsUnavailableError: /),
        `SAGA ${executionName}: FAILED`,
        expect.stringMatching(/^ {4}\S+ {2}ReturnGoods \[compensation\] {2}failed after 11 attempts$/),
        `  ${STATUS_DLQ}: 1 message(s) of this order (of about 1)`,
      ]),
    );

    // Act: the warehouse is back; the operator runs the two printed commands, the saga's first.
    warehouse().setFailureRate(0);
    warehouse().setCompensationFailureRate(0);
    await runPrinted(during.story.problems[1]?.command);
    await eventually(async () => {
      const { story } = await opsOrder(placed.orderId);
      return story.order?.status === 'FULFILLED' && story.saga?.status === 'SUCCEEDED' ? true : undefined;
    });
    await runPrinted(during.story.problems[0]?.command);
    const after = await eventually(async () => {
      const seen = await opsOrder(placed.orderId, '--json');
      return seen.story.order?.status === 'OUTBOUND' ? seen : undefined;
    });

    // Assess
    expect(after.story.problems).toEqual([]);
    expect(after.story.deadLetters).toEqual([]);
    expect(after.story.saga).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
    expect(
      after.story.saga?.steps
        .filter((step) => step.run === 1)
        .map((step) => [step.name, step.compensation, step.outcome]),
    ).toEqual([
      ['CreateFulfillmentOrder', false, 'succeeded'],
      ['PickGoods', false, 'succeeded'],
      ['ShipOut', false, 'succeeded'],
      ['MarkOrderFulfilled', false, 'succeeded'],
      ['Fulfilled', false, 'succeeded'],
    ]);
    expect(after.story.timeline.map((entry) => entry.to)).toEqual([
      'PENDING_PAYMENT',
      'PAID',
      'FULFILLING',
      'FULFILLED',
      'OUTBOUND',
    ]);
    expect(after.story.events.at(-1)).toMatchObject({
      type: 'OrderStatusChanged',
      eventId: `${placed.orderId}:v5`,
      detail: 'FULFILLED -> OUTBOUND',
    });
    expect(JSON.parse(after.lines.join('\n'))).toMatchObject({
      orderId: placed.orderId,
      order: { status: 'OUTBOUND' },
      problems: [],
    });
  }, 120_000);

  it('refuses an order the table does not have, printing its story only as JSON, and a call without exactly one order id', async () => {
    // Prepare
    const unknownId = '01M8ZZZZZZZZZZZZZZZZZZZZZZ';
    const refusalOf = (args: string[], out: (line: string) => void = () => undefined) =>
      runOrderCommand(args, { dynamodb, sqs, sfn, tableName, stateMachineArn, out }).then(
        () => undefined,
        (error: unknown) => error,
      );
    const text: string[] = [];
    const json: string[] = [];

    // Act
    const unknown = await refusalOf([unknownId], (line) => text.push(line));
    const unknownAsJson = await refusalOf([unknownId, '--json'], (line) => json.push(line));
    const refusals = await Promise.all([[], ['--json'], ['one', 'two']].map((args) => refusalOf(args)));

    // Assess
    for (const notFound of [unknown, unknownAsJson]) {
      expect(notFound).toBeInstanceOf(OrderNotFoundError);
      expect(notFound).toMatchObject({
        code: OrderCommandErrorCode.NOT_FOUND,
        message: `no order ${unknownId} exists in table ${tableName}`,
        story: { order: undefined, timeline: [], saga: undefined, deadLetters: [], problems: [] },
      });
    }
    expect(text).toEqual([]);
    expect(JSON.parse(json.join('\n'))).toMatchObject({ orderId: unknownId, order: null, problems: [] });
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(OrderUsageError);
      expect(refusal).toMatchObject({ code: OrderCommandErrorCode.USAGE });
    }
  });

  it('shows what a DLQ holds under an id the table does not have, and still refuses it', async () => {
    // Prepare: a report for an order that was never placed, parked in the status DLQ.
    const strayId = '01M8YYYYYYYYYYYYYYYYYYYYYY';
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: STATUS_DLQ }));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: JSON.stringify({ eventId: `out-${strayId}`, orderId: strayId, status: 'OUTBOUND' }),
        MessageGroupId: strayId,
        MessageDeduplicationId: `out-${strayId}`,
      }),
    );
    const lines: string[] = [];

    // Act
    const refusal = await orderCommand([strayId], lines).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Assess
    expect(refusal).toBeInstanceOf(OrderNotFoundError);
    expect(lines[0]).toBe(`Order ${strayId}: not found in table ${tableName}`);
    expect(lines).toContain(`  ${STATUS_DLQ}: 1 message(s) of this order (of about 1)`);
  });
});
