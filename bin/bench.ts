/**
 * `npm run bench -- [--orders N] [--concurrency C] [--out DIR] [--ceiling-seconds S] [--rate R] [--warmup-orders W]`:
 * the happy path (every order paid, delivered) through the simulator on a fresh local system, after W unmeasured
 * warm-up orders (32 by default, 0 for none), then, in the same run and at the same concurrency, the raw ceiling
 * of its DynamoDB Local for conditional writes. Writes DIR/bench.json and DIR/latency.svg, prints the cost
 * report. On Linux it also reads where the CPU went (/proc) and the throughput bounds that implies. See
 * docs/simulation.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../lib/local/aws/resources';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/runtime/wiring';
import { appModel } from '../lib/model';
import { benchCpu, benchResult, formatCpu, latencyChart, measureDynamoDbCeiling } from '../lib/sim/bench';
import { costReport, formatCostReport } from '../lib/sim/cost';
import { cpuSnapshot } from '../lib/sim/cpu';
import { DEFAULT_FUNCTION_CONCURRENCY, progressBar, startSimulatedSystem } from '../lib/sim/harness';
import { ORDERLY_CARRIER, simulate } from '../lib/sim/simulate';

const CEILING_TABLE = 'bench-ceiling';

function positive(value: string | undefined, name: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new Error(`--${name} must be a number > 0, not ${value}`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '16' },
      out: { type: 'string', default: 'bench-results' },
      'ceiling-seconds': { type: 'string', default: '10' },
      rate: { type: 'string', default: '100' },
      'function-concurrency': { type: 'string', default: String(DEFAULT_FUNCTION_CONCURRENCY) },
      'warmup-orders': { type: 'string', default: '32' },
    },
    strict: true,
  });
  const concurrency = positive(values.concurrency, 'concurrency');
  const warmupOrders =
    values['warmup-orders'] === '0' ? 0 : positive(values['warmup-orders'], 'warmup-orders');
  const system = await startSimulatedSystem({
    paymentTimeoutSeconds: 600,
    logisticsFailureRate: 0,
    functionConcurrency: positive(values['function-concurrency'], 'function-concurrency'),
  });
  try {
    const snapshot = () => cpuSnapshot({ dynamodbLocalPid: system.processes.dynamodbLocal });
    const happyPath = (orders: number, seed: number) =>
      simulate({
        baseUrl: system.url,
        orders,
        concurrency,
        mix: { paid: 1 },
        carrier: ORDERLY_CARRIER,
        seed,
        settleTimeoutSeconds: 600,
        onProgress: progressBar(),
      });
    // Not measured: it starts the function environments and lets the JVM compile its hot paths, so that the
    // measured orders, like the ceiling after them, run on a warm system. Its own seed keeps its idempotency keys
    // apart from the measured orders'.
    const warmup = warmupOrders === 0 ? undefined : await happyPath(warmupOrders, 0);
    const beforeOrders = await snapshot();
    const report = await happyPath(positive(values.orders, 'orders'), 1);
    const atQuiescence = await snapshot();
    // The ceiling on its own table (no stream, so nothing downstream reacts to it), after the system is quiet.
    const client = new DynamoDBClient({
      endpoint: system.endpoints.dynamodb,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await createTables(client, [{ name: CEILING_TABLE, partitionKey: 'PK', sortKey: 'SK' }]);
    client.destroy();
    const beforeCeiling = await snapshot();
    const ceiling = await measureDynamoDbCeiling(
      system.endpoints.dynamodb,
      CEILING_TABLE,
      concurrency,
      positive(values['ceiling-seconds'], 'ceiling-seconds'),
    );
    const afterCeiling = await snapshot();
    const cpu = benchCpu(
      {
        lifecycle: { before: beforeOrders, after: atQuiescence, units: report.orders },
        ceiling: { before: beforeCeiling, after: afterCeiling, units: ceiling.writes },
      },
      appModel.functions.map((declaration) => declaration.name),
      availableParallelism(),
    );
    const result = benchResult(report, concurrency, ceiling, cpu);
    const cost = costReport(report.usage, report.orders, positive(values.rate, 'rate'));
    await mkdir(values.out, { recursive: true });
    await writeFile(
      join(values.out, 'bench.json'),
      `${JSON.stringify({ measuredAt: new Date().toISOString(), warmupOrders, ...result, usage: report.usage, cost }, null, 2)}\n`,
    );
    const charted = Object.fromEntries(
      ['POST /orders', 'POST /orders/{id}/payments', 'confirm payment'].map((route) => [
        route,
        report.latenciesMs[route] ?? [],
      ]),
    );
    await writeFile(join(values.out, 'latency.svg'), latencyChart(charted));
    const warmupViolations =
      warmup === undefined ? 0 : warmup.verdict.violations.length + warmup.actorErrors.length;
    const lines = [
      ...(warmup === undefined
        ? []
        : [
            `warm-up ${warmup.orders} orders (not measured), quiescent after ${warmup.elapsedSeconds.toFixed(1)} s, ` +
              `violations ${warmupViolations}`,
          ]),
      `orders ${result.orders} (${result.fulfilledOrders} reached FULFILLED) at concurrency ${concurrency}, ` +
        `quiescent after ${result.elapsedSeconds.toFixed(1)} s, violations ${result.violations}`,
      `lifecycle throughput   ${result.lifecycleOrdersPerSecond.toFixed(2)} orders/s ` +
        `(${result.fulfilledOrders} orders from the first creation to the last FULFILLED in ${result.lifecycleSeconds.toFixed(1)} s)`,
      ...Object.entries(result.latencyMs).map(
        ([route, summary]) =>
          `${route.padEnd(22)} p50 ${summary.p50.toFixed(0)} ms, p95 ${summary.p95.toFixed(0)} ms, p99 ${summary.p99.toFixed(0)} ms (n=${summary.count})`,
      ),
      `DynamoDB requests/order ${result.dynamodbRequestsPerOrder.toFixed(1)}`,
      `order path DynamoDB    ${result.orderPathDynamodb.requests.toFixed(2)} requests, ${result.orderPathDynamodb.writeUnits.toFixed(2)} write units per order (the simulator's reads, the sweeper and the reconciler apart)`,
      `DynamoDB Local ceiling ${ceiling.writesPerSecond.toFixed(0)} conditional writes/s at concurrency ${concurrency}`,
      `efficiency             ${result.efficiency.toFixed(3)} (orders/s x DynamoDB requests/order / ceiling; target >= 0.5)`,
      ...formatCpu(result.cpu),
      `results in ${join(values.out, 'bench.json')} and ${join(values.out, 'latency.svg')}`,
      '',
      formatCostReport(cost),
    ];
    console.log(lines.join('\n'));
    process.exitCode = result.violations === 0 && warmupViolations === 0 ? 0 : 1;
  } finally {
    await system.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});
