import { readFileSync } from 'node:fs';
import { LOG_BYTES_KEY } from '../local/runtime/output-meter';
import type { Usage } from '../local/runtime/sdk-instrumentation';
import {
  type AppModel,
  appModel,
  FUNCTION_LOGGING,
  type FunctionLogging,
  PROVISIONED_TARGET_UTILIZATION_PERCENT,
} from '../model';

/**
 * The cost and capacity report: the AWS requests a run counted (see `lib/local/runtime/sdk-instrumentation.ts`),
 * priced with the list prices in `docs/pricing.json`, per million orders, for Standard and Express fulfilment sagas on an
 * on-demand table, and for Express sagas on a provisioned one; and, for a target order rate, which default quota
 * binds first. docs/simulation.md explains every line.
 */

interface Price {
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
}
interface Quota {
  readonly value: number;
  readonly unit: string;
}
export interface Pricing {
  readonly region: string;
  readonly asOf: string;
  readonly prices: Readonly<Record<string, Price>>;
  readonly estimates: {
    readonly lambdaBilledMsPerInvocation: number;
    /**
     * START, END and REPORT records, which the Lambda service writes and the function host cannot see, per
     * logging configuration (`platformLogKey`); a configuration without an estimate is not priced.
     */
    readonly lambdaPlatformLogBytesPerInvocation: Readonly<Record<string, number>>;
    readonly expressSagaSeconds: number;
    readonly expressSagaMemoryMb: number;
  };
  readonly quotas: Readonly<Record<string, Quota>>;
}

/** The key of a logging configuration's platform-log estimate in docs/pricing.json: `TEXT`, or `JSON/<system level>`. */
export function platformLogKey(logging: FunctionLogging): string {
  return logging.format === 'TEXT' ? 'TEXT' : `JSON/${logging.systemLevel}`;
}

export class MissingEstimateError extends Error {
  public override readonly name = 'MissingEstimateError';
}

/** Bytes of platform records Lambda writes to the log group per invocation of a function logging this way. */
export function platformLogBytesPerInvocation(logging: FunctionLogging, pricing: Pricing): number {
  const key = platformLogKey(logging);
  const bytes = pricing.estimates.lambdaPlatformLogBytesPerInvocation[key];
  if (bytes === undefined) {
    throw new MissingEstimateError(`docs/pricing.json has no lambdaPlatformLogBytesPerInvocation for ${key}`);
  }
  return bytes;
}

export function loadPricing(): Pricing {
  return JSON.parse(readFileSync(new URL('../../docs/pricing.json', import.meta.url), 'utf8')) as Pricing;
}

export interface CostLine {
  readonly service: string;
  readonly item: string;
  /** Billable units per order. */
  readonly unitsPerOrder: number;
  readonly unit: string;
  readonly usdPerMillionOrders: number;
  /** How to print units too small for `x.xxx/order`: multiplied by `factor`, in `unit` (GB as KB, say). */
  readonly shownAs?: { readonly factor: number; readonly unit: string };
}

export interface QuotaLine {
  readonly quota: string;
  readonly perOrder: number;
  readonly limit: number;
  readonly unit: string;
  /** Orders per second at which this quota is reached. */
  readonly maxOrdersPerSecond: number;
  readonly neededAtRate: number;
}

export interface CostReport {
  readonly orders: number;
  readonly pricesAsOf: string;
  readonly standard: readonly CostLine[];
  readonly express: readonly CostLine[];
  readonly standardTotal: number;
  readonly expressTotal: number;
  /** Express sagas with the table's capacity provisioned and autoscaled (`-c tableCapacity=PROVISIONED`). */
  readonly expressProvisioned: readonly CostLine[];
  readonly expressProvisionedTotal: number;
  /** The share of provisioned capacity autoscaling keeps in use, in percent: what the provisioned lines assume. */
  readonly provisionedUtilizationPercent: number;
  /**
   * The average use of provisioned write capacity, in percent, below which on-demand writes cost less: traffic
   * that autoscaling cannot follow closely (sharp peaks, long quiet nights at minimum capacity) falls below it.
   */
  readonly provisionedBreakEvenPercent: number;
  readonly rate: number;
  readonly quotas: readonly QuotaLine[];
  /**
   * Requests left out of the per-order cost: idle polling and the clocked functions (fixed costs per hour).
   * Requests only: their log bytes are left out too, but not listed here.
   */
  readonly fixed: Readonly<Record<string, number>>;
  /** Invocations left out as the simulator's own observation (its `GET /orders/{id}` polling). */
  readonly observerInvocations: number;
}

