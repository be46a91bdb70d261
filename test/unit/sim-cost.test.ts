import { describe, expect, it } from 'vitest';
import { PENDING_INDEX_SHARDS } from '../../functions/adapters/dynamodb-table';
import type { Usage } from '../../lib/local/runtime/sdk-instrumentation';
import {
  appModel,
  FUNCTION_LOGGING,
  type FunctionLogging,
  PROVISIONED_TARGET_UTILIZATION_PERCENT,
} from '../../lib/model';
import {
  type CostReport,
  costReport,
  formatCostReport,
  formatUnitsPerOrder,
  loadPricing,
  MissingEstimateError,
  platformLogBytesPerInvocation,
  type QuotaLine,
} from '../../lib/sim/cost';

const use = (requests: number, writeCapacityUnits = 0, readCapacityUnits = 0) => ({
  requests,
  readCapacityUnits,
  writeCapacityUnits,
});

/** Two orders' worth of fabricated usage, with the simulator's polling and the sweeper mixed in. */
const usage: Usage = {
  'Lambda:Invoke(create-order)': use(2),
  'Lambda:Invoke(get-order)': use(40),
  'Lambda:Invoke(sweeper)': use(5),
  'DynamoDB:TransactWriteItems@create-order': use(2, 8),
  'DynamoDB:Query@get-order': use(40, 0, 40),
  'DynamoDB:Query@sweeper': use(40, 0, 40),
  'SQS:ReceiveMessage': use(4),
  'SQS:ReceiveMessage(empty)': use(1000),
  'StepFunctions:StateTransition': use(10),
  'SFN:StartExecution@order-events-consumer': use(2),
  'Scheduler:Invoke(payment-timeout)': use(2),
  'Scheduler:Invoke(sweeper)': use(5),
  'CloudWatchLogs:Ingested(bytes)@create-order': use(5000),
  'CloudWatchLogs:Ingested(events)@create-order': use(20),
  'CloudWatchLogs:Ingested(bytes)@get-order': use(1_000_000),
  'CloudWatchLogs:Ingested(bytes)@sweeper': use(1_000_000),
};

/**
 * Two orders' worth of the work whose quotas are counted: create-order and create-payment once each per order, two
 * batches of order-events.fifo per order, three relay sends, one Standard or Express saga, 10 WRU per order.
 */
const capacityUsage: Usage = {
  'Lambda:Invoke(create-order)': use(2),
  'Lambda:Invoke(create-payment)': use(2),
  'Lambda:Invoke(order-events-consumer)': use(4),
  'SQS:SendMessageBatch@outbox-relay': use(6),
  'DynamoDB:TransactWriteItems@create-order': use(2, 20),
  'SFN:StartExecution@order-events-consumer': use(2),
  'StepFunctions:StateTransition': use(10),
  'Scheduler:CreateSchedule@create-order': use(2),
  'EventBridge:PutEvents@outbox-relay': use(4),
  'EventBridge:PutEvents(entries)@outbox-relay': use(16),
};

function quota(report: CostReport, name: string | RegExp): QuotaLine {
  const found = report.quotas.find((row) =>
    typeof name === 'string' ? row.quota === name : name.test(row.quota),
  );
  if (found === undefined) throw new Error(`no quota ${String(name)}`);
  return found;
}

const binding = (row: QuotaLine) => [row.quota, row.maxOrdersPerSecond];

function line<T extends { service: string; item: string }>(
  lines: readonly T[],
  service: string,
  item: RegExp,
): T {
  const found = lines.find((entry) => entry.service === service && item.test(entry.item));
  if (found === undefined) throw new Error(`no ${service} ${item} line`);
  return found;
}

