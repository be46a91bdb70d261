import { readFileSync } from 'node:fs';
import { PENDING_INDEX_SHARDS } from '../../functions/adapters/dynamodb-table';
import { LOG_BYTES_KEY } from '../local/runtime/output-meter';
import type { Usage } from '../local/runtime/sdk-instrumentation';
import {
  type AppModel,
  appModel,
  FUNCTION_LOGGING,
  type FunctionDeclaration,
  type FunctionLogging,
  PROVISIONED_TARGET_UTILIZATION_PERCENT,
} from '../model';

/**
 * The cost and capacity report: the AWS requests a run counted (see `lib/local/runtime/sdk-instrumentation.ts`),
 * priced with the list prices in `docs/pricing.json`, per million orders, for Standard and Express fulfilment sagas on an
 * on-demand table, and for Express sagas on a provisioned one, beside the floor the contract sets; and every quota
 * in an order's path with what it needs at 1,000 and 10,000 orders/s and the rate at which it binds.
 * docs/simulation.md explains every line.
 */

interface Price {
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
}
interface Quota {
  readonly value: number;
  readonly unit: string;
  /** Whether the owner raises it on request (a Service Quotas request for AWS; Stripe's support for Stripe). */
  readonly adjustable: boolean;
  readonly source: string;
  /** When the value was last read from `source`. */
  readonly checked: string;
  /** `stripe` for Stripe's limits; AWS's otherwise. */
  readonly owner?: 'stripe';
  readonly note?: string;
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
    /** Per function, milliseconds an invocation waits on Stripe on top of the billed estimate: concurrency only. */
    readonly lambdaOutsideWaitMsPerInvocation: Readonly<Record<string, number>>;
    /** Stripe API calls of a happy-path order, per endpoint (the local run does not count them). */
    readonly stripeCallsPerOrder: Readonly<Record<string, number>>;
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

/** Whose limit a quota line is: a service's, or our own setting in `lib/model.ts`. */
export type QuotaOwner = 'AWS' | 'Stripe' | 'ours';

export interface QuotaLine {
  readonly quota: string;
  readonly owner: QuotaOwner;
  /** Raised on request (AWS's Service Quotas, Stripe's support) or, for our own settings, by a change of ours. */
  readonly adjustable: boolean;
  /** Units needed per order per second: what one order a second asks of the quota. */
  readonly perOrder: number;
  /** The default value (for our own settings, the declared one). */
  readonly limit: number;
  readonly unit: string;
  /** A need that does not grow with the order rate (in-flight messages, bounded by their consumer's concurrency). */
  readonly fixedNeed?: number;
  /** Only with this kind of fulfilment saga (the Step Functions quotas of the other kind do not apply). */
  readonly sagas?: 'STANDARD' | 'EXPRESS';
  /** A rate of growth, not a ceiling: a need above the limit takes longer to reach, and no rate is out of reach. */
  readonly rampOnly?: boolean;
  /** A ceiling only until the table is warm: lifted by earlier traffic or by pre-warming it before a sale. */
  readonly untilWarm?: boolean;
  readonly note?: string;
  /** Orders per second at which this quota is reached. */
  readonly maxOrdersPerSecond: number;
  /** What the quota must be at each of the report's `rates`. */
  readonly needed: readonly number[];
}

/** Where the quotas stop a rate, and what to raise for the rates the report lists. */
export interface CapacitySummary {
  /** With every quota at its default: the AWS quota that binds first, per kind of saga. */
  readonly firstAwsAtDefault: { readonly STANDARD: QuotaLine; readonly EXPRESS: QuotaLine };
  /** The same on a warm table (pre-warmed before a sale, or warmed by earlier traffic). */
  readonly firstAwsWarmTable: { readonly STANDARD: QuotaLine; readonly EXPRESS: QuotaLine };
  /** With every adjustable quota raised: the fixed one that binds first (Express sagas). */
  readonly firstFixed: QuotaLine;
  /** Per rate of the report, the adjustable quotas (Express sagas) whose default falls short, with their need. */
  readonly toRaise: readonly { readonly rate: number; readonly quotas: readonly QuotaLine[] }[];
}

/**
 * What the contract alone asks of a happy-path order, priced: the API calls that others make (the customer's order
 * and payment, Stripe's one handled webhook, the carrier's three reports: OUTBOUND, SHIPPED, DELIVERED) and one
 * event on the bus per committed status change (the order's seven, PENDING_PAYMENT to DELIVERED, and the
 * payment's success). Everything else the report prices is the cost of our implementation above this floor.
 */
export const CONTRACT_FLOOR = { apiCalls: 6, busEvents: 8 } as const;

/** The rates at which the capacity report states every quota's need (the issue's targets), besides `--rate`. */
export const CAPACITY_RATES: readonly number[] = [1000, 10_000];

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
  /** The contract's floor per 1M orders (API calls and bus events only). */
  readonly floor: {
    readonly apiCalls: number;
    readonly busEvents: number;
    readonly usdPerMillionOrders: number;
  };
  readonly rate: number;
  /** The rates each quota line states its need at: {@link CAPACITY_RATES} and `rate`, ascending. */
  readonly rates: readonly number[];
  /** Every quota in an order's path, the first to bind on top. */
  readonly quotas: readonly QuotaLine[];
  readonly capacity: CapacitySummary;
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

