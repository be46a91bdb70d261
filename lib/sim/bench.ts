import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { Usage } from '../local/runtime/sdk-instrumentation';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/runtime/wiring';
import { CLOCKED_FUNCTIONS, OBSERVER_FUNCTIONS } from './cost';
import { type CpuBudget, type CpuSnapshot, cpuBudget, cpuDelta } from './cpu';
import type { SimulationReport } from './simulate';
import { type LatencySummary, summarize } from './stats';

/**
 * The benchmark's measurements besides the simulation itself: the raw ceiling of the same DynamoDB Local at the
 * same concurrency (conditional writes, as every state change here is one), and the latency chart.
 */

export interface DynamoDbCeiling {
  readonly concurrency: number;
  readonly seconds: number;
  readonly writes: number;
  readonly writesPerSecond: number;
}

/** Conditional PutItems (`attribute_not_exists`, new keys) from `concurrency` loops for `seconds`. */
export async function measureDynamoDbCeiling(
  endpoint: string,
  tableName: string,
  concurrency: number,
  seconds: number,
): Promise<DynamoDbCeiling> {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const prefix = `bench-${randomUUID()}`;
  let writes = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async (_, loop) => {
        for (let index = 0; performance.now() < until; index += 1) {
          await client.send(
            new PutItemCommand({
              TableName: tableName,
              Item: { PK: { S: `${prefix}-${loop}-${index}` }, SK: { S: 'bench' }, n: { N: String(index) } },
              ConditionExpression: 'attribute_not_exists(PK)',
            }),
          );
          writes += 1;
        }
      }),
    );
  } finally {
    client.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  return { concurrency, seconds: elapsed, writes, writesPerSecond: writes / elapsed };
}

export interface BenchResult {
  readonly orders: number;
  readonly concurrency: number;
  readonly elapsedSeconds: number;
  /** From the first order's creation to the last order's FULFILLED, by the system's own timestamps. */
  readonly lifecycleSeconds: number;
  /** Orders that reached FULFILLED (or went on to DELIVERED) per second over `lifecycleSeconds`. */
  readonly lifecycleOrdersPerSecond: number;
  readonly fulfilledOrders: number;
  readonly latencyMs: Readonly<Record<string, LatencySummary>>;
  readonly dynamodbRequestsPerOrder: number;
  /** The order path's own DynamoDB work per order: the simulator's reads and the clocked functions apart. */
  readonly orderPathDynamodb: { readonly requests: number; readonly writeUnits: number };
  readonly dynamodbCeiling: DynamoDbCeiling;
  /** (orders/s x DynamoDB requests per order) / raw DynamoDB requests per second; the target is >= 0.5. */
  readonly efficiency: number;
  readonly violations: number;
  /** Where the CPU went; undefined (absent from bench.json) where there is no /proc to read it from. */
  readonly cpu: BenchCpu | undefined;
}

/** CPU per order from before the first order to quiescence, and per write of the ceiling phase. */
export interface BenchCpu {
  readonly lifecycle: CpuBudget;
  readonly ceiling: CpuBudget;
}

export function dynamodbRequests(usage: Usage): number {
  return Object.entries(usage)
    .filter(([key]) => key.startsWith('DynamoDB:'))
    .reduce((sum, [, value]) => sum + value.requests, 0);
}

/** DynamoDB requests and write units per order of the functions an order runs through (see `orderPathDynamodb`). */
export function orderPathDynamodb(usage: Usage, orders: number): BenchResult['orderPathDynamodb'] {
  const apart = [...OBSERVER_FUNCTIONS, ...CLOCKED_FUNCTIONS];
  const entries = Object.entries(usage).filter(([key]) => {
    const [name = '', fn] = key.split('@');
    return name.startsWith('DynamoDB:') && (fn === undefined || !apart.includes(fn));
  });
  const per = (total: number) => (orders === 0 ? 0 : total / orders);
  return {
    requests: per(entries.reduce((sum, [, value]) => sum + value.requests, 0)),
    writeUnits: per(entries.reduce((sum, [, value]) => sum + value.writeCapacityUnits, 0)),
  };
}

export function benchResult(
  report: SimulationReport,
  concurrency: number,
  ceiling: DynamoDbCeiling,
  cpu: BenchCpu | undefined,
): BenchResult {
  const { fulfilledOrders } = report;
  const lifecycleOrdersPerSecond =
    report.lifecycleSeconds === 0 ? 0 : fulfilledOrders / report.lifecycleSeconds;
  const dynamodbRequestsPerOrder = report.orders === 0 ? 0 : dynamodbRequests(report.usage) / report.orders;
  return {
    orders: report.orders,
    concurrency,
    elapsedSeconds: report.elapsedSeconds,
    lifecycleSeconds: report.lifecycleSeconds,
    lifecycleOrdersPerSecond,
    fulfilledOrders,
    latencyMs: Object.fromEntries(
      Object.entries(report.latenciesMs).map(([route, samples]) => [route, summarize(samples)]),
    ),
    dynamodbRequestsPerOrder,
    orderPathDynamodb: orderPathDynamodb(report.usage, report.orders),
    dynamodbCeiling: ceiling,
    efficiency: (lifecycleOrdersPerSecond * dynamodbRequestsPerOrder) / ceiling.writesPerSecond,
    violations: report.verdict.violations.length + report.actorErrors.length,
    cpu,
  };
}

interface CpuPhase {
  readonly before: CpuSnapshot | undefined;
  readonly after: CpuSnapshot | undefined;
  readonly units: number;
}

