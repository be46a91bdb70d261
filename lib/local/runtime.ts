import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { assertDeployableModel } from '../constructs/model-checks';
import { type AppModel, appModel, settingNames } from '../model';
import { startDynamoDbLocal } from './dynamodb-local';
import { startLocalEventBridge } from './eventbridge';
import { FunctionHost } from './function-host';
import { type GatewayRoute, type LocalRoute, startGateway } from './gateway';
import type { FunctionInvoker } from './invoker';
import { createLocalIssuer, type LocalIssuer } from './local-issuer';
import {
  startTransportSimulator,
  startWarehouseSimulator,
  type TransportSimulator,
  type WarehouseSimulator,
} from './logistics-simulators';
import { type FakePaymentProvider, startFakePaymentProvider } from './payment-provider';
import { type CreatedQueue, createQueues, createTables } from './resources';
import type { RunnerLogger } from './runner-support';
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
} from './runtime-wiring';
import { sqsDeadLetterSender, startLocalScheduler } from './scheduler';
import { type FaultOptions, meterClient, UsageMeter } from './sdk-instrumentation';
import { startSqsLocal } from './sqs-local';
import { startLocalStepFunctions } from './stepfunctions';
import { startLocalUserPool } from './user-pool';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

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
  readonly logistics?: {
    readonly warehouseFailureRate?: number;
    readonly transportFailureRate?: number;
    readonly latencyMs?: number;
  };
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

/**
 * The payment provider is a system outside ours, so the model only names what we hold of it: its URL setting
 * and two secrets. Locally a fake provider stands in for it, started when the model declares those secrets.
 */
const PAYMENT_PROVIDER_STAND_IN = {
  urlSetting: 'PAYMENT_PROVIDER_URL',
  apiKeySecret: 'payment-provider-api-key',
  webhookSecret: 'payment-webhook-secret',
  webhookPath: '/webhooks/payments',
} as const;

async function startPaymentProviderStandIn(
  secretValues: Readonly<Record<string, string>>,
  settings: Record<string, string>,
): Promise<FakePaymentProvider | undefined> {
  const apiKey = secretValues[PAYMENT_PROVIDER_STAND_IN.apiKeySecret];
  const webhookSecret = secretValues[PAYMENT_PROVIDER_STAND_IN.webhookSecret];
  if (apiKey === undefined || webhookSecret === undefined || settings[PAYMENT_PROVIDER_STAND_IN.urlSetting]) {
    return undefined;
  }
  const provider = await startFakePaymentProvider({ apiKey, webhookSecret });
  settings[PAYMENT_PROVIDER_STAND_IN.urlSetting] = provider.url;
  return provider;
}

/**
 * Starts a simulator for an external system whose URL is a declared setting the caller did not set, and points
 * the setting at it; a real system's URL, when given, is used as it is.
 */
async function startSimulatorFor<Simulator extends { readonly url: string }>(
  declared: ReadonlySet<string>,
  settings: Record<string, string>,
  urlSetting: string,
  start: () => Promise<Simulator>,
): Promise<Simulator | undefined> {
  if (!declared.has(urlSetting) || settings[urlSetting] !== undefined) return undefined;
  const simulator = await start();
  settings[urlSetting] = simulator.url;
  return simulator;
}

/**
 * Boots the whole system on this machine: DynamoDB Local, SQS (fauxqs), Step Functions, the declared
 * functions in their execution environments, and the HTTP gateway. Tables, queues, routes and state machines
 * come from the same model the CDK stack reads. If any part fails to start, the parts already started are
 * stopped before the error is rethrown, so no child process is left behind.
 */
