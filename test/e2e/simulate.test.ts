import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { FaultKind } from '../../lib/local/runtime/sdk-instrumentation';
import { startSimulatedSystem } from '../../lib/sim/harness';
import { DEFAULT_MIX, simulate } from '../../lib/sim/simulate';

/**
 * One small chaos run of the simulator on the whole local system: every scenario, faults of every kind
 * (throttling, 5xx, timeouts, crashes after a write) injected into 5 % of the functions' AWS SDK calls, 30 % of
 * the payment provider's webhooks lost, a fixed seed; every order must end consistently, with no duplicate
 * effect, no backward move, no charge left and every dead letter accounted for.
 */
const ORDERS = 30;

let system: LocalSystem;

beforeAll(async () => {
  system = await startSimulatedSystem({
    paymentTimeoutSeconds: 6,
    logisticsFailureRate: 0.02,
    functionConcurrency: 4,
    // Thirty orders leave the machine idle enough for short invocations; crashed consumers are retried sooner.
    visibilityTimeoutSeconds: 2,
    faults: {
      rate: 0.05,
      seed: 8,
      kinds: [FaultKind.THROTTLING, FaultKind.SERVER_ERROR, FaultKind.TIMEOUT, FaultKind.CRASH_AFTER_WRITE],
    },
  });
});

afterAll(async () => {
  await system?.stop();
});

describe('simulator under injected faults', () => {
  it(`brings ${ORDERS} orders of every scenario to a consistent end with zero violations`, async () => {
    // Act
    const report = await simulate({
      baseUrl: system.url,
      orders: ORDERS,
      concurrency: 10,
      mix: DEFAULT_MIX,
      seed: 8,
      settleTimeoutSeconds: 180,
      webhookLoss: 0.3,
    });

    // Assess
    expect(report.actorErrors).toEqual([]);
    expect(report.verdict.violations).toEqual([]);
    expect(report.orders).toBe(ORDERS);
    expect(Object.values(report.scenarios).filter((count) => count > 0)).toHaveLength(5);
    // Faults were injected, and the functions' SDK calls and their capacity metered, through the same hook.
    const injected = Object.entries(report.usage).filter(([key]) => key.startsWith('LocalFault:'));
    expect(injected.reduce((sum, [, usage]) => sum + usage.requests, 0)).toBeGreaterThan(0);
    const transactions = Object.entries(report.usage).filter(([key]) =>
      key.startsWith('DynamoDB:TransactWriteItems@'),
    );
    expect(transactions.reduce((sum, [, usage]) => sum + usage.writeCapacityUnits, 0)).toBeGreaterThan(0);
    // Webhooks were lost, so the reconciliation and the check-back brought what they would have.
    const lost = system.paymentProvider?.events().filter((stored) => stored.delivery === 'lost') ?? [];
    expect(lost.length).toBeGreaterThan(0);
  }, 300_000);
});