describe('cost report', () => {
  it('prices the workload per million orders and leaves out the simulator polling, the sweeper and idle receives', () => {
    // Act
    const report = costReport(usage, 2, 100);

    // Assess: 4 WRU per order at $0.625 per million WRU
    expect(line(report.standard, 'DynamoDB', /write/).usdPerMillionOrders).toBeCloseTo(2.5);
    expect(line(report.standard, 'DynamoDB', /read/).usdPerMillionOrders).toBe(0);
    expect(line(report.standard, 'Lambda', /invocations/).usdPerMillionOrders).toBeCloseTo(0.2);
    expect(line(report.standard, 'SQS', /FIFO/).usdPerMillionOrders).toBeCloseTo(1);
    // 5 transitions per order at $25 per million; Express: one execution per order at $1 per million
    expect(line(report.standard, 'Step Functions', /transitions/).usdPerMillionOrders).toBeCloseTo(125);
    expect(line(report.express, 'Step Functions', /executions/).usdPerMillionOrders).toBeCloseTo(1);
    expect(line(report.standard, 'Scheduler', /payment-timeout/).usdPerMillionOrders).toBeCloseTo(1);
    expect(report.observerInvocations).toBe(40);
    expect(report.fixed['SQS:ReceiveMessage(empty)']).toBe(1000);
    expect(report.standardTotal).toBeGreaterThan(report.expressTotal);
  });

  it('prices a provisioned table by the capacity-hours its consumed units need at the target utilization', () => {
    // Act
    const report = costReport(usage, 2, 100);
    const fullyUsed = costReport(usage, 2, 100, loadPricing(), appModel, FUNCTION_LOGGING, 100);

    // Assess: 4 WRU per order need 4 / 0.7 WCU-seconds; 1M orders: 5.714M WCU-s = 1,587 WCU-h at $0.00065
    expect(report.provisionedUtilizationPercent).toBe(PROVISIONED_TARGET_UTILIZATION_PERCENT);
    const writes = line(
      report.expressProvisioned,
      'DynamoDB',
      /write capacity, provisioned, autoscaled to 70 %/,
    );
    expect(writes.usdPerMillionOrders).toBeCloseTo((4 / 0.7 / 3600) * 1e6 * 0.00065);
    expect(formatUnitsPerOrder(writes)).toBe('5.71 CU-s');
    // get-order's and the sweeper's reads are left out, as on demand: nothing read is nothing provisioned.
    expect(line(report.expressProvisioned, 'DynamoDB', /read capacity/).usdPerMillionOrders).toBe(0);
    expect(line(fullyUsed.expressProvisioned, 'DynamoDB', /write capacity/).usdPerMillionOrders).toBeCloseTo(
      (4 / 3600) * 1e6 * 0.00065,
    );
    // Only the table's lines differ from the on-demand Express report.
    expect(report.expressProvisioned.filter((entry) => entry.service !== 'DynamoDB')).toEqual(
      report.express.filter((entry) => entry.service !== 'DynamoDB'),
    );
    expect(report.expressTotal - report.expressProvisionedTotal).toBeCloseTo(
      2.5 - writes.usdPerMillionOrders,
    );
    // $0.00065 per WCU-hour against $0.625 per million WRU: provisioned wins above 28.9 % average use.
    expect(report.provisionedBreakEvenPercent).toBeCloseTo(28.89, 2);
    expect(formatCostReport(report)).toContain(
      'below 29 % average use of write capacity, on-demand costs less',
    );
  });

  it('states every quota with its default, whether it can be raised, its need at 1,000 and 10,000 orders/s and where it binds', () => {
    // Act
    const report = costReport(capacityUsage, 2, 1000);

    // Assess
    expect(report.rates).toEqual([1000, 10_000]);
    expect(report.quotas.map((row) => row.quota)).toEqual(
      expect.arrayContaining([
        'API Gateway requests per account',
        'API Gateway route POST /orders throttle (lib/model.ts)',
        'Lambda concurrency per account',
        'Lambda unreserved concurrency (account default - 120 reserved)',
        'Lambda reserved concurrency of order-events-consumer (lib/model.ts)',
        'SQS FIFO order-events.fifo: busiest action per queue',
        "SQS FIFO order-events.fifo: one message group (an order's calls)",
        'SQS FIFO order-events.fifo: in flight (consumer concurrency x batch)',
        'EventBridge PutEvents requests',
        'Step Functions StartExecution (EXPRESS)',
        'Step Functions StartExecution (STANDARD)',
        'Step Functions state transitions (STANDARD)',
        'Scheduler CreateSchedule',
        'Scheduler DeleteSchedule',
        'DynamoDB table writes (on demand)',
        'DynamoDB writes a cold on-demand table takes at once',
        `DynamoDB partition writes, one of ${PENDING_INDEX_SHARDS} pending-payment index shards`,
        'Secrets Manager GetSecretValue (5 min cache)',
        'CloudWatch Logs ingestion of Lambda logs',
        'Stripe API operations (live mode)',
        'Stripe requests per endpoint (busiest)',
      ]),
    );
    // One start per order: Standard's 300/s binds at 300 orders/s, Express's 6,000/s at 6,000.
    expect(quota(report, 'Step Functions StartExecution (STANDARD)')).toMatchObject({
      owner: 'AWS',
      adjustable: true,
      limit: 300,
      needed: [1000, 10_000],
      maxOrdersPerSecond: 300,
      sagas: 'STANDARD',
    });
    expect(quota(report, 'Step Functions StartExecution (EXPRESS)').maxOrdersPerSecond).toBe(6000);
    // Two writes per order on one of 32 shards of 1,000 WCU/s: 16,000 orders/s, and no quota raises it.
    expect(PENDING_INDEX_SHARDS).toBe(32);
    expect(quota(report, /partition writes/)).toMatchObject({
      adjustable: false,
      maxOrdersPerSecond: 16_000,
    });
    // The relay's 3 batches per order go to order-events.fifo: 210,000 calls/s at 70,000 per action binds.
    expect(quota(report, 'SQS FIFO order-events.fifo: busiest action per queue')).toMatchObject({
      perOrder: 3,
      needed: [3000, 30_000],
    });
    // In flight is bounded by the consumer's reserved concurrency x batch size, whatever the rate.
    expect(quota(report, /order-events.fifo: in flight/)).toMatchObject({
      fixedNeed: 1000,
      needed: [1000, 1000],
      maxOrdersPerSecond: Number.POSITIVE_INFINITY,
    });
  });

  it('counts concurrency as invocations x (40 ms + the wait on Stripe) and splits reserved from unreserved', () => {
    const report = costReport(capacityUsage, 2, 1000);

    // create-order: 1 x 40 ms; create-payment: 1 x (40 + 300) ms; order-events-consumer: 2 x 40 ms (reserved).
    expect(quota(report, 'Lambda concurrency per account').perOrder).toBeCloseTo(0.04 + 0.34 + 0.08);
    expect(quota(report, /unreserved/)).toMatchObject({ limit: 1000 - 120 });
    expect(quota(report, /unreserved/).perOrder).toBeCloseTo(0.38);
    expect(quota(report, /reserved concurrency of order-events-consumer/)).toMatchObject({
      owner: 'ours',
      limit: 100,
    });
    expect(quota(report, /reserved concurrency of order-events-consumer/).perOrder).toBeCloseTo(0.08);
    // A function's ramp of 1,000 environments per 10 s is no ceiling.
    expect(quota(report, /scale-up per function/)).toMatchObject({
      rampOnly: true,
      maxOrdersPerSecond: Number.POSITIVE_INFINITY,
    });
  });

  it('names the first quota to bind, the first that cannot be raised, and what to raise for each rate', () => {
    const report = costReport(capacityUsage, 2, 1000);
    const { capacity } = report;

    // Stripe's 25 requests/s per endpoint bind first of all, but they are not AWS's.
    expect(report.quotas[0]?.quota).toBe('Stripe requests per endpoint (busiest)');
    // A cold on-demand table takes 4,000 WRU/s at once: 10 WRU per order bind at 400 orders/s.
    expect(binding(capacity.firstAwsAtDefault.EXPRESS)).toEqual([
      'DynamoDB writes a cold on-demand table takes at once',
      400,
    ]);
    expect(binding(capacity.firstAwsWarmTable.STANDARD)).toEqual([
      'Step Functions StartExecution (STANDARD)',
      300,
    ]);
    expect(binding(capacity.firstFixed)).toEqual([
      `DynamoDB partition writes, one of ${PENDING_INDEX_SHARDS} pending-payment index shards`,
      16_000,
    ]);
    const raise = (rate: number) =>
      capacity.toRaise.find((entry) => entry.rate === rate)?.quotas.map((row) => row.quota) ?? [];
    expect(raise(10_000)).toEqual(
      expect.arrayContaining([
        'Step Functions StartExecution (EXPRESS)',
        'Stripe API operations (live mode)',
      ]),
    );
    // Neither the Standard quotas (Express sagas) nor fixed quotas are on the list.
    expect(raise(10_000).filter((name) => /STANDARD|partition/.test(name))).toEqual([]);
    expect(raise(1000)).not.toContain('Step Functions StartExecution (EXPRESS)');
    expect(formatCostReport(report)).toContain(
      'with every adjustable quota raised, the first fixed one: DynamoDB partition writes',
    );
  });

  it('shows the contract floor, 6 API calls and 8 bus events per order, and what each total costs above it', () => {
    const report = costReport(usage, 2, 100);

    expect(report.floor).toEqual({ apiCalls: 6, busEvents: 8, usdPerMillionOrders: 14 });
    expect(formatCostReport(report)).toContain(
      `contract floor: 6 API calls and 8 bus events per order, $14.00; above it: STANDARD $${(report.standardTotal - 14).toFixed(2)}`,
    );
  });

  it('dates and sources every quota in docs/pricing.json', () => {
    const pricing = loadPricing();

    for (const [name, entry] of Object.entries(pricing.quotas)) {
      expect(entry.source, name).toMatch(/^https:\/\//);
      expect(entry.checked, name).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(typeof entry.adjustable, name).toBe('boolean');
    }
    expect(pricing.quotas.sqsFifoInFlight?.value).toBe(120_000);
    expect(pricing.quotas.schedulerCreateSchedule?.value).toBe(5000);
    expect(pricing.prices.cloudWatchLogsIngestion?.unit).toMatch(/tiers since 1 May 2025/);
  });

  it('prices the measured function output plus the platform lines estimate per invocation as log ingestion', () => {
    const pricing = loadPricing();
    const estimates = { ...pricing.estimates, lambdaPlatformLogBytesPerInvocation: { TEXT: 500 } };

    const report = costReport(usage, 2, 100, { ...pricing, estimates }, appModel, { format: 'TEXT' });

    // (5,000 bytes of create-order output + 2 invocations x 500 bytes) / 2 orders = 3,000 bytes per order; the
    // simulator's get-order polling and the sweeper are left out. $0.50 per GB: $1.50 per million orders.
    const logs = line(
      report.standard,
      'CloudWatch Logs',
      /measured output \+ 500 B\/invocation platform lines \(TEXT/,
    );
    expect(logs.usdPerMillionOrders).toBeCloseTo(1.5);
    expect(formatUnitsPerOrder(logs)).toBe('3.00 KB');
    expect(formatCostReport(report)).toContain('3.00 KB/order  $    1.50');
    // The sweeper's log bytes are no requests: the left-out requests stay requests.
    expect(Object.keys(report.fixed).filter((key) => key.startsWith('CloudWatchLogs'))).toEqual([]);
  });

  it('follows the declared function logging: no platform lines with JSON and system level WARN', () => {
    const pricing = loadPricing();
    const text = costReport(usage, 2, 100, pricing, appModel, { format: 'TEXT' });
    const deployed = costReport(usage, 2, 100, pricing, appModel);

    // The stack deploys what FUNCTION_LOGGING declares, and the report prices the same declaration.
    expect(FUNCTION_LOGGING).toEqual({ format: 'JSON', applicationLevel: 'INFO', systemLevel: 'WARN' });
    const deployedLogs = line(
      deployed.standard,
      'CloudWatch Logs',
      /0 B\/invocation platform lines \(JSON\/WARN/,
    );
    const textLogs = line(text.standard, 'CloudWatch Logs', /357 B\/invocation platform lines \(TEXT/);
    // 5,000 bytes of output over 2 orders, with and without 2 invocations x 357 bytes of START, END and REPORT.
    expect(formatUnitsPerOrder(deployedLogs)).toBe('2.50 KB');
    expect(formatUnitsPerOrder(textLogs)).toBe('2.86 KB');
  });

  it('refuses a logging configuration docs/pricing.json has no platform estimate for', () => {
    const systemInfo: FunctionLogging = { format: 'JSON', applicationLevel: 'INFO', systemLevel: 'INFO' };

    expect(() => platformLogBytesPerInvocation(systemInfo, loadPricing())).toThrow(MissingEstimateError);
    expect(() => costReport(usage, 2, 100, loadPricing(), appModel, systemInfo)).toThrow(/JSON\/INFO/);
  });
});
