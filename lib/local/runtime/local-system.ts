import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadConfig } from '../../../functions/config';
import { opsConsoleBackend } from '../../console/ops-backend';
import { type ConsoleHandler, createConsoleHandler } from '../../console/server';
import { type AppModel, appModel, FULFILLMENT_SAGA, ORDERS_TABLE } from '../../model';
import { assertDeployableModel } from '../../model-checks';
import { type DynamoDbLocal, startDynamoDbLocal } from '../aws/dynamodb-local';
import { type LocalEventBridge, startLocalEventBridge } from '../aws/eventbridge';
import { type GatewayRoute, type LocalRoute, openGateway } from '../aws/gateway';
import { createLocalIssuer, type LocalIssuer } from '../aws/local-issuer';
import { type CreatedQueue, createQueues, createTables } from '../aws/resources';
import { sqsDeadLetterSender } from '../aws/scheduler/dead-letters';
import { type LocalScheduler, startLocalScheduler } from '../aws/scheduler/server';
import { type SqsLocal, startSqsLocal } from '../aws/sqs-local';
import { type LocalStepFunctions, startLocalStepFunctions } from '../aws/step-functions/server';
import { type LocalUserPool, startLocalUserPool } from '../aws/user-pool';
import type { FunctionInvoker } from '../invoker';
import type { TransportSimulator, WarehouseSimulator } from '../outside-parties/logistics-simulators';
import type { FakePaymentProvider } from '../outside-parties/payment-provider';
import { FunctionHost } from './function-host';
import {
  type LogisticsStandInOptions,
  type OutsideParties,
  type PaymentStandInOptions,
  type StripeListing,
  startOutsideParties,
  stripeListing,
} from './outside-parties';
import type { RunnerLogger } from './runner-support';
import { type FaultOptions, meterClient, UsageMeter } from './sdk-instrumentation';
import {
  createEventBuses,
  createRecurringSchedules,
  createTimers,
  functionEnvironment,
  LOCAL_ACCOUNT_ID,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  LOCAL_TRACING_ENVIRONMENT,
  type LocalNames,
  loadStateMachines,
  localFunctionArn,
  localSecretValue,
  recurringScheduleName,
  type Started,
  startEventSourceRunners,
} from './wiring';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface LocalSystemOptions {
  /** Gateway port; 0 picks a free one. Default 3000. */
  readonly port?: number;
  /** Folder that keeps DynamoDB and SQS data and the user pool's customers across restarts. Default: in memory. */
  readonly dataDir?: string;
  /** Values of the model's deployment settings (e.g. `PAYMENT_TIMEOUT_SECONDS`); unset ones take their default. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Powertools log level inside functions, e.g. `INFO`, or `SILENT` for tests. Default `INFO`. */
  readonly functionLogLevel?: string;
  /**
   * Drop what functions write to stdout and stderr instead of passing it to this process's; it is metered either
   * way, as `CloudWatchLogs:Ingested(bytes)@<function>`. Default false.
   */
  readonly discardFunctionOutput?: boolean;
  /**
   * Local intervals, in seconds, of scheduled functions by function name, so that a `rate(1 minute)` job can
   * run every few seconds in a demo or a test. Default: the declared rates.
   */
  readonly scheduleRatesSeconds?: Readonly<Record<string, number>>;
  /**
   * One visibility timeout for every queue, so a test can watch a failing message reach its dead-letter queue
   * after maxReceiveCount receives in seconds rather than in maxReceiveCount x 3 minutes. Default: as declared.
   */
  readonly queueVisibilityTimeoutSeconds?: number;
  /**
   * Replaces every Retry pause of the state machines with this many milliseconds, so a test can watch a saga
   * exhaust its retries in moments. Default: the definitions' own intervals.
   */
  readonly sagaRetryIntervalMs?: number;
  /** The simulated warehouse and transport systems: the fraction (0..1) of actions they fail, and their latency. */
  readonly logistics?: LogisticsStandInOptions;
  /** The fake payment provider: webhooks it loses or delays on purpose, how long a payment stays processing. */
  readonly payments?: PaymentStandInOptions;
  /** Values of the model's secrets; an unset one gets a random value for this run. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Execution environments per function. Default 4. */
  readonly functionConcurrency?: number;
  /**
   * Faults injected into every function's AWS SDK calls (throttling, 5xx, timeouts, crashes after a write), by an
   * SDK middleware the execution environments install; handlers are not involved. Default: none.
   */
  readonly faults?: FaultOptions;
  readonly model?: AppModel;
  readonly rootDir?: string;
  /** The local identity provider: how long its tokens live. Default 3600 s, as Cognito's access tokens. */
  readonly auth?: { readonly tokenLifetimeSeconds?: number };
  /** Where the runtime reports what it does; default: nowhere. */
  readonly log?: (message: string) => void;
}