export async function startLocalSystem(options: LocalSystemOptions = {}): Promise<LocalSystem> {
  const model = options.model ?? appModel;
  // The same rules as synth: a model that could not deploy must not run locally either.
  assertDeployableModel(model);
  const rootDir = options.rootDir ?? REPOSITORY_ROOT;
  const log = options.log ?? (() => undefined);
  const started: Started[] = [];
  const stopAll = async () => {
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
  };

  try {
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

    const dynamodbClient = new DynamoDBClient({
      endpoint: dynamodb.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const sqsClient = new SQSClient({
      endpoint: sqs.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    started.push({
      name: 'AWS clients',
      stop: async () => {
        dynamodbClient.destroy();
        sqsClient.destroy();
      },
    });
    const meter = new UsageMeter();
    const tables = await createTables(dynamodbClient, model.tables);
    const queues = await createQueues(
      sqsClient,
      model.queues.map((queue) =>
        options.queueVisibilityTimeoutSeconds === undefined
          ? queue
          : { ...queue, visibilityTimeoutSeconds: options.queueVisibilityTimeoutSeconds },
      ),
    );

    // From here on the runtime's SQS client is what Lambda's event source mappings and Scheduler's DLQ use.
    meterClient(sqsClient, meter);

    const secrets: Record<string, string> = Object.fromEntries(
      model.secrets.map((secret) => [
        secret.name,
        options.secrets?.[secret.name] ?? localSecretValue(secret.name),
      ]),
    );
    const settings: Record<string, string> = { ...options.settings };
    const paymentProvider = await startPaymentProviderStandIn(secrets, settings);
    if (paymentProvider !== undefined) {
      started.push({ name: 'payment provider', stop: () => paymentProvider.stop() });
    }
    const declaredSettings = new Set(settingNames(model));
    const logistics = options.logistics ?? {};
    const warehouse = await startSimulatorFor(declaredSettings, settings, 'WAREHOUSE_API_URL', () =>
      startWarehouseSimulator({
        failureRate: logistics.warehouseFailureRate ?? 0,
        latencyMs: logistics.latencyMs ?? 0,
      }),
    );
    const transport = await startSimulatorFor(declaredSettings, settings, 'TRANSPORT_API_URL', () =>
      startTransportSimulator({
        failureRate: logistics.transportFailureRate ?? 0,
        latencyMs: logistics.latencyMs ?? 0,
      }),
    );
    for (const [name, simulator] of [
      ['warehouse simulator', warehouse],
      ['transport simulator', transport],
    ] as const) {
      if (simulator !== undefined) started.push({ name, stop: () => simulator.stop() });
    }

    // Step Functions and Scheduler invoke functions that start after them, hence the indirection.
    let functionHost: FunctionHost | undefined;
    const invoker: FunctionInvoker = {
      invoke: async (functionName, event) => {
        if (functionHost === undefined) throw new Error('functions are not started yet');
        return await functionHost.invoke(functionName, event);
      },
    };
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
      deadLetters: sqsDeadLetterSender(sqsClient),
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

    const names: LocalNames = {
      settings,
      queues,
      stateMachineArns: stepFunctions.stateMachineArns,
      timers: await createTimers(model, schedulerClient, sqsClient),
      secrets,
      eventBuses: await createEventBuses(model, eventBridge.url),
    };
    const baseEnvironment: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamodb.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_SFN: stepFunctions.url,
      AWS_ENDPOINT_URL_SCHEDULER: scheduler.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      TZ: 'UTC',
      POWERTOOLS_LOG_LEVEL: options.functionLogLevel ?? 'INFO',
      ...LOCAL_TRACING_ENVIRONMENT,
      // Metrics are log lines too (EMF): silent functions emit none.
      ...(options.functionLogLevel === 'SILENT' ? { POWERTOOLS_METRICS_DISABLED: 'true' } : {}),
    };
    const host = new FunctionHost({
      functions: model.functions.map((declaration) => ({
        declaration,
        environment: functionEnvironment(declaration, baseEnvironment, names),
      })),
      rootDir,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      ...(options.functionConcurrency === undefined ? {} : { maxConcurrency: options.functionConcurrency }),
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      ...(options.discardFunctionOutput === true ? { discardOutput: true } : {}),
      meter,
    });
    functionHost = host;
    started.push({ name: 'functions', stop: () => host.stop() });

    await createRecurringSchedules(model, schedulerClient);
    const runnerLogger: RunnerLogger = {
      info: (message, details) =>
        log(details === undefined ? message : `${message} ${JSON.stringify(details)}`),
      warn: (message, details) =>
        log(details === undefined ? message : `${message} ${JSON.stringify(details)}`),
    };
    started.push(
      ...(await startEventSourceRunners({
        model,
        queues,
        sqs: sqsClient,
        dynamodbEndpoint: dynamodb.endpoint,
        invoker: host,
        logger: runnerLogger,
      })),
    );

    const issuer = await createLocalIssuer(
      options.auth?.tokenLifetimeSeconds === undefined
        ? {}
        : { tokenLifetimeSeconds: options.auth.tokenLifetimeSeconds },
    );
    // Customers are kept with the data: their ids are the customerIds of the orders kept in DynamoDB.
    const userPool = await startLocalUserPool({
      issuer,
      region: LOCAL_REGION,
      ...(options.dataDir === undefined ? {} : { dataFile: join(options.dataDir, 'cognito', 'users.json') }),
    });
    started.push({ name: 'Cognito user pool', stop: () => userPool.stop() });
    const endpoints = {
      dynamodb: dynamodb.endpoint,
      sqs: sqs.endpoint,
      stepfunctions: stepFunctions.url,
      scheduler: scheduler.url,
      eventbridge: eventBridge.url,
      cognito: userPool.url,
    };
    const localRoutes: LocalRoute[] = [
      inspection('/_local/health', () => ({ status: 'ok' })),
      inspection('/_local/endpoints', () => ({
        ...endpoints,
        queues,
        tableNames: Object.fromEntries(
          Object.entries(tables).map(([name, table]) => [name, table.tableName]),
        ),
        stateMachineArns: stepFunctions.stateMachineArns,
        userPoolId: userPool.userPoolId,
        userPoolClientId: userPool.clientId,
      })),
      inspection('/_local/executions', () => ({ executions: stepFunctions.executions() })),
      inspection('/_local/schedules', () => scheduler.inspect()),
      inspection('/_local/events', () => ({ events: eventBridge.events() })),
      ...issuer.localRoutes(),
      inspection('/_local/usage', () => ({ usage: meter.snapshot() })),
      // The secrets the system shares with its outside parties (the logistics provider signs its reports with
      // one), so a local stand-in for such a party, like the simulator, can act as it.
      inspection('/_local/secrets', () => ({ secrets })),
      ...(paymentProvider?.localRoutes() ?? []),
      ...(warehouse?.localRoutes() ?? []),
      ...(transport?.localRoutes() ?? []),
    ];
    const gateway = await startGateway({
      port: options.port ?? 3000,
      routes: httpRoutes(model),
      localRoutes,
      invoker: host,
      authorizer: issuer.authorizer,
      accountId: LOCAL_ACCOUNT_ID,
      onFunctionError: (route, error) =>
        log(
          `${route.method} ${route.path} -> ${route.functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    started.push({ name: 'gateway', stop: () => gateway.stop() });
    issuer.setGatewayUrl(gateway.url);
    paymentProvider?.setWebhookUrl(`${gateway.url}${PAYMENT_PROVIDER_STAND_IN.webhookPath}`);

    let stopping: Promise<void> | undefined;
    return {
      url: gateway.url,
      endpoints: { gateway: gateway.url, ...endpoints },
      invoker: host,
      queues,
      secrets,
      paymentProvider,
      warehouse,
      transport,
      auth: issuer,
      meter,
      processes: { dynamodbLocal: dynamodb.pid },
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
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