/**
 * Functions whose requests are the harness, not the workload: the simulator polls `GET /orders/{id}` until every
 * order settles, far more often than a customer would look.
 */
export const OBSERVER_FUNCTIONS: readonly string[] = ['get-order'];

/**
 * Functions that run on a clock whatever the order count: a fixed cost per hour, like idle queue polling. The
 * reconciler's work does grow with the orders awaiting payment, but a run locally passes every few seconds
 * instead of every five minutes, so what it measures says nothing of its cost in AWS.
 */
export const CLOCKED_FUNCTIONS: readonly string[] = ['sweeper', 'payment-reconciler'];

const isClocked = (fn: string | undefined) => fn !== undefined && CLOCKED_FUNCTIONS.includes(fn);

/** `Service:Operation` and, for a function's own requests, `@function`. */
function parseKey(key: string): { service: string; operation: string; fn: string | undefined } {
  const [name = '', fn] = key.split('@');
  const [service = '', operation = ''] = name.split(':');
  return { service, operation, fn };
}

function total(
  usage: Usage,
  match: (service: string, operation: string) => boolean,
  field: 'requests' | 'readCapacityUnits' | 'writeCapacityUnits' = 'requests',
): number {
  return Object.entries(usage)
    .filter(([key]) => {
      const { service, operation, fn } = parseKey(key);
      return (
        match(service, operation) && !isClocked(fn) && (fn === undefined || !OBSERVER_FUNCTIONS.includes(fn))
      );
    })
    .reduce((sum, [, value]) => sum + value[field], 0);
}

const invokedFunction = (operation: string) => /^Invoke\((.+)\)$/.exec(operation)?.[1];
const isFixed = (operation: string) => operation.endsWith('(empty)') || isClocked(invokedFunction(operation));
/** Measures stored in `requests` that are not requests (log bytes and events). */
const isLogMeasure = (service: string) => service === 'CloudWatchLogs';