  const rates = [...new Set([...CAPACITY_RATES, rate])].sort((a, b) => a - b);
  const quotas = quotaLines({ usage, orders, pricing, model, rates, writeUnits, readUnits }).sort(
    (a, b) => a.maxOrdersPerSecond - b.maxOrdersPerSecond,
  );
  const floorUsd =
    CONTRACT_FLOOR.apiCalls * 1_000_000 * usdPerUnit('apiGatewayHttpRequest') +
    CONTRACT_FLOOR.busEvents * 1_000_000 * usdPerUnit('eventBridgeCustomEvent');
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
    floor: { ...CONTRACT_FLOOR, usdPerMillionOrders: floorUsd },
    rate,
    rates,
    quotas,
    capacity: capacitySummary(quotas, rates),
    fixed,
    observerInvocations: Object.entries(usage)
      .filter(([key]) => OBSERVER_FUNCTIONS.includes(invokedFunction(parseKey(key).operation) ?? ''))
      .reduce((sum, [, value]) => sum + value.requests, 0),
  };
}

interface QuotaInput {
  readonly usage: Usage;
  readonly orders: number;
  readonly pricing: Pricing;
  readonly model: AppModel;
  readonly rates: readonly number[];
  readonly writeUnits: number;
  readonly readUnits: number;
}

/** Seconds a function's execution environments hold per order: its invocations x (billed estimate + outside wait). */
function concurrencyPerOrder(input: QuotaInput): Map<string, number> {
  const { usage, orders, pricing, model } = input;
  const seconds = new Map<string, number>();
  for (const declaration of model.functions) {
    if (isClocked(declaration.name) || OBSERVER_FUNCTIONS.includes(declaration.name)) continue;
    const invocations = total(usage, (s, o) => s === 'Lambda' && invokedFunction(o) === declaration.name);
    const ms =
      pricing.estimates.lambdaBilledMsPerInvocation +
      (pricing.estimates.lambdaOutsideWaitMsPerInvocation[declaration.name] ?? 0);
    seconds.set(declaration.name, orders === 0 ? 0 : (invocations / orders) * (ms / 1000));
  }
  return seconds;
}

