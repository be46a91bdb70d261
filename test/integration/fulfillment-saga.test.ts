import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../functions/adapters/dynamodb-table';
import { HttpTransport } from '../../functions/adapters/http-transport';
import { HttpWarehouse } from '../../functions/adapters/http-warehouse';
import {
  ConcurrentModificationError,
  InvalidTransitionError,
  ValidationError,
} from '../../functions/domain/errors';
import { LogisticsUnavailableError, type PickLine } from '../../functions/domain/fulfillment-ports';
import type { OrderService } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, RefundReason } from '../../functions/domain/payment';
import type { PaymentService } from '../../functions/domain/payment-service';
import {
  ActionRefusedError,
  LedgerContentionError,
  StepCompensatedError,
} from '../../functions/domain/saga-ledger';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../../lib/asl-substitutions';
import { type LocalStepFunctions, startLocalStepFunctions } from '../../lib/local/aws/step-functions/server';
import { FunctionInvocationError, type FunctionInvoker } from '../../lib/local/invoker';
import {
  startTransportSimulator,
  startWarehouseSimulator,
  type TransportSimulator,
  type WarehouseSimulator,
} from '../../lib/local/outside-parties/logistics-simulators';
import { installSdkInstrumentation, type Usage } from '../../lib/local/runtime/sdk-instrumentation';
import { loadStateMachines } from '../../lib/local/runtime/wiring';
import { appModel } from '../../lib/model';
import {
  createTestTables,
  TEST_CREDENTIALS,
  type TestTables,
  useTablesForHandlers,
} from '../support/dynamodb';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import { waitFor } from '../support/local-functions';
import {
  lambdaContext,
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentServiceOn,
  sampleOrder,
} from '../support/payment-window';

const ROOT = resolve(import.meta.dirname, '../..');
// Meters every AWS SDK request of this process (the participants run in it), as the local runtime does per function.
const instrumentation = installSdkInstrumentation();
const DECLARATION = appModel.stateMachines.find((machine) => machine.name === 'fulfillment');
if (DECLARATION === undefined) throw new Error('the model declares no fulfillment state machine');
const ASL_TEXT = readFileSync(resolve(ROOT, DECLARATION.definition), 'utf8');

interface AslRetrier {
  readonly ErrorEquals: readonly string[];
  readonly MaxAttempts?: number;
  readonly IntervalSeconds?: number;
  readonly BackoffRate?: number;
  readonly JitterStrategy?: string;
}

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Next?: string;
  readonly Error?: string;
  readonly Default?: string;
  readonly Choices?: readonly Readonly<Record<string, unknown>>[];
  readonly Retry?: readonly AslRetrier[];
  readonly Catch?: readonly {
    readonly ErrorEquals: readonly string[];
    readonly Next: string;
    readonly ResultPath?: string;
  }[];
}

const ASL = JSON.parse(ASL_TEXT) as {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
};
const FORWARD_STEPS = ['CreateFulfillmentOrder', 'PickGoods', 'ShipOut', 'MarkOrderFulfilled'] as const;
const COMPENSATIONS = [
  'CancelShipment',
  'ReturnGoods',
  'CancelFulfillmentOrder',
  'MarkFulfillmentFailed',
] as const;

// asl-validator ships no type declarations; this is the part of its CommonJS export the test uses.
const validateAsl = createRequire(import.meta.url)('asl-validator') as (
  definition: object,
  options: { readonly checkArn: boolean; readonly checkPaths: boolean },
) => { readonly isValid: boolean; errorsText(separator?: string): string };

function state(name: string): AslState {
  const found = ASL.States[name];
  if (found === undefined) throw new Error(`the ASL has no state ${name}`);
  return found;
}

/** The saga's participants, imported into this process; a thrown error is reported by name, as Lambda does. */
type TaskHandler = (event: unknown, context: Context) => Promise<unknown>;

/** An error a test forces on a task, before or after the real handler ran. */
class ForcedTaskError extends Error {
  public override readonly name = 'Local.ForcedTaskFailure';
}