/** Prices a run's usage per million orders, and finds the binding quota at `rate` orders per second. */
export function costReport(
  usage: Usage,
  orders: number,
  rate: number,
  pricing = loadPricing(),
  model: AppModel = appModel,
  logging: FunctionLogging = FUNCTION_LOGGING,
  provisionedUtilizationPercent = PROVISIONED_TARGET_UTILIZATION_PERCENT,
): CostReport {
  const per = (count: number) => (orders === 0 ? 0 : count / orders);
  const price = (name: string): Price => {
    const found = pricing.prices[name];
    if (found === undefined) throw new Error(`docs/pricing.json has no price ${name}`);
    return found;
  };
  const line = (
    service: string,
    item: string,
    unitsPerOrder: number,
    priceName: string,
    shownAs?: CostLine['shownAs'],
  ): CostLine => {
    const { usd, per: unitsPerPrice, unit } = price(priceName);
    return {
      service,
      item,
      unitsPerOrder,
      unit,
      usdPerMillionOrders: (unitsPerOrder * 1_000_000 * usd) / unitsPerPrice,
      ...(shownAs === undefined ? {} : { shownAs }),
    };
  };
  const memoryOf = new Map(model.functions.map((declaration) => [declaration.name, declaration.memoryMb]));
  const httpFunctions = new Set(
    model.functions
      .filter((declaration) => declaration.triggers.some((trigger) => trigger.type === 'http'))
      .map((d) => d.name),
  );
  const invocations = Object.entries(usage).flatMap(([key, value]) => {
    const { service, operation } = parseKey(key);
    const name = invokedFunction(operation);
    return service === 'Lambda' &&
      name !== undefined &&
      !isClocked(name) &&
      !OBSERVER_FUNCTIONS.includes(name)
      ? [{ name, count: value.requests }]
      : [];
  });
  const invocationCount = invocations.reduce((sum, entry) => sum + entry.count, 0);
  const gbSeconds = invocations.reduce(
    (sum, entry) =>
      sum +
      (entry.count * pricing.estimates.lambdaBilledMsPerInvocation * (memoryOf.get(entry.name) ?? 128)) /
        1000 /
        1024,
    0,
  );
  const apiRequests = invocations
    .filter((entry) => httpFunctions.has(entry.name))
    .reduce((sum, entry) => sum + entry.count, 0);
  const sqsRequests = total(usage, (service, operation) => service === 'SQS' && !isFixed(operation));
  const functionLogBytes = total(usage, (service, operation) => `${service}:${operation}` === LOG_BYTES_KEY);
  const platformBytesEach = platformLogBytesPerInvocation(logging, pricing);
  const platformLogBytes = invocationCount * platformBytesEach;
  const eventEntries = total(
    usage,
    (service, operation) => service === 'EventBridge' && operation === 'PutEvents(entries)',
  );
  const writeUnits = per(total(usage, (s) => s === 'DynamoDB', 'writeCapacityUnits'));
  const readUnits = per(total(usage, (s) => s === 'DynamoDB', 'readCapacityUnits'));
  const onDemandTable: CostLine[] = [
    line('DynamoDB', 'write request units (consumed capacity)', writeUnits, 'dynamodbWriteRequestUnit'),
    line('DynamoDB', 'read request units (consumed capacity)', readUnits, 'dynamodbReadRequestUnit'),
  ];
  // A unit consumed per second needs 1 / utilization units provisioned for that second: capacity-hours per order.
  const provisionedHours = (consumedUnits: number) =>
    consumedUnits / 3600 / (provisionedUtilizationPercent / 100);
  const capacitySeconds = { factor: 3600, unit: 'CU-s' };
  const provisionedTable: CostLine[] = [
    line(
      'DynamoDB',
      `write capacity, provisioned, autoscaled to ${provisionedUtilizationPercent} % use`,
      provisionedHours(writeUnits),
      'dynamodbProvisionedWriteCapacityHour',
      capacitySeconds,
    ),
    line(
      'DynamoDB',
      `read capacity, provisioned, autoscaled to ${provisionedUtilizationPercent} % use`,
      provisionedHours(readUnits),
      'dynamodbProvisionedReadCapacityHour',
      capacitySeconds,
    ),
  ];
  const beforeTable: CostLine[] = [
    line('API Gateway', 'HTTP API requests', per(apiRequests), 'apiGatewayHttpRequest'),
    line('Lambda', 'invocations', per(invocationCount), 'lambdaRequest'),
    line(
      'Lambda',
      `duration, ${pricing.estimates.lambdaBilledMsPerInvocation} ms each at declared memory (estimate)`,
      per(gbSeconds),
      'lambdaGbSecondArm',
    ),
    line(
      'CloudWatch Logs',
      `measured output + ${platformBytesEach} B/invocation platform lines (${platformLogKey(logging)}, est.)`,
      per((functionLogBytes + platformLogBytes) / 1e9),
      'cloudWatchLogsIngestion',
      { factor: 1e6, unit: 'KB' },
    ),
  ];
  const afterTable: CostLine[] = [
    line('DynamoDB Streams', 'GetRecords by Lambda triggers', 0, 'dynamodbStreamsRead'),
    line(
      'SQS',
      'FIFO requests (send, receive with messages, delete, visibility)',
      per(sqsRequests),
      'sqsFifoRequest',
    ),
    line('EventBridge', 'custom events', per(eventEntries), 'eventBridgeCustomEvent'),
    line(
      'Scheduler',
      'payment-timeout invocations',
      per(total(usage, (s, o) => s === 'Scheduler' && invokedFunction(o) === 'payment-timeout')),
      'schedulerInvocation',
    ),
    line(
      'Secrets Manager',
      'GetSecretValue (cached 5 min per environment)',
      per(total(usage, (s) => s === 'SecretsManager')),
      'secretsManagerApi',
    ),
  ];
  const starts = total(usage, (service, operation) => service === 'SFN' && operation === 'StartExecution');
  const standard = [
    ...beforeTable,
    ...onDemandTable,
    ...afterTable,
    line(
      'Step Functions',
      'Standard state transitions',
      per(total(usage, (s, o) => s === 'StepFunctions' && o === 'StateTransition')),
      'stepFunctionsStandardTransition',
    ),
  ];
  const expressGbSeconds =
    (Math.max(64, pricing.estimates.expressSagaMemoryMb) / 1024) * pricing.estimates.expressSagaSeconds;
  const expressSagas = [
    line('Step Functions', 'Express executions', per(starts), 'stepFunctionsExpressRequest'),
    line(
      'Step Functions',
      `Express duration, ${pricing.estimates.expressSagaSeconds} s at ${pricing.estimates.expressSagaMemoryMb} MB (estimate)`,
      per(starts * expressGbSeconds),
      'stepFunctionsExpressGbSecond',
    ),
  ];
  const express = [...beforeTable, ...onDemandTable, ...afterTable, ...expressSagas];
  const expressProvisioned = [...beforeTable, ...provisionedTable, ...afterTable, ...expressSagas];
  const usdPerUnit = (name: string) => price(name).usd / price(name).per;
  const sum = (lines: readonly CostLine[]) =>
    lines.reduce((acc, entry) => acc + entry.usdPerMillionOrders, 0);

  const quota = (name: string, label: string, perOrder: number): QuotaLine => {
    const found = pricing.quotas[name];
    if (found === undefined) throw new Error(`docs/pricing.json has no quota ${name}`);
    return {
      quota: label,
      perOrder,
      limit: found.value,
      unit: found.unit,
      maxOrdersPerSecond: perOrder === 0 ? Number.POSITIVE_INFINITY : found.value / perOrder,
      neededAtRate: perOrder * rate,
    };
  };
  const sqsAction = (operation: RegExp) =>
    per(total(usage, (s, o) => s === 'SQS' && operation.test(o) && !isFixed(o)));
  const quotas = [
    // Two FIFO queues share the work; the busiest action of either is taken as if on one queue (conservative).
    quota('sqsFifoPerActionPerQueue', 'SQS FIFO SendMessage(Batch) per queue', sqsAction(/^SendMessage/)),
    quota('sqsFifoPerActionPerQueue', 'SQS FIFO ReceiveMessage per queue', sqsAction(/^ReceiveMessage$/)),
    quota('sqsFifoPerActionPerQueue', 'SQS FIFO DeleteMessage(Batch) per queue', sqsAction(/^DeleteMessage/)),
    quota('stepFunctionsStandardStartExecution', 'Step Functions StartExecution (Standard)', per(starts)),
    quota('stepFunctionsExpressStartExecution', 'Step Functions StartExecution (Express)', per(starts)),
    quota(
      'stepFunctionsStandardTransitions',
      'Step Functions state transitions (Standard)',
      per(total(usage, (s, o) => s === 'StepFunctions' && o === 'StateTransition')),
    ),
    quota(
      'schedulerInvocations',
      'Scheduler invocations',
      per(total(usage, (s, o) => s === 'Scheduler' && invokedFunction(o) === 'payment-timeout')),
    ),
    quota(
      'schedulerCreateSchedule',
      'Scheduler CreateSchedule',
      per(total(usage, (s, o) => s === 'Scheduler' && o === 'CreateSchedule')),
    ),
    // Each order enters and leaves the sparse pending-payment index once: 2 index writes over 8 shards.
    quota('dynamodbPartitionWrite', 'DynamoDB per-partition writes (pending-payment GSI shard)', 2 / 8),
    quota('dynamodbTableWrite', 'DynamoDB table writes', writeUnits),
    quota(
      'lambdaConcurrency',
      'Lambda concurrency',
      (per(invocationCount) * pricing.estimates.lambdaBilledMsPerInvocation) / 1000,
    ),
  ].sort((a, b) => a.maxOrdersPerSecond - b.maxOrdersPerSecond);
  const fixed = Object.fromEntries(
    Object.entries(usage)
      .filter(([key]) => {
        const { service, operation, fn } = parseKey(key);
        return !isLogMeasure(service) && (isFixed(operation) || isClocked(fn));
      })
      .map(([key, value]) => [key, value.requests]),
  );
  return {
    orders,
    pricesAsOf: `${pricing.region}, ${pricing.asOf}`,
    standard,
    express,
    standardTotal: sum(standard),
    expressTotal: sum(express),
    expressProvisioned,
    expressProvisionedTotal: sum(expressProvisioned),
    provisionedUtilizationPercent,
    provisionedBreakEvenPercent:
      (100 * usdPerUnit('dynamodbProvisionedWriteCapacityHour')) /
      3600 /
      usdPerUnit('dynamodbWriteRequestUnit'),
    rate,
    quotas,
    fixed,
    observerInvocations: Object.entries(usage)
      .filter(([key]) => OBSERVER_FUNCTIONS.includes(invokedFunction(parseKey(key).operation) ?? ''))
      .reduce((sum, [, value]) => sum + value.requests, 0),
  };
}