/** Every quota in an order's path: AWS's and Stripe's defaults from docs/pricing.json, and our own settings. */
function quotaLines(input: QuotaInput): QuotaLine[] {
  const { usage, orders, pricing, model, rates } = input;
  const per = (count: number) => (orders === 0 ? 0 : count / orders);
  const requests = (match: (service: string, operation: string) => boolean) => per(total(usage, match));
  const line = (
    owner: QuotaOwner,
    adjustable: boolean,
    quota: string,
    limit: number,
    unit: string,
    perOrder: number,
    extra: Pick<QuotaLine, 'fixedNeed' | 'sagas' | 'note' | 'rampOnly' | 'untilWarm'> = {},
  ): QuotaLine => {
    const { fixedNeed } = extra;
    const maxOrdersPerSecond =
      extra.rampOnly === true
        ? Number.POSITIVE_INFINITY
        : fixedNeed !== undefined
          ? fixedNeed > limit
            ? 0
            : Number.POSITIVE_INFINITY
          : perOrder === 0
            ? Number.POSITIVE_INFINITY
            : limit / perOrder;
    return {
      quota,
      owner,
      adjustable,
      perOrder,
      limit,
      unit,
      ...extra,
      maxOrdersPerSecond,
      needed: rates.map((rate) => fixedNeed ?? perOrder * rate),
    };
  };
  const published = (
    name: string,
    label: string,
    perOrder: number,
    extra: Pick<QuotaLine, 'fixedNeed' | 'sagas' | 'rampOnly' | 'untilWarm'> = {},
  ) => {
    const found = pricing.quotas[name];
    if (found === undefined) throw new Error(`docs/pricing.json has no quota ${name}`);
    return line(
      found.owner === 'stripe' ? 'Stripe' : 'AWS',
      found.adjustable,
      label,
      found.value,
      found.unit,
      perOrder,
      {
        ...extra,
        ...(found.note === undefined ? {} : { note: found.note }),
      },
    );
  };

  const needs = concurrencyPerOrder(input);
  const reserved = model.functions.filter((declaration) => declaration.reservedConcurrency !== undefined);
  const sumOfNeeds = (names: readonly string[]) =>
    names.reduce((sum, name) => sum + (needs.get(name) ?? 0), 0);
  const accountConcurrency = pricing.quotas.lambdaConcurrency?.value ?? 0;
  const reservedTotal = reserved.reduce(
    (sum, declaration) => sum + (declaration.reservedConcurrency ?? 0),
    0,
  );
  const unreservedNames = [...needs.keys()].filter((name) => !reserved.some((d) => d.name === name));
  const busiestFunction = [...needs.entries()].reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0] as [
    string,
    number,
  ]);
  const secretsOf = (declaration: FunctionDeclaration) =>
    Object.values(declaration.environment).filter((value) => 'secret' in value).length;
  // A value fetched once per execution environment and kept five minutes: environments x secrets / 300 s.
  const secretReads = model.functions.reduce(
    (sum, declaration) => sum + ((needs.get(declaration.name) ?? 0) * secretsOf(declaration)) / 300,
    0,
  );

  const invocationsOf = (name: string) => requests((s, o) => s === 'Lambda' && invokedFunction(o) === name);
  const routes = model.functions
    .filter((declaration) => !OBSERVER_FUNCTIONS.includes(declaration.name))
    .flatMap((declaration) =>
      declaration.triggers
        .filter((trigger) => trigger.type === 'http')
        .map((trigger) =>
          line(
            'ours',
            true,
            `API Gateway route ${trigger.method} ${trigger.path} throttle (lib/model.ts)`,
            trigger.throttle.rateLimit,
            'requests/s (burst above it)',
            invocationsOf(declaration.name),
          ),
        ),
    );
  const apiRequests = model.functions
    .filter((d) => d.triggers.some((t) => t.type === 'http') && !OBSERVER_FUNCTIONS.includes(d.name))
    .reduce((sum, d) => sum + invocationsOf(d.name), 0);

  const queues = model.queues.flatMap((queue) => {
    const senders = model.functions.filter((d) =>
      (d.access.queues ?? []).some((access) => access.queue === queue.name && access.mode === 'send'),
    );
    const consumer = model.functions.find((d) =>
      d.triggers.some((t) => t.type === 'queue' && t.queue === queue.name),
    );
    const batchSize = consumer?.triggers.find((t) => t.type === 'queue')?.batchSize ?? 10;
    const sends = per(
      Object.entries(usage)
        .filter(([key]) => {
          const { service, operation, fn } = parseKey(key);
          return (
            service === 'SQS' && operation.startsWith('SendMessage') && senders.some((d) => d.name === fn)
          );
        })
        .reduce((sum, [, value]) => sum + value.requests, 0),
    );
    // One receive and one batch delete per batch the event source hands to an invocation of the consumer.
    const batches = consumer === undefined ? 0 : invocationsOf(consumer.name);
    const busiest = Math.max(sends, batches);
    const pollers = consumer?.reservedConcurrency ?? accountConcurrency;
    return [
      published(
        'sqsFifoHighThroughputPerAction',
        `SQS FIFO ${queue.name}: busiest action per queue`,
        busiest,
      ),
      published('sqsFifoPerMessageGroup', `SQS FIFO ${queue.name}: one message group (an order's calls)`, 0, {
        fixedNeed: sends + 2 * batches,
      }),
      published('sqsFifoInFlight', `SQS FIFO ${queue.name}: in flight (consumer concurrency x batch)`, 0, {
        fixedNeed: pollers * batchSize,
      }),
    ];
  });

  const starts = requests((s, o) => s === 'SFN' && o === 'StartExecution');
  const stripeCalls = Object.values(pricing.estimates.stripeCallsPerOrder);
  return [
    published('apiGatewayAccountRequests', 'API Gateway requests per account', apiRequests),
    ...routes,
    published('lambdaConcurrency', 'Lambda concurrency per account', sumOfNeeds([...needs.keys()])),
    line(
      'AWS',
      true,
      `Lambda unreserved concurrency (account default - ${reservedTotal} reserved)`,
      accountConcurrency - reservedTotal,
      'concurrent executions (raised with the account quota)',
      sumOfNeeds(unreservedNames),
    ),
    ...reserved.map((declaration) =>
      line(
        'ours',
        true,
        `Lambda reserved concurrency of ${declaration.name} (lib/model.ts)`,
        declaration.reservedConcurrency ?? 0,
        'concurrent executions',
        needs.get(declaration.name) ?? 0,
      ),
    ),
    published(
      'lambdaScalingRate',
      `Lambda scale-up per function in 10 s (ramp; busiest: ${busiestFunction[0]})`,
      busiestFunction[1],
      { rampOnly: true },
    ),
    ...queues,
    published(
      'eventBridgePutEvents',
      'EventBridge PutEvents requests',
      requests((s, o) => s === 'EventBridge' && o === 'PutEvents'),
    ),
    published(
      'eventBridgeInvocations',
      'EventBridge rule invocations (one subscriber per event; none deployed)',
      requests((s, o) => s === 'EventBridge' && o === 'PutEvents(entries)'),
    ),
    published('stepFunctionsExpressStartExecution', 'Step Functions StartExecution (EXPRESS)', starts, {
      sagas: 'EXPRESS',
    }),
    published('stepFunctionsStandardStartExecution', 'Step Functions StartExecution (STANDARD)', starts, {
      sagas: 'STANDARD',
    }),
    published(
      'stepFunctionsStandardTransitions',
      'Step Functions state transitions (STANDARD)',
      requests((s, o) => s === 'StepFunctions' && o === 'StateTransition'),
      { sagas: 'STANDARD' },
    ),
    published(
      'schedulerCreateSchedule',
      'Scheduler CreateSchedule',
      requests((s, o) => s === 'Scheduler' && o === 'CreateSchedule'),
    ),
    published(
      'schedulerDeleteSchedule',
      'Scheduler DeleteSchedule',
      requests((s, o) => s === 'Scheduler' && o === 'DeleteSchedule'),
    ),
    published(
      'schedulerInvocations',
      'Scheduler invocations (payment timeouts)',
      requests((s, o) => s === 'Scheduler' && invokedFunction(o) === 'payment-timeout'),
    ),
    published('dynamodbTableWrite', 'DynamoDB table writes (on demand)', input.writeUnits),
    published('dynamodbTableRead', 'DynamoDB table reads (on demand)', input.readUnits),
    published('dynamodbWarmWrite', 'DynamoDB writes a cold on-demand table takes at once', input.writeUnits, {
      untilWarm: true,
    }),
    // Each order enters and leaves the sparse pending-payment index once: two writes on one shard's partition.
    published(
      'dynamodbPartitionWrite',
      `DynamoDB partition writes, one of ${PENDING_INDEX_SHARDS} pending-payment index shards`,
      2 / PENDING_INDEX_SHARDS,
    ),
    published('secretsManagerGetSecretValue', 'Secrets Manager GetSecretValue (5 min cache)', secretReads),
    line(
      'AWS',
      false,
      'CloudWatch Logs ingestion of Lambda logs',
      Number.POSITIVE_INFINITY,
      'KB/s (Lambda delivers them; no rate quota is published for it)',
      requests((s, o) => `${s}:${o}` === LOG_BYTES_KEY) / 1000,
    ),
    published(
      'stripeGlobal',
      'Stripe API operations (live mode)',
      stripeCalls.reduce((a, b) => a + b, 0),
    ),
    published('stripePerEndpoint', 'Stripe requests per endpoint (busiest)', Math.max(0, ...stripeCalls)),
  ];
}