export interface LocalEndpoints {
  readonly gateway: string;
  readonly dynamodb: string;
  readonly sqs: string;
  readonly stepfunctions: string;
  readonly scheduler: string;
  readonly eventbridge: string;
  /** The local Cognito user pool (cognito-idp). */
  readonly cognito: string;
}

export interface LocalSystem {
  readonly url: string;
  /** The operations console's overview on the gateway; undefined when the model has nothing for it to show. */
  readonly consoleUrl: string | undefined;
  readonly endpoints: LocalEndpoints;
  readonly invoker: FunctionHost;
  readonly queues: Readonly<Record<string, CreatedQueue>>;
  /** The values of the model's secrets in this run (tests sign webhooks with them). */
  readonly secrets: Readonly<Record<string, string>>;
  /** The fake payment provider, when the model has one to stand in for. */
  readonly paymentProvider: FakePaymentProvider | undefined;
  /** The simulated warehouse and transport systems, when the model talks to them. */
  readonly warehouse: WarehouseSimulator | undefined;
  readonly transport: TransportSimulator | undefined;
  /**
   * The local identity provider the gateway verifies customer tokens against: `tokenFor(sub)` mints a token as
   * `POST /_local/auth/token` does.
   */
  readonly auth: LocalIssuer;
  /**
   * Every AWS request of this run: the functions' SDK calls (with DynamoDB capacity), Lambda invocations, and
   * what the stand-ins do on AWS's behalf that AWS bills (SQS polling by event sources, Scheduler invocations,
   * Step Functions state transitions).
   */
  readonly meter: UsageMeter;
  /** The parts that run as processes of their own, by pid, so a benchmark can read their CPU time. */
  readonly processes: { readonly dynamodbLocal: number };
  /** Stops everything that was started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

/** What has started so far, stopped in reverse order by {@link stopAll}. */
type StartedParts = Started[];

async function stopAll(started: StartedParts): Promise<void> {
  const failures: string[] = [];
  for (const part of started.splice(0).reverse()) {
    try {
      await part.stop();
    } catch (error) {
      failures.push(`${part.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`some local services did not stop cleanly: ${failures.join('; ')}`);
  }
}

interface Storage {
  readonly dynamodb: DynamoDbLocal;
  readonly sqs: SqsLocal;
  readonly sqsClient: SQSClient;
  readonly tables: Awaited<ReturnType<typeof createTables>>;
  readonly queues: Readonly<Record<string, CreatedQueue>>;
}

/** DynamoDB Local and SQS with the declared tables and queues. */
async function startStorage(
  model: AppModel,
  options: LocalSystemOptions,
  started: StartedParts,
  log: (message: string) => void,
): Promise<Storage> {
  // Both are awaited to the end even when one fails, so that the other is registered and then stopped.
  const [dynamodbStart, sqsStart] = await Promise.allSettled([
    startDynamoDbLocal(options.dataDir === undefined ? {} : { dataDir: join(options.dataDir, 'dynamodb') }),
    startSqsLocal(options.dataDir === undefined ? {} : { dataDir: join(options.dataDir, 'sqs') }),
  ]);
  if (dynamodbStart.status === 'fulfilled') {
    started.push({ name: 'DynamoDB Local', stop: () => dynamodbStart.value.stop() });
  }
  if (sqsStart.status === 'fulfilled') {
    started.push({ name: 'SQS (fauxqs)', stop: () => sqsStart.value.stop() });
  }
  if (dynamodbStart.status === 'rejected') throw dynamodbStart.reason;
  if (sqsStart.status === 'rejected') throw sqsStart.reason;
  const dynamodb = dynamodbStart.value;
  const sqs = sqsStart.value;
  log(`DynamoDB Local ${dynamodb.endpoint}, SQS ${sqs.endpoint}`);

  const clientOptions = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodbClient = new DynamoDBClient({ endpoint: dynamodb.endpoint, ...clientOptions });
  const sqsClient = new SQSClient({ endpoint: sqs.endpoint, ...clientOptions });
  started.push({
    name: 'AWS clients',
    stop: async () => {
      dynamodbClient.destroy();
      sqsClient.destroy();
    },
  });
  const tables = await createTables(dynamodbClient, model.tables);
  const visibility = options.queueVisibilityTimeoutSeconds;
  const queues = await createQueues(
    sqsClient,
    model.queues.map((queue) =>
      visibility === undefined ? queue : { ...queue, visibilityTimeoutSeconds: visibility },
    ),
  );
  return { dynamodb, sqs, sqsClient, tables, queues };
}

interface Orchestration {
  readonly stepFunctions: LocalStepFunctions;
  readonly scheduler: LocalScheduler;
  readonly schedulerClient: SchedulerClient;
  readonly eventBridge: LocalEventBridge;
}

/** Step Functions, Scheduler and EventBridge; the first two invoke functions through `invoker`. */
async function startOrchestration(
  model: AppModel,
  options: LocalSystemOptions,
  context: { readonly invoker: FunctionInvoker; readonly meter: UsageMeter; readonly sqsClient: SQSClient },
  started: StartedParts,
  rootDir: string,
): Promise<Orchestration> {
  const { invoker, meter } = context;
  const stepFunctions = await startLocalStepFunctions({
    stateMachines: await loadStateMachines(model, rootDir),
    invoker,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    ...(options.sagaRetryIntervalMs === undefined ? {} : { retryIntervalMs: options.sagaRetryIntervalMs }),
    meter,
  });
  started.push({ name: 'Step Functions', stop: () => stepFunctions.stop() });
  const scheduler = await startLocalScheduler({
    // Each target invocation is one billed Scheduler invocation, retries included.
    invoker: {
      invoke: async (functionName, event) => {
        meter.count(`Scheduler:Invoke(${functionName})`);
        return await invoker.invoke(functionName, event);
      },
    },
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    targetFunctions: Object.fromEntries(
      model.functions.map((declaration) => [localFunctionArn(declaration.name), declaration.name]),
    ),
    deadLetters: sqsDeadLetterSender(context.sqsClient),
    rateOverridesSeconds: Object.fromEntries(
      Object.entries(options.scheduleRatesSeconds ?? {}).map(([functionName, seconds]) => [
        recurringScheduleName(functionName),
        seconds,
      ]),
    ),
  });
  started.push({ name: 'Scheduler', stop: () => scheduler.stop() });
  const schedulerClient = new SchedulerClient({
    endpoint: scheduler.url,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  started.push({ name: 'Scheduler client', stop: async () => schedulerClient.destroy() });
  const eventBridge = await startLocalEventBridge({ region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID });
  started.push({ name: 'EventBridge', stop: () => eventBridge.stop() });
  return { stepFunctions, scheduler, schedulerClient, eventBridge };
}

/** What every execution environment gets besides its declared environment: region, fake keys, endpoints. */
function baseEnvironment(options: LocalSystemOptions, storage: Storage, orchestration: Orchestration) {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: storage.dynamodb.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: storage.dynamodb.endpoint,
    AWS_ENDPOINT_URL_SQS: storage.sqs.endpoint,
    AWS_ENDPOINT_URL_SFN: orchestration.stepFunctions.url,
    AWS_ENDPOINT_URL_SCHEDULER: orchestration.scheduler.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: orchestration.eventBridge.url,
    TZ: 'UTC',
    POWERTOOLS_LOG_LEVEL: options.functionLogLevel ?? 'INFO',
    ...LOCAL_TRACING_ENVIRONMENT,
    // Metrics are log lines too (EMF): silent functions emit none.
    ...(options.functionLogLevel === 'SILENT' ? { POWERTOOLS_METRICS_DISABLED: 'true' } : {}),
  };
}

function startFunctions(
  model: AppModel,
  options: LocalSystemOptions,
  context: {
    readonly names: LocalNames;
    readonly environment: Record<string, string>;
    readonly meter: UsageMeter;
  },
  rootDir: string,
): FunctionHost {
  return new FunctionHost({
    functions: model.functions.map((declaration) => ({
      declaration,
      environment: functionEnvironment(declaration, context.environment, context.names),
    })),
    rootDir,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    ...(options.functionConcurrency === undefined ? {} : { maxConcurrency: options.functionConcurrency }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.discardFunctionOutput === true ? { discardOutput: true } : {}),
    meter: context.meter,
  });
}

function runnerLoggerOf(log: (message: string) => void): RunnerLogger {
  const line = (message: string, details?: Readonly<Record<string, unknown>>) =>
    log(details === undefined ? message : `${message} ${JSON.stringify(details)}`);
  return { info: line, warn: line };
}

/** The local issuer under the gateway's URL, and the Cognito user pool that signs in with it. */
async function startIdentity(
  options: LocalSystemOptions,
  gatewayUrl: string,
  started: StartedParts,
): Promise<{ readonly issuer: LocalIssuer; readonly userPool: LocalUserPool }> {
  const lifetime = options.auth?.tokenLifetimeSeconds;
  const issuer = await createLocalIssuer({
    gatewayUrl,
    ...(lifetime === undefined ? {} : { tokenLifetimeSeconds: lifetime }),
  });
  // Customers are kept with the data: their ids are the customerIds of the orders kept in DynamoDB.
  const userPool = await startLocalUserPool({
    issuer,
    region: LOCAL_REGION,
    ...(options.dataDir === undefined ? {} : { dataFile: join(options.dataDir, 'cognito', 'users.json') }),
  });
  started.push({ name: 'Cognito user pool', stop: () => userPool.stop() });
  return { issuer, userPool };
}

/**
 * The operations console over this run's stand-ins, through clients of its own that stop with the system; none
 * when the model has no orders table or fulfilment saga to show (the runtime's test fixtures).
 */
function startConsole(
  gatewayUrl: string,
  storage: Storage,
  orchestration: Orchestration,
  settings: Readonly<Record<string, string>>,
  started: StartedParts,
  log: (message: string) => void,
): ConsoleHandler | undefined {
  const tableName = storage.tables[ORDERS_TABLE]?.tableName;
  const stateMachineArn = orchestration.stepFunctions.stateMachineArns[FULFILLMENT_SAGA];
  if (tableName === undefined || stateMachineArn === undefined) return undefined;
  const clientOptions = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ endpoint: storage.dynamodb.endpoint, ...clientOptions });
  const sqs = new SQSClient({ endpoint: storage.sqs.endpoint, ...clientOptions });
  const sfn = new SFNClient({ endpoint: orchestration.stepFunctions.url, ...clientOptions });
  started.push({
    name: 'console clients',
    stop: async () => {
      dynamodb.destroy();
      sqs.destroy();
      sfn.destroy();
    },
  });
  const backend = opsConsoleBackend({
    dynamodb,
    sqs,
    sfn,
    tableName,
    stateMachineArn,
    // The sweeper's own threshold, so the console calls stuck exactly the refunds the sweeper alarms on.
    refundStuckAfterSeconds: loadConfig('sweeper', settings).REFUND_STUCK_AFTER_SECONDS,
    commandPrefix: `npm run ops -- --local ${gatewayUrl}`,
  });
  const operator = `local:${userInfo().username}`;
  return createConsoleHandler({ backend, operator: async () => operator, log });
}

interface Inspected {
  readonly endpoints: Omit<LocalEndpoints, 'gateway'>;
  readonly storage: Storage;
  readonly orchestration: Orchestration;
  readonly identity: { readonly issuer: LocalIssuer; readonly userPool: LocalUserPool };
  readonly parties: OutsideParties;
  readonly meter: UsageMeter;
  readonly secrets: Readonly<Record<string, string>>;
  /** The fake provider's API base and the secret key it accepts, under the names a Stripe client looks for. */
  readonly stripe: StripeListing;
}

function localRoutesOf(inspected: Inspected): LocalRoute[] {
  const { endpoints, storage, orchestration, identity, parties, meter, secrets, stripe } = inspected;
  const { stepFunctions, scheduler, eventBridge } = orchestration;
  return [
    inspection('/_local/health', () => ({ status: 'ok' })),
    inspection('/_local/endpoints', () => ({
      ...endpoints,
      ...stripe.endpoints,
      queues: storage.queues,
      tableNames: Object.fromEntries(
        Object.entries(storage.tables).map(([name, table]) => [name, table.tableName]),
      ),
      stateMachineArns: stepFunctions.stateMachineArns,
      userPoolId: identity.userPool.userPoolId,
      userPoolClientId: identity.userPool.clientId,
    })),
    inspection('/_local/executions', () => ({ executions: stepFunctions.executions() })),
    inspection('/_local/schedules', () => scheduler.inspect()),
    inspection('/_local/events', () => ({ events: eventBridge.events() })),
    ...identity.issuer.localRoutes(),
    inspection('/_local/usage', () => ({ usage: meter.snapshot() })),
    // The secrets the system shares with its outside parties (the logistics provider signs its reports with
    // one), so a local stand-in for such a party, like the simulator, can act as it.
    inspection('/_local/secrets', () => ({ secrets: { ...secrets, ...stripe.secrets } })),
    ...(parties.paymentProvider?.localRoutes() ?? []),
    ...(parties.warehouse?.localRoutes() ?? []),
    ...(parties.transport?.localRoutes() ?? []),
  ];
}

/**
 * Boots the whole system on this machine: DynamoDB Local, SQS (fauxqs), Step Functions, the declared
 * functions in their execution environments, and the HTTP gateway. Tables, queues, routes and state machines
 * come from the same model the CDK stack reads. The gateway's port is bound first, so every part is configured
 * with its final URL. If any part fails to start, the parts already started are stopped before the error is
 * rethrown, so no child process is left behind.
 */
export async function startLocalSystem(options: LocalSystemOptions = {}): Promise<LocalSystem> {
  const model = options.model ?? appModel;
  // The same rules as synth: a model that could not deploy must not run locally either.
  assertDeployableModel(model);
  const rootDir = options.rootDir ?? REPOSITORY_ROOT;
  const log = options.log ?? (() => undefined);
  const started: StartedParts = [];
  try {
    const gateway = await openGateway(options.port ?? 3000);
    started.push({ name: 'gateway', stop: () => gateway.stop() });
    const storage = await startStorage(model, options, started, log);
    const meter = new UsageMeter();
    // From here on the runtime's SQS client is what Lambda's event source mappings and Scheduler's DLQ use.
    meterClient(storage.sqsClient, meter);

    const secrets: Record<string, string> = Object.fromEntries(
      model.secrets.map((secret) => [
        secret.name,
        options.secrets?.[secret.name] ?? localSecretValue(secret.name, model),
      ]),
    );
    const settings: Record<string, string> = { ...options.settings };
    const parties = await startOutsideParties({
      model,
      gatewayUrl: gateway.url,
      secrets,
      settings,
      logistics: options.logistics ?? {},
      ...(options.payments === undefined ? {} : { payments: options.payments }),
      started,
    });

    // Step Functions and Scheduler invoke functions that start after them, hence the indirection.
    let functionHost: FunctionHost | undefined;
    const invoker: FunctionInvoker = {
      invoke: async (functionName, event) => {
        if (functionHost === undefined) throw new Error('functions are not started yet');
        return await functionHost.invoke(functionName, event);
      },
    };
    const orchestration = await startOrchestration(
      model,
      options,
      { invoker, meter, sqsClient: storage.sqsClient },
      started,
      rootDir,
    );
    const { stepFunctions, scheduler, schedulerClient, eventBridge } = orchestration;
    const names: LocalNames = {
      settings,
      queues: storage.queues,
      stateMachineArns: stepFunctions.stateMachineArns,
      timers: await createTimers(model, schedulerClient, storage.sqsClient),
      secrets,
      eventBuses: await createEventBuses(model, eventBridge.url),
    };
    const environment = baseEnvironment(options, storage, orchestration);
    const host = startFunctions(model, options, { names, environment, meter }, rootDir);
    functionHost = host;
    started.push({ name: 'functions', stop: () => host.stop() });

    await createRecurringSchedules(model, schedulerClient);
    started.push(
      ...(await startEventSourceRunners({
        model,
        queues: storage.queues,
        sqs: storage.sqsClient,
        dynamodbEndpoint: storage.dynamodb.endpoint,
        invoker: host,
        logger: runnerLoggerOf(log),
      })),
    );

    const identity = await startIdentity(options, gateway.url, started);
    const endpoints = {
      dynamodb: storage.dynamodb.endpoint,
      sqs: storage.sqs.endpoint,
      stepfunctions: stepFunctions.url,
      scheduler: scheduler.url,
      eventbridge: eventBridge.url,
      cognito: identity.userPool.url,
    };
    const consoleHandler = startConsole(gateway.url, storage, orchestration, settings, started, log);
    gateway.serve({
      routes: httpRoutes(model),
      localRoutes: localRoutesOf({
        endpoints,
        storage,
        orchestration,
        identity,
        parties,
        meter,
        secrets,
        stripe: stripeListing(model, secrets, parties.paymentProvider),
      }),
      invoker: host,
      authorizer: identity.issuer.authorizer,
      accountId: LOCAL_ACCOUNT_ID,
      ...(consoleHandler === undefined ? {} : { console: consoleHandler }),
      onFunctionError: (route, error) =>
        log(
          `${route.method} ${route.path} -> ${route.functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });

    let stopping: Promise<void> | undefined;
    return {
      url: gateway.url,
      consoleUrl: consoleHandler === undefined ? undefined : `${gateway.url}/console`,
      endpoints: { gateway: gateway.url, ...endpoints },
      invoker: host,
      queues: storage.queues,
      secrets,
      ...parties,
      auth: identity.issuer,
      meter,
      processes: { dynamodbLocal: storage.dynamodb.pid },
      stop: () => {
        stopping ??= stopAll(started);
        return stopping;
      },
    };
  } catch (error) {
    await stopAll(started).catch(() => undefined);
    throw error;
  }
}

function httpRoutes(model: AppModel): GatewayRoute[] {
  return model.functions.flatMap((declaration) =>
    declaration.triggers.flatMap((trigger) =>
      trigger.type === 'http'
        ? [
            {
              method: trigger.method,
              path: trigger.path,
              functionName: declaration.name,
              authorization: trigger.authorization,
            },
          ]
        : [],
    ),
  );
}

function inspection(path: `/_local/${string}`, read: () => unknown): LocalRoute {
  return { method: 'GET', path, handle: async () => ({ statusCode: 200, body: read() }) };
}