/** A line's units per order, to fit a 10-character column: `25.680`, `12.34 KB` for log gigabytes, `38.57 CU-s`. */
export function formatUnitsPerOrder(row: CostLine): string {
  return row.shownAs === undefined
    ? row.unitsPerOrder.toFixed(3)
    : `${(row.unitsPerOrder * row.shownAs.factor).toFixed(2)} ${row.shownAs.unit}`;
}

export function formatCostReport(report: CostReport): string {
  const lines = [`Cost per 1M orders (list prices ${report.pricesAsOf}; ${report.orders} orders measured)`];
  const table = (title: string, rows: readonly CostLine[], sum: number) => {
    lines.push(`  ${title}`);
    for (const row of rows) {
      lines.push(
        `    ${`${row.service}: ${row.item}`.padEnd(84)} ${formatUnitsPerOrder(row).padStart(10)}/order  $${row.usdPerMillionOrders.toFixed(2).padStart(8)}`,
      );
    }
    lines.push(`    ${'total'.padEnd(84)} ${''.padStart(16)} $${sum.toFixed(2).padStart(8)}`);
  };
  table('STANDARD sagas', report.standard, report.standardTotal);
  table('EXPRESS sagas', report.express, report.expressTotal);
  table('EXPRESS sagas, PROVISIONED table', report.expressProvisioned, report.expressProvisionedTotal);
  lines.push(
    `  PROVISIONED: autoscaling keeps ${report.provisionedUtilizationPercent} % of capacity in use (steady traffic); ` +
      `below ${report.provisionedBreakEvenPercent.toFixed(0)} % average use of write capacity, on-demand costs less;`,
    '    minimum capacity is a fixed cost per hour, left out',
  );
  const fixedRequests = Object.values(report.fixed).reduce((sum, count) => sum + count, 0);
  lines.push(
    `  left out: ${report.observerInvocations} invocations of ${OBSERVER_FUNCTIONS.join(', ')} (the simulator's polling), ` +
      `${fixedRequests} requests of idle polling, the sweeper and the reconciler (fixed per hour, not per order)`,
  );
  lines.push('', `Quotas at ${report.rate} orders/s (first to bind on top)`);
  for (const row of report.quotas) {
    const max = Number.isFinite(row.maxOrdersPerSecond) ? row.maxOrdersPerSecond.toFixed(0) : 'unbounded';
    const flag = row.neededAtRate > row.limit ? '  <-- exceeded' : '';
    lines.push(
      `  ${row.quota.padEnd(60)} ${row.perOrder.toFixed(3).padStart(8)}/order  needs ${row.neededAtRate.toFixed(1).padStart(9)} of ${row.limit}  max ${max} orders/s${flag}`,
    );
  }
  return lines.join('\n');
}