/** The first quota to bind per kind of saga, the first that cannot be raised, and what to raise for each rate. */
function capacitySummary(quotas: readonly QuotaLine[], rates: readonly number[]): CapacitySummary {
  const forSagas = (sagas: 'STANDARD' | 'EXPRESS') =>
    quotas.filter((q) => q.sagas === undefined || q.sagas === sagas);
  const first = (lines: readonly QuotaLine[]) => {
    const found = lines[0];
    if (found === undefined) throw new Error('no quota lines');
    return found;
  };
  const aws = (sagas: 'STANDARD' | 'EXPRESS', warm = false) =>
    first(forSagas(sagas).filter((q) => q.owner === 'AWS' && !(warm && q.untilWarm === true)));
  return {
    firstAwsAtDefault: { STANDARD: aws('STANDARD'), EXPRESS: aws('EXPRESS') },
    firstAwsWarmTable: { STANDARD: aws('STANDARD', true), EXPRESS: aws('EXPRESS', true) },
    firstFixed: first(forSagas('EXPRESS').filter((q) => !q.adjustable)),
    toRaise: rates.map((rate, index) => ({
      rate,
      quotas: forSagas('EXPRESS').filter((q) => q.adjustable && (q.needed[index] ?? 0) > q.limit),
    })),
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
  const aboveFloor = (total: number) => `$${(total - report.floor.usdPerMillionOrders).toFixed(2)}`;
  lines.push(
    `  contract floor: ${report.floor.apiCalls} API calls and ${report.floor.busEvents} bus events per order, ` +
      `$${report.floor.usdPerMillionOrders.toFixed(2)}; above it: STANDARD ${aboveFloor(report.standardTotal)}, ` +
      `EXPRESS ${aboveFloor(report.expressTotal)}, EXPRESS provisioned ${aboveFloor(report.expressProvisionedTotal)}`,
  );
  lines.push('', ...formatCapacity(report));
  return lines.join('\n');
}

const count = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'none';
const ordersPerSecond = (value: number) =>
  Number.isFinite(value) ? `${Math.floor(value).toLocaleString('en-US')} orders/s` : 'never';
const describe = (row: QuotaLine) => `${row.quota} at ${ordersPerSecond(row.maxOrdersPerSecond)}`;

/** The capacity table: every quota, its default, whether it can be raised, its need at each rate, where it binds. */
export function formatCapacity(report: CostReport): string[] {
  const header = report.rates.map((rate) => `@${count(rate)}`.padStart(9)).join(' ');
  const lines = [
    'Capacity: every quota in the path, first to bind on top (! = default short of the need)',
    `  ${'quota'.padEnd(76)} ${'owner'.padEnd(6)} ${'adj.'.padEnd(4)} ${'/order'.padStart(8)} ${'default'.padStart(9)} ${header} ${'binds at'.padStart(16)}`,
  ];
  for (const row of report.quotas) {
    const needed = row.needed
      .map((need) => `${count(need)}${need > row.limit ? '!' : ' '}`.padStart(9))
      .join(' ');
    const perOrder = row.fixedNeed === undefined ? row.perOrder.toFixed(3) : 'fixed';
    lines.push(
      `  ${row.quota.padEnd(76)} ${row.owner.padEnd(6)} ${(row.adjustable ? 'yes' : 'no').padEnd(4)} ${perOrder.padStart(8)} ${count(row.limit).padStart(9)} ${needed} ${ordersPerSecond(row.maxOrdersPerSecond).padStart(16)}`,
    );
  }
  const { capacity } = report;
  const bySagas = (found: CapacitySummary['firstAwsAtDefault']) =>
    `EXPRESS sagas: ${describe(found.EXPRESS)}; STANDARD sagas (the stack's default): ${describe(found.STANDARD)}`;
  lines.push(
    `  first AWS quota to bind at its default, cold table: ${bySagas(capacity.firstAwsAtDefault)}`,
    `  first AWS quota to bind at its default, warm table: ${bySagas(capacity.firstAwsWarmTable)}`,
    `  with every adjustable quota raised, the first fixed one: ${describe(capacity.firstFixed)}`,
  );
  for (const { rate, quotas } of capacity.toRaise) {
    lines.push(
      `  to run ${count(rate)} orders/s with EXPRESS sagas, raise${quotas.length === 0 ? ' nothing' : ':'}`,
    );
    for (const row of quotas) {
      lines.push(`    ${row.quota} (${row.owner}) to ${count(row.needed[report.rates.indexOf(rate)] ?? 0)}`);
    }
  }
  return lines;
}