interface Fault {
  readonly functionName: string;
  /** `operation` or `outcome` of the task input. */
  readonly task: string;
  readonly when: 'beforeHandler' | 'afterHandler';
  remaining: number;
}

function taskOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const value = 'operation' in event ? event.operation : 'outcome' in event ? event.outcome : undefined;
  return typeof value === 'string' ? value : undefined;
}

class InProcessInvoker implements FunctionInvoker {
  public readonly calls: { readonly functionName: string; readonly task: string | undefined }[] = [];
  private faults: Fault[] = [];

  public constructor(private readonly handlers: Readonly<Record<string, TaskHandler>>) {}

  public fail(fault: Omit<Fault, 'remaining'> & { readonly times?: number }): void {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  public reset(): void {
    this.faults = [];
    this.calls.length = 0;
  }

  public callsOf(functionName: string, task: string): number {
    return this.calls.filter((call) => call.functionName === functionName && call.task === task).length;
  }

  public async invoke(functionName: string, event: unknown): Promise<unknown> {
    const task = taskOf(event);
    this.calls.push({ functionName, task });
    const handler = this.handlers[functionName];
    if (handler === undefined) throw new Error(`no handler for ${functionName}`);
    const fault = this.faults.find(
      (candidate) =>
        candidate.functionName === functionName && candidate.task === task && candidate.remaining > 0,
    );
    if (fault !== undefined) fault.remaining -= 1;
    try {
      if (fault?.when === 'beforeHandler')
        throw new ForcedTaskError(`${functionName} ${task} forced to fail`);
      const result = await handler(event, lambdaContext);
      if (fault?.when === 'afterHandler')
        throw new ForcedTaskError(`${functionName} ${task} failed after acting`);
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      throw new FunctionInvocationError(functionName, failure.name, failure.message);
    }
  }
}

let tables: TestTables;
let warehouse: WarehouseSimulator;
let transport: TransportSimulator;
let invoker: InProcessInvoker;
let sfn: LocalStepFunctions;
let client: SFNClient;
let orders: OrderService;
let payments: PaymentService;
let provider: InMemoryPaymentProvider;
const newOrderId = orderIds('01SAGA');

beforeAll(async () => {
  tables = await createTestTables();
  warehouse = await startWarehouseSimulator();
  transport = await startTransportSimulator();
  useTablesForHandlers(tables, { WAREHOUSE_API_URL: warehouse.url, TRANSPORT_API_URL: transport.url });
  const handlers: Record<string, TaskHandler> = {};
  for (const name of ['fulfillment-order', 'warehouse-pick', 'transport-ship', 'fulfillment-outcome']) {
    const declaration = appModel.functions.find((candidate) => candidate.name === name);
    if (declaration === undefined) throw new Error(`the model declares no function ${name}`);
    const module = (await import(resolve(ROOT, declaration.entry))) as { handler: TaskHandler };
    handlers[name] = module.handler;
  }
  invoker = new InProcessInvoker(handlers);
  sfn = await startLocalStepFunctions({
    stateMachines: await loadStateMachines({ ...appModel, stateMachines: [DECLARATION] }, ROOT),
    invoker,
    region: 'us-east-1',
    accountId: '000000000000',
    retryIntervalMs: 2,
  });
  client = new SFNClient({ endpoint: sfn.url, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  const clock = new ManualClock(new Date());
  orders = orderServiceOn(tables, {
    clock,
    paymentTimeoutSeconds: 1800,
    newOrderId,
  });
  provider = new InMemoryPaymentProvider({ now: () => new Date() });
  payments = paymentServiceOn(tables, clock, { provider });
});

afterAll(async () => {
  client?.destroy();
  await sfn?.stop();
  await warehouse?.stop();
  await transport?.stop();
});

afterEach(() => {
  invoker.reset();
  for (const simulator of [warehouse, transport]) {
    simulator.setFailureRate(0);
    simulator.setCompensationFailureRate(0);
    simulator.failNextActions(0);
  }
});

interface SagaInput {
  readonly orderId: string;
  readonly paymentId: string;
  readonly amount: number;
  readonly currency: string;
}

/** An order as the order-events consumer hands it to the saga: paid (payment SUCCEEDED) and FULFILLING. */
async function fulfillingOrder(): Promise<SagaInput> {
  const { order } = await orders.placeOrder(sampleOrder);
  const { intent } = await payments.preparePayment(order.orderId, order.customerId);
  await payments.handleProviderEvent(provider.pay(intent.paymentId), PaymentFactSource.WEBHOOK);
  await orders.moveOrder(order.orderId, OrderStatus.FULFILLING, 'fulfilment requested');
  const { order: fulfilling } = await orders.getOrder(order.orderId);
  expect(fulfilling.status).toBe(OrderStatus.FULFILLING);
  return {
    orderId: order.orderId,
    paymentId: intent.paymentId,
    amount: order.totalAmount,
    currency: order.currency,
  };
}

/** The DynamoDB requests and write units in `usage`, by operation and in total. */
function dynamoDbWork(usage: Usage) {
  const operations = Object.entries(usage).filter(([key]) => key.startsWith('DynamoDB:'));
  return {
    requests: Object.fromEntries(operations.map(([key, used]) => [key, used.requests])),
    totalRequests: operations.reduce((sum, [, used]) => sum + used.requests, 0),
    writeUnits: operations.reduce((sum, [, used]) => sum + used.writeCapacityUnits, 0),
  };
}

interface Finished {
  readonly execution: DescribeExecutionCommandOutput;
  /** Names of the Task states entered, in order. */
  readonly tasks: string[];
}

async function runSaga(input: SagaInput & { readonly items?: readonly PickLine[] }): Promise<Finished> {
  const arn = sfn.stateMachineArns.fulfillment;
  const { executionArn } = await client.send(
    new StartExecutionCommand({ stateMachineArn: arn, name: input.orderId, input: JSON.stringify(input) }),
  );
  let execution: DescribeExecutionCommandOutput | undefined;
  await waitFor(async () => {
    execution = await client.send(new DescribeExecutionCommand({ executionArn }));
    return execution.status !== 'RUNNING';
  });
  const history = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
  const tasks = (history.events ?? []).flatMap((event) =>
    event.type === 'TaskStateEntered' && event.stateEnteredEventDetails?.name !== undefined
      ? [event.stateEnteredEventDetails.name]
      : [],
  );
  if (execution === undefined) throw new Error('the execution was never described');
  return { execution, tasks };
}

async function orderAndPayment(input: SagaInput) {
  const { order, payments: recorded } = await orders.getOrder(input.orderId);
  return { order, payment: recorded.find((payment) => payment.paymentId === input.paymentId) };
}

async function ledgerEntry(orderId: string, step: string) {
  const { Item } = await tables.documentClient.send(
    new GetCommand({
      TableName: tables.ordersTableName,
      Key: keys.sagaStep(orderId, step),
      ConsistentRead: true,
    }),
  );
  return Item;
}

function picksOf(orderId: string) {
  return warehouse.picks().filter((pick) => pick.orderId === orderId);
}

function shipmentsOf(orderId: string) {
  return transport.shipments().filter((shipment) => shipment.orderId === orderId);
}

async function expectFailedAndRefundOwed(input: SagaInput, finished: Finished): Promise<void> {
  expect(finished.execution.status).toBe('FAILED');
  expect(finished.execution.error).toBe('FulfillmentFailed');
  const { order, payment } = await orderAndPayment(input);
  expect(order.status).toBe(OrderStatus.FULFILLMENT_FAILED);
  expect(payment).toMatchObject({
    status: PaymentStatus.REFUND_PENDING,
    refundReason: RefundReason.FULFILLMENT_FAILED,
  });
}

describe('the fulfilment state machine definition', () => {
  it('is valid Amazon States Language once its placeholders are substituted', async () => {
    const [machine] = await loadStateMachines({ ...appModel, stateMachines: [DECLARATION] }, ROOT);
    if (machine === undefined) throw new Error('no state machine was loaded');

    const result = validateAsl(machine.definition, { checkArn: true, checkPaths: true });

    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('names only declared functions, each Task through a placeholder', () => {
    const declared = new Set(
      appModel.functions.map((declaration) => functionArnSubstitutionKey(declaration.name)),
    );
    const tasks = Object.values(ASL.States).filter((candidate) => candidate.Type === 'Task');

    const used = functionArnKeysIn(ASL_TEXT);

    expect(used.sort()).toEqual(
      ['fulfillment-order', 'warehouse-pick', 'transport-ship', 'fulfillment-outcome']
        .map(functionArnSubstitutionKey)
        .sort(),
    );
    expect(used.every((key) => declared.has(key))).toBe(true);
    expect(tasks).toHaveLength(FORWARD_STEPS.length + 1 + COMPENSATIONS.length);
    expect(tasks.every((task) => /^\$\{FunctionArn_[a-z_]+\}$/.test(task.Resource ?? ''))).toBe(true);
  });

  it('retries the transient errors of the participants, bounded and jittered, and no permanent one', () => {
    const transient = [
      new LogisticsUnavailableError('warehouse', 'down').name,
      new LedgerContentionError({ orderId: 'o', step: 's' }).name,
      new ConcurrentModificationError('o').name,
      'Lambda.ServiceException',
      'Lambda.TooManyRequestsException',
      'Sandbox.Timedout',
    ];
    const permanent = [
      new StepCompensatedError({ orderId: 'o', step: 's' }).name,
      new ValidationError([]).name,
      new InvalidTransitionError('o', 'PAID', 'FULFILLED').name,
    ];
    for (const name of [...FORWARD_STEPS, ...COMPENSATIONS]) {
      const [first] = state(name).Retry ?? [];
      expect(first?.ErrorEquals, name).toEqual(expect.arrayContaining(transient));
      expect(
        first?.ErrorEquals.some((error) => permanent.includes(error)),
        name,
      ).toBe(false);
      expect(first, name).toMatchObject({ JitterStrategy: 'FULL', BackoffRate: expect.any(Number) });
      expect(first?.IntervalSeconds, name).toBeGreaterThan(0);
    }
    const forwardAttempts = FORWARD_STEPS.map((name) => state(name).Retry?.[0]?.MaxAttempts ?? 0);
    const compensationAttempts = COMPENSATIONS.map((name) => state(name).Retry?.[0]?.MaxAttempts ?? 0);
    expect(Math.max(...forwardAttempts)).toBeLessThanOrEqual(5);
    expect(Math.min(...compensationAttempts)).toBeGreaterThan(Math.max(...forwardAttempts));
  });

  it('sends every failure to the compensations of the steps done, the failing one first, in reverse order', () => {
    const chainFrom = (start: string): string[] => {
      const chain: string[] = [];
      for (let next: string | undefined = start; next !== undefined && state(next).Type === 'Task'; ) {
        chain.push(next);
        next = state(next).Next;
      }
      return chain;
    };
    const caughtBy = (name: string) => {
      const catcher = state(name).Catch?.find((candidate) => candidate.ErrorEquals.includes('States.ALL'));
      expect(catcher?.ResultPath, name).toBe('$.failure');
      return chainFrom(catcher?.Next ?? '');
    };

    expect(caughtBy('CreateFulfillmentOrder')).toEqual(['CancelFulfillmentOrder', 'MarkFulfillmentFailed']);
    expect(caughtBy('PickGoods')).toEqual(['ReturnGoods', 'CancelFulfillmentOrder', 'MarkFulfillmentFailed']);
    expect(caughtBy('ShipOut')).toEqual([...COMPENSATIONS]);
    expect(caughtBy('MarkOrderFulfilled')).toEqual(['CheckFulfilled']);
    const afterCheck = state(state('CheckFulfilled').Next ?? '');
    expect(afterCheck).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.fulfilledCheck.fulfilled', BooleanEquals: true, Next: 'Fulfilled' }],
    });
    expect(chainFrom(afterCheck.Default ?? '')).toEqual([...COMPENSATIONS]);
    expect(state('CheckFulfilled').Catch).toBeUndefined();
    expect(state(state('MarkFulfillmentFailed').Next ?? '').Next).toBe('FulfillmentFailed');
    expect(state('FulfillmentFailed')).toMatchObject({ Type: 'Fail', Error: 'FulfillmentFailed' });
    for (const name of COMPENSATIONS) {
      const catcher = state(name).Catch?.find((candidate) => candidate.ErrorEquals.includes('States.ALL'));
      const report = state(catcher?.Next ?? '');
      expect(report.Type, name).toBe('Pass');
      expect(state(report.Next ?? ''), name).toMatchObject({ Type: 'Fail', Error: 'CompensationFailed' });
    }
  });
});

describe('the fulfilment saga on the local Step Functions endpoint', () => {
  it('fulfils a paid order with one pick and one shipment', async () => {
    const input = await fulfillingOrder();

    const finished = await runSaga(input);

    expect(finished.execution.status).toBe('SUCCEEDED');
    expect(finished.tasks).toEqual([...FORWARD_STEPS]);
    const { order, payment } = await orderAndPayment(input);
    expect(order.status).toBe(OrderStatus.FULFILLED);
    expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(picksOf(input.orderId)).toEqual([
      expect.objectContaining({ status: 'picked', items: [{ sku: 'MUG', quantity: 1 }] }),
    ]);
    expect(shipmentsOf(input.orderId)).toEqual([expect.objectContaining({ status: 'booked' })]);
    const output = JSON.parse(finished.execution.output ?? '{}') as Record<string, unknown>;
    expect(output).toMatchObject({
      ...input,
      fulfillmentOrder: { fulfillmentOrderId: `FO-${input.orderId}` },
      pick: { pickId: picksOf(input.orderId)[0]?.pickId },
      shipment: { shipmentId: shipmentsOf(input.orderId)[0]?.shipmentId },
      outcome: { outcome: 'fulfilled' },
    });
  });

  it('does its happy path in 6 DynamoDB requests and 6 write units when the input carries the order lines', async () => {
    const input = await fulfillingOrder();
    instrumentation.takeUsage();

    const finished = await runSaga({ ...input, items: [{ sku: 'MUG', quantity: 1 }] });
    const work = dynamoDbWork(instrumentation.takeUsage());

    expect(finished.execution.status).toBe('SUCCEEDED');
    // fulfillment-order: its entry, created DONE. warehouse-pick and transport-ship: claim, then DONE.
    // fulfillment-outcome: FULFILLING -> FULFILLED. No reads: every failed condition would return what it found.
    expect(work.requests).toEqual({ 'DynamoDB:PutItem': 3, 'DynamoDB:UpdateItem': 3 });
    expect(work.totalRequests).toBe(6);
    expect(work.writeUnits).toBeLessThanOrEqual(6);
    expect((await orderAndPayment(input)).order.status).toBe(OrderStatus.FULFILLED);
    expect(await ledgerEntry(input.orderId, 'fulfillment-order')).toMatchObject({
      status: 'DONE',
      result: { items: [{ sku: 'MUG', quantity: 1 }] },
    });
  });

  it('reads the order once when the input has no order lines (an execution an older consumer started)', async () => {
    const input = await fulfillingOrder();
    instrumentation.takeUsage();

    const finished = await runSaga(input);
    const work = dynamoDbWork(instrumentation.takeUsage());

    expect(finished.execution.status).toBe('SUCCEEDED');
    expect(work.requests).toEqual({ 'DynamoDB:Query': 1, 'DynamoDB:PutItem': 3, 'DynamoDB:UpdateItem': 3 });
    expect(work.writeUnits).toBeLessThanOrEqual(6);
  });

  it('answers a duplicate delivery of a done task with the first result and no second side effect', async () => {
    const input = await fulfillingOrder();
    const finished = await runSaga(input);
    expect(finished.execution.status).toBe('SUCCEEDED');
    const [pick] = picksOf(input.orderId);

    const repeated = await invoker.invoke('warehouse-pick', {
      operation: 'pick',
      orderId: input.orderId,
      items: [{ sku: 'MUG', quantity: 1 }],
    });
    const outcome = await invoker.invoke('fulfillment-outcome', {
      outcome: 'FULFILLED',
      orderId: input.orderId,
    });

    expect(repeated).toEqual({ pickId: pick?.pickId });
    expect(outcome).toEqual({ orderId: input.orderId, outcome: 'alreadyFulfilled' });
    expect(picksOf(input.orderId)).toHaveLength(1);
    expect(warehouse.stats().performed).toBe(warehouse.picks().length);
  });

  it('compensates a fulfilment order whose creation failed after it was recorded', async () => {
    const input = await fulfillingOrder();
    invoker.fail({ functionName: 'fulfillment-order', task: 'create', when: 'afterHandler' });

    const finished = await runSaga(input);

    expect(finished.tasks).toEqual([
      'CreateFulfillmentOrder',
      'CancelFulfillmentOrder',
      'MarkFulfillmentFailed',
    ]);
    await expectFailedAndRefundOwed(input, finished);
    expect(await ledgerEntry(input.orderId, 'fulfillment-order')).toMatchObject({
      status: 'COMPENSATED',
      compensatedFrom: 'DONE',
      empty: false,
    });
    expect(picksOf(input.orderId)).toEqual([]);
    expect(invoker.callsOf('warehouse-pick', 'pick')).toBe(0);
  });

  it('returns nothing it never picked when the warehouse stays down, and fails the order', async () => {
    const input = await fulfillingOrder();
    warehouse.setFailureRate(1);

    const finished = await runSaga(input);

    expect(finished.tasks).toEqual([
      'CreateFulfillmentOrder',
      'PickGoods',
      'ReturnGoods',
      'CancelFulfillmentOrder',
      'MarkFulfillmentFailed',
    ]);
    await expectFailedAndRefundOwed(input, finished);
    expect(invoker.callsOf('warehouse-pick', 'pick')).toBe(
      1 + (state('PickGoods').Retry?.[0]?.MaxAttempts ?? 0),
    );
    expect(picksOf(input.orderId)).toEqual([]);
    // The pick was claimed but never done: its compensation took it over and left a tombstone under its key.
    expect(warehouse.tombstones()).toContain(`${input.orderId}:warehouse-pick`);
    expect(await ledgerEntry(input.orderId, 'warehouse-pick')).toMatchObject({
      status: 'COMPENSATED',
      compensatedFrom: 'ACTING',
    });
    expect(await ledgerEntry(input.orderId, 'fulfillment-order')).toMatchObject({ status: 'COMPENSATED' });
    expect(await ledgerEntry(input.orderId, 'transport-ship')).toBeUndefined();
  });

  it('cancels the shipment, returns the goods and cancels the fulfilment order when shipping fails', async () => {
    const input = await fulfillingOrder();
    transport.setFailureRate(1);

    const finished = await runSaga(input);

    expect(finished.tasks).toEqual([
      'CreateFulfillmentOrder',
      'PickGoods',
      'ShipOut',
      'CancelShipment',
      'ReturnGoods',
      'CancelFulfillmentOrder',
      'MarkFulfillmentFailed',
    ]);
    await expectFailedAndRefundOwed(input, finished);
    expect(picksOf(input.orderId)).toEqual([expect.objectContaining({ status: 'returned' })]);
    expect(shipmentsOf(input.orderId)).toEqual([]);
    expect(transport.tombstones()).toContain(`${input.orderId}:transport-ship`);
    expect(await ledgerEntry(input.orderId, 'warehouse-pick')).toMatchObject({ compensatedFrom: 'DONE' });
  });

  it('undoes every step when the order cannot be marked fulfilled', async () => {
    const input = await fulfillingOrder();
    invoker.fail({ functionName: 'fulfillment-outcome', task: 'FULFILLED', when: 'beforeHandler' });

    const finished = await runSaga(input);

    expect(finished.tasks).toEqual([...FORWARD_STEPS, 'CheckFulfilled', ...COMPENSATIONS]);
    await expectFailedAndRefundOwed(input, finished);
    expect(picksOf(input.orderId)).toEqual([expect.objectContaining({ status: 'returned' })]);
    expect(shipmentsOf(input.orderId)).toEqual([expect.objectContaining({ status: 'cancelled' })]);
    expect(finished.execution.cause).toMatch(/^compensated after Local\.ForcedTaskFailure: /);
  });

  it('undoes nothing when marking the order fulfilled wrote FULFILLED but its answer was lost', async () => {
    const input = await fulfillingOrder();
    invoker.fail({ functionName: 'fulfillment-outcome', task: 'FULFILLED', when: 'afterHandler' });

    const finished = await runSaga(input);

    expect(finished.execution.status).toBe('SUCCEEDED');
    expect(finished.tasks).toEqual([...FORWARD_STEPS, 'CheckFulfilled']);
    const { order, payment } = await orderAndPayment(input);
    expect(order.status).toBe(OrderStatus.FULFILLED);
    expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(picksOf(input.orderId)).toEqual([expect.objectContaining({ status: 'picked' })]);
    expect(shipmentsOf(input.orderId)).toEqual([expect.objectContaining({ status: 'booked' })]);
  });

  it('refuses a late action after a failed saga, and repeats the failure outcome without a second move', async () => {
    const input = await fulfillingOrder();
    transport.setFailureRate(1);
    const finished = await runSaga(input);
    await expectFailedAndRefundOwed(input, finished);
    transport.setFailureRate(0);
    const shipmentsBefore = transport.stats().performed;

    const lateShipment = await invoker
      .invoke('transport-ship', { operation: 'ship', orderId: input.orderId })
      .then(
        () => 'shipped',
        (error: unknown) => error,
      );
    const repeatedOutcome = await invoker.invoke('fulfillment-outcome', {
      outcome: 'FAILED',
      orderId: input.orderId,
      paymentId: input.paymentId,
    });

    expect(lateShipment).toMatchObject({ errorType: 'StepCompensatedError' });
    expect(transport.stats().performed).toBe(shipmentsBefore);
    expect(shipmentsOf(input.orderId)).toEqual([]);
    expect(repeatedOutcome).toEqual({ orderId: input.orderId, outcome: 'alreadyFailed' });
    const { history, payments: recorded } = await orders.getOrder(input.orderId);
    expect(history.filter((entry) => entry.to === OrderStatus.FULFILLMENT_FAILED)).toHaveLength(1);
    expect(recorded).toEqual([expect.objectContaining({ status: PaymentStatus.REFUND_PENDING })]);
  });

  it('retries transient failures and fulfils the order with one pick and one shipment', async () => {
    const input = await fulfillingOrder();
    // The first pick takes effect but its answer is lost in a 503; the next two bookings fail outright.
    warehouse.failNextActions(1, 'afterEffect');
    transport.failNextActions(2, 'beforeEffect');
    const before = { warehouse: warehouse.stats(), transport: transport.stats() };

    const finished = await runSaga(input);

    expect(finished.execution.status).toBe('SUCCEEDED');
    expect(finished.tasks).toEqual([...FORWARD_STEPS]);
    expect((await orderAndPayment(input)).order.status).toBe(OrderStatus.FULFILLED);
    expect(invoker.callsOf('warehouse-pick', 'pick')).toBe(2);
    expect(invoker.callsOf('transport-ship', 'ship')).toBe(3);
    expect(picksOf(input.orderId)).toHaveLength(1);
    expect(shipmentsOf(input.orderId)).toHaveLength(1);
    expect(warehouse.stats().performed - before.warehouse.performed).toBe(1);
    expect(warehouse.stats().replayed - before.warehouse.replayed).toBe(1);
    expect(transport.stats().performed - before.transport.performed).toBe(1);
  });

  it('stops with CompensationFailed, naming the step, when a compensation keeps failing', async () => {
    const input = await fulfillingOrder();
    transport.setFailureRate(1);
    warehouse.setCompensationFailureRate(1);

    const finished = await runSaga(input);

    expect(finished.execution.status).toBe('FAILED');
    expect(finished.execution.error).toBe('CompensationFailed');
    expect(finished.execution.cause).toMatch(/^ReturnGoods failed: LogisticsUnavailableError/);
    expect(finished.tasks).toEqual([
      'CreateFulfillmentOrder',
      'PickGoods',
      'ShipOut',
      'CancelShipment',
      'ReturnGoods',
    ]);
    const { order, payment } = await orderAndPayment(input);
    expect(order.status).toBe(OrderStatus.FULFILLING);
    expect(payment?.status).toBe(PaymentStatus.SUCCEEDED);
    expect(picksOf(input.orderId)).toEqual([expect.objectContaining({ status: 'picked' })]);
    // The transient retrier runs out; a retrier matching States.ALL after it is not consulted for the same error.
    expect(invoker.callsOf('warehouse-pick', 'return')).toBe(
      1 + (state('ReturnGoods').Retry?.[0]?.MaxAttempts ?? 0),
    );
  });
});

describe('the logistics simulators behind the HTTP adapters', () => {
  it('replay an action under its key, undo it, and refuse it once compensated', async () => {
    const adapter = new HttpTransport({ baseUrl: transport.url });
    const key = 'order-x:transport-ship';

    const first = await adapter.ship('order-x', key);
    const replay = await adapter.ship('order-x', key);
    await adapter.cancel('order-x', key);
    const afterCancel = adapter.ship('order-x', key);

    expect(replay).toEqual(first);
    await expect(afterCancel).rejects.toBeInstanceOf(ActionRefusedError);
    expect(transport.shipments().filter((shipment) => shipment.idempotencyKey === key)).toEqual([
      expect.objectContaining({ shipmentId: first.shipmentId, status: 'cancelled' }),
    ]);
  });

  it('keep a tombstone for a compensation that came first and refuse the late action', async () => {
    const adapter = new HttpWarehouse({ baseUrl: warehouse.url });
    const key = 'order-y:warehouse-pick';

    await adapter.returnGoods('order-y', key);
    await adapter.returnGoods('order-y', key);
    const late = adapter.pick('order-y', [{ sku: 'MUG', quantity: 1 }], key);

    await expect(late).rejects.toBeInstanceOf(ActionRefusedError);
    expect(warehouse.tombstones().filter((tombstone) => tombstone === key)).toHaveLength(1);
    expect(warehouse.picks().filter((pick) => pick.orderId === 'order-y')).toEqual([]);
  });

  it('answer 503 as a transient error while failing, and can be switched back through their local route', async () => {
    const adapter = new HttpWarehouse({ baseUrl: warehouse.url });
    const control = warehouse.localRoutes().find((route) => route.path === '/_local/warehouse/failure-rate');
    const stats = warehouse.localRoutes().find((route) => route.path === '/_local/warehouse/stats');
    if (control === undefined || stats === undefined) throw new Error('the warehouse has no control routes');
    await control.handle({ body: { failureRate: 1 }, query: new URLSearchParams() });

    const failing = adapter.pick('order-z', [{ sku: 'MUG', quantity: 1 }], 'order-z:warehouse-pick');
    await expect(failing).rejects.toMatchObject({ name: 'LogisticsUnavailableError', retryable: true });
    const answer = await control.handle({ body: { failureRate: 0 }, query: new URLSearchParams() });
    const picked = await adapter.pick('order-z', [{ sku: 'MUG', quantity: 1 }], 'order-z:warehouse-pick');

    expect(answer).toEqual({ statusCode: 200, body: { failureRate: 0, compensationFailureRate: 0 } });
    expect(picked.pickId).toMatch(/^pk_/);
    expect((await stats.handle({ body: undefined, query: new URLSearchParams() })).body).toMatchObject({
      failed: expect.any(Number),
      performed: expect.any(Number),
    });
    expect(await control.handle({ body: { failureRate: 2 }, query: new URLSearchParams() })).toMatchObject({
      statusCode: 400,
    });
  });
});