/** Undefined when either phase lacks a snapshot, i.e. where there is no /proc. */
export function benchCpu(
  phases: { readonly lifecycle: CpuPhase; readonly ceiling: CpuPhase },
  functionNames: readonly string[],
  cores: number,
): BenchCpu | undefined {
  const budget = ({ before, after, units }: CpuPhase, unit: string) =>
    before === undefined || after === undefined
      ? undefined
      : cpuBudget(cpuDelta(before, after, functionNames), unit, units, cores);
  const lifecycle = budget(phases.lifecycle, 'order');
  const ceiling = budget(phases.ceiling, 'conditional write');
  return lifecycle === undefined || ceiling === undefined ? undefined : { lifecycle, ceiling };
}

/** The console's CPU lines: seconds per order by component, the bounds they imply, and the ceiling's JVM cost. */
export function formatCpu(cpu: BenchCpu | undefined): string[] {
  if (cpu === undefined) return ['CPU                    not measured on this platform (no /proc)'];
  const { lifecycle, ceiling } = cpu;
  const order = lifecycle.cpuSecondsPerUnit;
  const busy = (budget: CpuBudget) =>
    `${budget.averageCoresBusy.toFixed(2)} of ${budget.cores} cores busy over ${budget.wallSeconds.toFixed(1)} s, ` +
    `whole machine ${budget.machineCoresBusy.toFixed(2)}`;
  const functions = Object.entries(order.byFunction)
    .filter(([, seconds]) => seconds > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([name, seconds]) => `${name} ${(seconds * 1000).toFixed(0)}`);
  return [
    `CPU per order          ${order.total.toFixed(3)} s: DynamoDB Local ${order.dynamodbLocal.toFixed(3)}, ` +
      `functions ${order.functions.toFixed(3)}, V8 GC/JIT ${order.v8Platform.toFixed(3)}, ` +
      `main thread ${order.mainThread.toFixed(3)}, libuv ${order.libuvPool.toFixed(3)}, ` +
      `other ${(order.otherThreads + order.exitedThreads).toFixed(3)} (${busy(lifecycle)})`,
    `functions, ms/order    ${functions.length === 0 ? 'none' : functions.join(', ')}`,
    `CPU bound              ${rate(lifecycle.maxUnitsPerSecond)} orders/s if all ${lifecycle.cores} cores did only this, ` +
      `${rate(lifecycle.maxUnitsPerSecondDynamodbLocalAlone)} orders/s from DynamoDB Local alone`,
    `ceiling CPU            DynamoDB Local ${(ceiling.cpuSecondsPerUnit.dynamodbLocal * 1000).toFixed(2)} ms/write, ` +
      `all ${(ceiling.cpuSecondsPerUnit.total * 1000).toFixed(2)} ms/write (${busy(ceiling)}): bound ` +
      `${rate(ceiling.maxUnitsPerSecondDynamodbLocalAlone)} writes/s from DynamoDB Local alone, ` +
      `${rate(ceiling.maxUnitsPerSecond)} with its client`,
  ];
}

function rate(perSecond: number | undefined): string {
  return perSecond === undefined ? 'unbounded' : perSecond.toFixed(perSecond < 100 ? 1 : 0);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

/**
 * An SVG histogram of latency samples per route, on logarithmic buckets (1 ms to ~33 s, 4 per doubling), each
 * route's share of samples per bucket drawn as a line, with its p50/p95/p99 in the legend.
 */
export function latencyChart(samplesByRoute: Readonly<Record<string, readonly number[]>>): string {
  const width = 760;
  const height = 360;
  const left = 60;
  const bottom = 300;
  const plotWidth = width - left - 20;
  const plotHeight = bottom - 40;
  const buckets = 60;
  const bucketOf = (ms: number) =>
    Math.min(buckets - 1, Math.max(0, Math.floor(Math.log2(Math.max(1, ms)) * 4)));
  const routes = Object.entries(samplesByRoute).filter(([, samples]) => samples.length > 0);
  const shares = routes.map(([, samples]) => {
    const counts = new Array<number>(buckets).fill(0);
    for (const sample of samples) counts[bucketOf(sample)] = (counts[bucketOf(sample)] ?? 0) + 1;
    return counts.map((count) => count / samples.length);
  });
  const maxShare = Math.max(0.01, ...shares.flat());
  const x = (bucket: number) => left + (bucket / (buckets - 1)) * plotWidth;
  const y = (share: number) => bottom - (share / maxShare) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">Latency distribution (share of requests per bucket)</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${left + plotWidth}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${bottom}" x2="${left}" y2="${bottom - plotHeight}" stroke="black"/>`,
  ];
  for (const ms of [1, 10, 100, 1000, 10000]) {
    const position = x(Math.log2(ms) * 4);
    parts.push(
      `<line x1="${position}" y1="${bottom}" x2="${position}" y2="${bottom + 5}" stroke="black"/>`,
      `<text x="${position}" y="${bottom + 18}" text-anchor="middle">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`,
    );
  }
  routes.forEach(([route, samples], index) => {
    const color = COLORS[index % COLORS.length];
    const points = (shares[index] ?? []).map(
      (share, bucket) => `${x(bucket).toFixed(1)},${y(share).toFixed(1)}`,
    );
    const { p50, p95, p99 } = summarize(samples);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`,
      `<text x="${left + 10}" y="${bottom + 40 + index * 16}" fill="${color}">${escapeXml(route)}: n=${samples.length}, p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
