import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { paymentTimeoutScheduleName } from '../../functions/adapters/scheduler-payment-timers';
import type { OrderService } from '../../functions/domain/order-service';
import type { PaymentService, ReconciliationReport } from '../../functions/domain/payment-service';
import type { Clock } from '../../functions/domain/ports';
import { type LocalScheduler, startLocalScheduler } from '../../lib/local/aws/scheduler/server';
import { reconcilingPaymentService, runPaymentsCommand } from '../../lib/ops/payments';
import { createTestTables, type TestTables } from '../support/dynamodb';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import { localClientConfig, TEST_ACCOUNT, TEST_REGION } from '../support/local-aws';
import { RecordingInvoker } from '../support/local-functions';
import { closedLoopbackPort, orderIds, orderServiceOn, sampleOrder } from '../support/payment-window';

const TIMER_GROUP = 'payment-timeouts';
const TIMEOUT_ARN = `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:payment-timeout`;
/** The pass reads the system clock, as in production: the orders are placed on it too. */
const systemClock: Clock = { now: () => new Date() };

/**
 * `payments reconcile` as the ops CLI runs it: the pass in this process, on the DynamoDB repositories (DynamoDB
 * Local), the Scheduler timers (the local Scheduler) and a provider double behind the port (the in-memory
 * Stripe-like provider; the Stripe adapter itself is tested against the fake Stripe elsewhere).
 */
