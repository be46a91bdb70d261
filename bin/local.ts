/**
 * `npm start`: the whole order backbone on this machine, with no AWS account.
 *
 *   npm start                          in memory, gateway on $PORT (default 3000)
 *   npm start -- --data-dir .local-data   keep DynamoDB and SQS data across restarts
 *
 * The operations console is served at /console on the gateway's port (docs/console.md).
 * Deployment settings of the model (e.g. PAYMENT_TIMEOUT_SECONDS) are read from this process's environment, and
 * SWEEPER_INTERVAL_SECONDS sets how often the sweeper runs (default: its declared rate, every minute),
 * RECONCILER_INTERVAL_SECONDS how often the payment reconciler runs (default: every five minutes), and
 * LOCAL_WAREHOUSE_FAILURE_RATE / LOCAL_TRANSPORT_FAILURE_RATE (0..1) and LOCAL_LOGISTICS_LATENCY_MS make the
 * simulated warehouse and carrier fail and dawdle, to watch the fulfilment saga compensate. LOCAL_WEBHOOK_LOSS_RATE
 * (0..1) makes the fake Stripe lose that share of its webhooks, to watch the reconciler. MAX_RECEIVE_COUNT
 * overrides how many receives a failing message gets before its dead-letter queue (default: as declared, 5).
 * LOCAL_TOKEN_LIFETIME_SECONDS sets how long local customer tokens live (default 3600).
 * LOCAL_FAULT_RATE (0..1) and LOCAL_FAULT_SEED inject faults into the functions' AWS SDK calls (docs/simulation.md).
 */
import { parseArgs } from 'node:util';
import { DynamoDbLocalError } from '../lib/local/aws/dynamodb-local';
import { type LocalSystem, startLocalSystem } from '../lib/local/runtime/local-system';
import { stripeListing } from '../lib/local/runtime/outside-parties';
import type { FaultOptions } from '../lib/local/runtime/sdk-instrumentation';
import { appModel, settingNames, withMaxReceiveCount } from '../lib/model';

function settingsFromEnvironment(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of settingNames(appModel)) {
    const value = process.env[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings;
}

/** The variables that run a scheduled function faster locally than its declared rate, for demos and tests. */
const SCHEDULE_INTERVAL_VARIABLES = {
  sweeper: 'SWEEPER_INTERVAL_SECONDS',
  'payment-reconciler': 'RECONCILER_INTERVAL_SECONDS',
} as const;

function scheduleRatesFromEnvironment(): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const [functionName, variable] of Object.entries(SCHEDULE_INTERVAL_VARIABLES)) {
    const seconds = secondsFrom(variable);
    if (seconds !== undefined) rates[functionName] = seconds;
  }
  return rates;
}

function fractionFrom(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`${name} must be a number from 0 to 1, not ${text}`);
  }
  return value;
}

function millisecondsFrom(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a whole number of milliseconds, not ${text}`);
  }
  return value;
}

function secondsFrom(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number of seconds, at least 1, not ${text}`);
  }
  return value;
}

function portFrom(text: string | undefined): number {
  if (text === undefined) return 3000;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a whole number from 0 to 65535, not ${text}`);
  }
  return port;
}

/** LOCAL_FAULT_RATE (0..1) injects faults into the functions' AWS SDK calls; LOCAL_FAULT_SEED fixes them. */
function faultsFromEnvironment(): { faults?: FaultOptions } {
  const rate = fractionFrom('LOCAL_FAULT_RATE');
  if (rate === undefined || rate === 0) return {};
  const seed = Number(process.env.LOCAL_FAULT_SEED ?? '1');
  if (!Number.isInteger(seed))
    throw new Error(`LOCAL_FAULT_SEED must be a whole number, not ${process.env.LOCAL_FAULT_SEED}`);
  return { faults: { rate, seed } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
    },
    strict: true,
  });
  const dataDir = values['data-dir'] ?? process.env.LOCAL_DATA_DIR;
  const startedAt = performance.now();
  let system: LocalSystem;
  try {
    system = await startLocalSystem({
      port: portFrom(values.port ?? process.env.PORT),
      ...(dataDir === undefined ? {} : { dataDir }),
      model: withMaxReceiveCount(
        appModel,
        process.env.MAX_RECEIVE_COUNT === undefined ? undefined : Number(process.env.MAX_RECEIVE_COUNT),
      ),
      settings: settingsFromEnvironment(),
      scheduleRatesSeconds: scheduleRatesFromEnvironment(),
      logistics: {
        warehouseFailureRate: fractionFrom('LOCAL_WAREHOUSE_FAILURE_RATE'),
        transportFailureRate: fractionFrom('LOCAL_TRANSPORT_FAILURE_RATE'),
        latencyMs: millisecondsFrom('LOCAL_LOGISTICS_LATENCY_MS'),
      },
      payments: { webhookLossRate: fractionFrom('LOCAL_WEBHOOK_LOSS_RATE') },
      ...faultsFromEnvironment(),
      functionLogLevel: process.env.FUNCTION_LOG_LEVEL ?? 'INFO',
      auth: { tokenLifetimeSeconds: secondsFrom('LOCAL_TOKEN_LIFETIME_SECONDS') },
      log: (message) => console.error(`[local] ${message}`),
    });
  } catch (error) {
    if (error instanceof DynamoDbLocalError) {
      console.error(`Cannot start: ${error.message}`);
    } else {
      console.error('Cannot start the local system:', error);
    }
    process.exitCode = 1;
    return;
  }
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const stripe = stripeListing(appModel, system.secrets, system.paymentProvider);
  const lines = [
    `Order backbone running locally (started in ${seconds} s), ${dataDir === undefined ? 'in memory' : `data in ${dataDir}`}`,
    `  HTTP API        ${system.url}   (try: curl ${system.url}/_local/health)`,
    ...(system.consoleUrl === undefined
      ? []
      : [`  Console         ${system.consoleUrl}   (open it in a browser)`]),
    `  Customer tokens ${system.auth.issuer}   (try: npm run -s token -- c-1)`,
    `  DynamoDB        ${system.endpoints.dynamodb}`,
    `  SQS             ${system.endpoints.sqs}`,
    `  Step Functions  ${system.endpoints.stepfunctions}`,
    `  Scheduler       ${system.endpoints.scheduler}`,
    `  EventBridge     ${system.endpoints.eventbridge}`,
    `  Cognito         ${system.endpoints.cognito}   (user pool for: npm run ops -- --local ${system.url} customers ...)`,
    ...(stripe.endpoints.stripe === undefined
      ? []
      : [
          `  Stripe (fake)   ${stripe.endpoints.stripe}   (events at ${system.url}/_local/provider/events)`,
          `    stripe-secret-key ${stripe.secrets['stripe-secret-key']}`,
        ]),
    'Press Ctrl+C to stop.',
  ];
  console.log(lines.join('\n'));

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.error(`[local] ${signal}: stopping`);
    system.stop().then(
      () => {
        console.error('[local] stopped');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('[local] stopped with errors:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

await main();
