import { describe, expect, it } from 'vitest';
import type { Usage } from '../../lib/local/sdk-instrumentation';
import { costReport } from '../../lib/sim/cost';

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
};

function line(
  lines: readonly { service: string; item: string; usdPerMillionOrders: number }[],
  service: string,
  item: RegExp,
) {
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

  it('names the quota that binds first at the target rate', () => {
    const report = costReport(usage, 2, 1000);

    // Two non-empty receives per order against 300 per second and queue bind before StartExecution's 300/s.
    expect(report.quotas.map((quota) => quota.quota).slice(0, 2)).toEqual([
      'SQS FIFO ReceiveMessage per queue',
      'Step Functions StartExecution (Standard)',
    ]);
    expect(report.quotas[0]).toMatchObject({ maxOrdersPerSecond: 150, neededAtRate: 2000 });
  });
});