describe('payments reconcile against DynamoDB Local', () => {
  let tables: TestTables;
  let scheduler: LocalScheduler;
  let schedulerClient: SchedulerClient;
  let orders: OrderService;
  let payments: DynamoDbPaymentRepository;
  const provider = new InMemoryPaymentProvider();
  const warnings: string[] = [];
  let service: PaymentService;

  beforeAll(async () => {
    tables = await createTestTables();
    scheduler = await startLocalScheduler({
      invoker: new RecordingInvoker({ 'payment-timeout': async () => ({}) }),
      region: TEST_REGION,
      accountId: TEST_ACCOUNT,
      targetFunctions: { [TIMEOUT_ARN]: 'payment-timeout' },
    });
    schedulerClient = new SchedulerClient(localClientConfig(scheduler.url));
    await schedulerClient.send(new CreateScheduleGroupCommand({ Name: TIMER_GROUP }));
    orders = orderServiceOn(tables, {
      clock: systemClock,
      paymentTimeoutSeconds: 900,
      newOrderId: orderIds('01OPSPAY'),
    });
    payments = new DynamoDbPaymentRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    });
    service = reconcilingPaymentService({
      dynamodb: tables.client,
      tableName: tables.ordersTableName,
      provider,
      scheduler: schedulerClient,
      timerGroupName: TIMER_GROUP,
      warn: (line) => warnings.push(line),
    });
  });

  afterAll(async () => {
    schedulerClient.destroy();
    await scheduler.stop();
  });

  /**
   * An order awaiting payment with an intent the customer can pay, and its timer, as the checkout leaves it;
   * `timer: false` for one whose timer is gone already (fired, or never scheduled).
   */
  async function orderWithIntent(timer = true): Promise<{ orderId: string; paymentId: string }> {
    const { order } = await orders.placeOrder(sampleOrder);
    const { intent } = await service.preparePayment(order.orderId, sampleOrder.customerId);
    if (!timer) return { orderId: order.orderId, paymentId: intent.paymentId };
    await schedulerClient.send(
      new CreateScheduleCommand({
        Name: paymentTimeoutScheduleName(order.orderId),
        GroupName: TIMER_GROUP,
        ScheduleExpression: 'at(2099-01-01T00:00:00)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: TIMEOUT_ARN, RoleArn: `arn:aws:iam::${TEST_ACCOUNT}:role/timers` },
      }),
    );
    return { orderId: order.orderId, paymentId: intent.paymentId };
  }

  async function timerExists(orderId: string): Promise<boolean> {
    try {
      await schedulerClient.send(
        new GetScheduleCommand({ Name: paymentTimeoutScheduleName(orderId), GroupName: TIMER_GROUP }),
      );
      return true;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  }

  async function reconcile(args: string[]): Promise<{ report: ReconciliationReport; out: string[] }> {
    const out: string[] = [];
    const report = await runPaymentsCommand(args, {
      reconciler: async () => service,
      out: (line) => out.push(line),
    });
    return { report, out };
  }

  it('applies what no webhook brought, says how each was found, moves the checkpoint, and cancels the timers', async () => {
    // Prepare
    const lostWebhook = await orderWithIntent();
    provider.pay(lostWebhook.paymentId);
    // Stripe delivered this one, but the order never learnt of it (a handler that failed after acknowledging).
    const delivered = await orderWithIntent(false);
    provider.acknowledge(provider.pay(delivered.paymentId).id);
    const unpaid = await orderWithIntent();

    // Act
    const { report, out } = await reconcile(['payments', 'reconcile']);

    // Assess
    expect(report.changed).toEqual([
      { ...lostWebhook, outcome: 'paid', foundBy: 'undeliveredEvent' },
      { ...delivered, outcome: 'paid', foundBy: 'openOrder' },
    ]);
    expect([report.eventsExamined, report.ordersExamined, report.refundsExamined]).toEqual([1, 2, 0]);
    expect(out).toContain(
      `    ${lostWebhook.orderId}\t${lostWebhook.paymentId}\tpaid\tfound by an undelivered event`,
    );
    expect(out).toContain(
      `    ${delivered.orderId}\t${delivered.paymentId}\tpaid\tfound by an open order's intent`,
    );
    for (const { orderId, paymentId } of [lostWebhook, delivered]) {
      expect((await orders.getOrder(orderId)).order.status).toBe('PAID');
      expect(await payments.get(orderId, paymentId)).toMatchObject({
        status: 'SUCCEEDED',
        recordedBy: 'reconciliation',
      });
      expect(await timerExists(orderId)).toBe(false);
    }
    expect((await orders.getOrder(unpaid.orderId)).order.status).toBe('PENDING_PAYMENT');
    expect(await payments.get(unpaid.orderId, unpaid.paymentId)).toMatchObject({
      status: 'PENDING',
      recordedBy: 'checkout',
    });
    expect(await timerExists(unpaid.orderId)).toBe(true);
    expect(await payments.reconciliationCheckpoint()).toEqual(expect.any(Date));
    // A timer already gone is no failure.
    expect(warnings).toEqual([]);
  });

  it('changes nothing the second time, and with --since leaves the checkpoint where it was', async () => {
    // Prepare
    const checkpoint = await payments.reconciliationCheckpoint();

    // Act
    const { report, out } = await reconcile(['reconcile', '--since', '1h', '--json']);

    // Assess
    expect(report.changed).toEqual([]);
    // The lost webhook's event is still undelivered at the provider: the pass reads it again, and it is a duplicate.
    expect(report.eventsExamined).toBe(1);
    expect(JSON.parse(out.join('\n'))).toEqual(report);
    expect(Date.now() - Date.parse(report.since)).toBeGreaterThanOrEqual(3_600_000);
    expect(await payments.reconciliationCheckpoint()).toEqual(checkpoint);
  });

  it('pays the order even when its timer cannot be deleted, and says so', async () => {
    // Prepare
    const paid = await orderWithIntent();
    provider.pay(paid.paymentId);
    const unreachable = new SchedulerClient({
      ...localClientConfig(`http://127.0.0.1:${await closedLoopbackPort()}`),
      maxAttempts: 1,
    });
    const noScheduler = reconcilingPaymentService({
      dynamodb: tables.client,
      tableName: tables.ordersTableName,
      provider,
      scheduler: unreachable,
      timerGroupName: TIMER_GROUP,
      warn: (line) => warnings.push(line),
    });

    // Act
    const report = await runPaymentsCommand(['reconcile'], {
      reconciler: async () => noScheduler,
      out: () => undefined,
    });
    unreachable.destroy();

    // Assess
    expect(report.changed).toEqual([{ ...paid, outcome: 'paid', foundBy: 'undeliveredEvent' }]);
    expect((await orders.getOrder(paid.orderId)).order.status).toBe('PAID');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`could not delete the payment timer of ${paid.orderId}`);
  });
});
