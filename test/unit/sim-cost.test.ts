import { describe, expect, it } from 'vitest';
import type { Usage } from '../../lib/local/runtime/sdk-instrumentation';
import {
  appModel,
  FUNCTION_LOGGING,
  type FunctionLogging,
  PROVISIONED_TARGET_UTILIZATION_PERCENT,
} from '../../lib/model';
import {
  costReport,
  formatCostReport,
  formatUnitsPerOrder,
  loadPricing,
  MissingEstimateError,
  platformLogBytesPerInvocation,
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

  it('names the quota that binds first at the target rate', () => {
    const report = costReport(usage, 2, 1000);

    // Two non-empty receives per order against 300 per second and queue bind before StartExecution's 300/s.
    expect(report.quotas.map((quota) => quota.quota).slice(0, 2)).toEqual([
      'SQS FIFO ReceiveMessage per queue',
      'Step Functions StartExecution (Standard)',
    ]);
    expect(report.quotas[0]).toMatchObject({ maxOrdersPerSecond: 150, neededAtRate: 2000 });
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
