import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../constructs/asl-substitutions';
import { assertDeployableModel } from '../constructs/model-checks';
import {
  type AppModel,
  appModel,
  type EnvironmentValue,
  type FunctionDeclaration,
  RECURRING_SCHEDULE_RETRY,
  type TimerPart,
} from '../model';
import { startDynamoDbLocal } from './dynamodb-local';
import { type LocalEventBridge, startLocalEventBridge } from './eventbridge';
import { FunctionHost } from './function-host';
import { type Gateway, type GatewayRoute, type LocalRoute, startGateway } from './gateway';
import { type FakePaymentProvider, startFakePaymentProvider } from './payment-provider';
import { type CreatedQueue, createDeadLetterQueue, createQueues, createTables } from './resources';
import type { RunnerLogger } from './runner-support';
import { type LocalScheduler, sqsDeadLetterSender, startLocalScheduler } from './scheduler';
import { startSqsLocal } from './sqs-local';
import { startSqsRunner } from './sqs-runner';
import { type LocalStepFunctions, startLocalStepFunctions } from './stepfunctions';
import { startStreamRunner } from './stream-runner';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface LocalSystemOptions {
  /** Gateway port; 0 picks a free one. Default 3000. */
  readonly port?: number;
  /** Folder that keeps DynamoDB and SQS data across restarts. Default: everything in memory. */
  readonly dataDir?: string;
  /** Values of the model's deployment settings (e.g. `PAYMENT_TIMEOUT_SECONDS`); unset ones take their default. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Powertools log level inside functions, e.g. `INFO`, or `SILENT` for tests. Default `INFO`. */
  readonly functionLogLevel?: string;
  /**
   * Local intervals, in seconds, of scheduled functions by function name, so that a `rate(1 minute)` job can
   * run every few seconds in a demo or a test. Default: the declared rates.
   */
  readonly scheduleRatesSeconds?: Readonly<Record<string, number>>;
  /** Values of the model's secrets; an unset one gets a random value for this run. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Execution environments per function. Default 4. */
  readonly functionConcurrency?: number;
  readonly model?: AppModel;
  readonly rootDir?: string;
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
  /** Stops everything that was started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

/** Something started that must be stopped, with a name for the message when stopping fails. */
interface Started {
  readonly name: string;
  stop(): Promise<void>;
}

/** A function has at most one recurring schedule (a model rule), so it is named after the function. */
function recurringScheduleName(functionName: string): string {
  return `${functionName}-schedule`;
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

/** A fresh random value per run: local secrets protect nothing, but they must not be guessable defaults either. */
function localSecretValue(name: string): string {
  return `local-${name}-${randomBytes(16).toString('hex')}`;
}

function streamFailureQueueName(functionName: string): string {
  return `${functionName}-stream-failures`;
}

function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
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
    await createTables(dynamodbClient, model.tables);
    const queues = await createQueues(sqsClient, model.queues);

    // Step Functions and Scheduler start before the function host they invoke, through an indirection; the
    // functions' environments, resolved when the host is built, then name the ARNs and URLs they created.
    const stateMachineArns: Record<string, string> = {};
    const timerResources: Record<string, Record<TimerPart, string>> = {};
    const secretValues: Record<string, string> = Object.fromEntries(
      model.secrets.map((secret) => [
        secret.name,
        options.secrets?.[secret.name] ?? localSecretValue(secret.name),
      ]),
    );
    const settings: Record<string, string> = { ...options.settings };
    const paymentProvider = await startPaymentProviderStandIn(secretValues, settings);
    if (paymentProvider !== undefined) {
      started.push({ name: 'payment provider', stop: () => paymentProvider.stop() });
    }
    const baseEnvironment: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamodb.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      TZ: 'UTC',
      POWERTOOLS_LOG_LEVEL: options.functionLogLevel ?? 'INFO',
    };
    const resolveValue = (functionName: string, key: string, value: EnvironmentValue): string => {
      if ('literal' in value) return value.literal;
      if ('setting' in value) return settings[value.setting] ?? value.default;
      if ('tableName' in value) return value.tableName;
      if ('queueUrl' in value) {
        const queue = queues[value.queueUrl];
        if (queue === undefined)
          throw new Error(`${functionName}.${key}: no queue ${value.queueUrl} is declared`);
        return queue.url;
      }
      if ('timer' in value) {
        const timer = timerResources[value.timer];
        if (timer === undefined)
          throw new Error(`${functionName}.${key}: no timer ${value.timer} is declared`);
        return timer[value.part];
      }
      if ('secret' in value) {
        const secret = secretValues[value.secret];
        if (secret === undefined)
          throw new Error(`${functionName}.${key}: no secret ${value.secret} is declared`);
        return secret;
      }
      const arn = stateMachineArns[value.stateMachineArn];
      if (arn === undefined) {
        throw new Error(`${functionName}.${key}: no state machine ${value.stateMachineArn} is declared`);
      }
      return arn;
    };

    const stepFunctionsDeclarations = await Promise.all(
      model.stateMachines.map(async (machine) => {
        const text = await readFile(resolve(rootDir, machine.definition), 'utf8');
        const taskFunctions: Record<string, string> = {};
        let substituted = text;
        for (const key of functionArnKeysIn(text)) {
          const declared = model.functions.find(
            (candidate) => functionArnSubstitutionKey(candidate.name) === key,
          );
          if (declared === undefined) {
            throw new Error(`${machine.definition} names \${${key}}, which is no declared function`);
          }
          const arn = localFunctionArn(declared.name);
          taskFunctions[arn] = declared.name;
          substituted = substituted.replaceAll(`\${${key}}`, arn);
        }
        return { name: machine.name, definition: JSON.parse(substituted) as object, taskFunctions };
      }),
    );

    let functionHost: FunctionHost | undefined;
    const invoker = {
      invoke: async (functionName: string, event: unknown) => {
        if (functionHost === undefined) throw new Error('functions are not started yet');
        return await functionHost.invoke(functionName, event);
      },
    };
    const stepFunctions: LocalStepFunctions = await startLocalStepFunctions({
      stateMachines: stepFunctionsDeclarations,
      invoker,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
    });
    started.push({ name: 'Step Functions', stop: () => stepFunctions.stop() });
    Object.assign(stateMachineArns, stepFunctions.stateMachineArns);
    baseEnvironment.AWS_ENDPOINT_URL_SFN = stepFunctions.url;

    const scheduler: LocalScheduler = await startLocalScheduler({
      invoker,
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
    baseEnvironment.AWS_ENDPOINT_URL_SCHEDULER = scheduler.url;

    const schedulerClient = new SchedulerClient({
      endpoint: scheduler.url,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    started.push({ name: 'Scheduler client', stop: async () => schedulerClient.destroy() });
    for (const timer of model.timers) {
      const deadLetter = await createDeadLetterQueue(sqsClient, `${timer.name}-dlq`);
      await schedulerClient.send(new CreateScheduleGroupCommand({ Name: timer.name }));
      timerResources[timer.name] = {
        groupName: timer.name,
        targetArn: localFunctionArn(timer.targetFunction),
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${timer.name}-scheduler`,
        deadLetterArn: deadLetter.arn,
        maximumRetryAttempts: String(timer.maximumRetryAttempts),
        maximumEventAgeSeconds: String(timer.maximumEventAgeSeconds),
      };
    }

    const eventBridge: LocalEventBridge = await startLocalEventBridge({
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
    });
    started.push({ name: 'EventBridge', stop: () => eventBridge.stop() });
    baseEnvironment.AWS_ENDPOINT_URL_EVENTBRIDGE = eventBridge.url;

    const environmentOf = (declaration: FunctionDeclaration): Record<string, string> => {
      const environment: Record<string, string> = {
        ...baseEnvironment,
        AWS_LAMBDA_FUNCTION_NAME: declaration.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(declaration.memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      };
      for (const [key, value] of Object.entries(declaration.environment)) {
        environment[key] = resolveValue(declaration.name, key, value);
      }
      return environment;
    };
    const host = new FunctionHost({
      functions: model.functions.map((declaration) => ({
        declaration,
        environment: environmentOf(declaration),
      })),
      rootDir,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      ...(options.functionConcurrency === undefined ? {} : { maxConcurrency: options.functionConcurrency }),
    });
    functionHost = host;
    started.push({ name: 'functions', stop: () => host.stop() });

    for (const declaration of model.functions) {
      for (const trigger of declaration.triggers) {
        if (trigger.type !== 'schedule') continue;
        await schedulerClient.send(
          new CreateScheduleCommand({
            Name: recurringScheduleName(declaration.name),
            ScheduleExpression: trigger.expression,
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: {
              Arn: localFunctionArn(declaration.name),
              RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/local-scheduler`,
              RetryPolicy: {
                MaximumRetryAttempts: RECURRING_SCHEDULE_RETRY.maximumRetryAttempts,
                MaximumEventAgeInSeconds: RECURRING_SCHEDULE_RETRY.maximumEventAgeSeconds,
              },
            },
          }),
        );
      }
    }

    const runnerLogger: RunnerLogger = {
      info: (message, details) =>
        log(details === undefined ? message : `${message} ${JSON.stringify(details)}`),
      warn: (message, details) =>
        log(details === undefined ? message : `${message} ${JSON.stringify(details)}`),
    };
    for (const declaration of model.functions) {
      for (const trigger of declaration.triggers) {
        if (trigger.type === 'queue') {
          const queue = queues[trigger.queue];
          if (queue === undefined)
            throw new Error(`${declaration.name}: no queue ${trigger.queue} is declared`);
          const runner = startSqsRunner({
            client: sqsClient,
            queueUrl: queue.url,
            queueArn: queue.arn,
            functionName: declaration.name,
            batchSize: trigger.batchSize,
            reportBatchItemFailures: trigger.reportBatchItemFailures,
            invoker: host,
            logger: runnerLogger,
          });
          started.push({ name: `${queue.name} -> ${declaration.name}`, stop: () => runner.stop() });
        }
        if (trigger.type === 'stream') {
          // As in the stack: batches that exhaust their retries go to a queue of their own, not into the void.
          const failures = await createDeadLetterQueue(sqsClient, streamFailureQueueName(declaration.name));
          const runner = await startStreamRunner({
            connection: { endpoint: dynamodb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
            tableName: trigger.table,
            functionName: declaration.name,
            batchSize: trigger.batchSize,
            startingPosition: trigger.startingPosition,
            maxRetryAttempts: trigger.maxRetryAttempts,
            bisectBatchOnError: trigger.bisectBatchOnError,
            reportBatchItemFailures: trigger.reportBatchItemFailures,
            invoker: host,
            accountId: LOCAL_ACCOUNT_ID,
            logger: runnerLogger,
            onFailure: async (failure) => {
              await sqsClient.send(
                new SendMessageCommand({ QueueUrl: failures.url, MessageBody: JSON.stringify(failure) }),
              );
            },
          });
          started.push({ name: `${trigger.table} stream -> ${declaration.name}`, stop: () => runner.stop() });
        }
      }
    }

    const routes: GatewayRoute[] = model.functions.flatMap((declaration) =>
      declaration.triggers.flatMap((trigger) =>
        trigger.type === 'http'
          ? [{ method: trigger.method, path: trigger.path, functionName: declaration.name }]
          : [],
      ),
    );
    const endpoints = {
      dynamodb: dynamodb.endpoint,
      sqs: sqs.endpoint,
      stepfunctions: stepFunctions.url,
      scheduler: scheduler.url,
      eventbridge: eventBridge.url,
    };
    const localRoutes: LocalRoute[] = [
      {
        method: 'GET',
        path: '/_local/health',
        handle: async () => ({ statusCode: 200, body: { status: 'ok' } }),
      },
      {
        method: 'GET',
        path: '/_local/endpoints',
        handle: async () => ({ statusCode: 200, body: { ...endpoints, queues } }),
      },
      {
        method: 'GET',
        path: '/_local/executions',
        handle: async () => ({ statusCode: 200, body: { executions: stepFunctions.executions() } }),
      },
      {
        method: 'GET',
        path: '/_local/schedules',
        handle: async () => ({ statusCode: 200, body: scheduler.inspect() }),
      },
      {
        method: 'GET',
        path: '/_local/events',
        handle: async () => ({ statusCode: 200, body: { events: eventBridge.events() } }),
      },
    ];
    const gateway: Gateway = await startGateway({
      port: options.port ?? 3000,
      routes,
      localRoutes: [...localRoutes, ...(paymentProvider?.localRoutes() ?? [])],
      invoker: host,
      accountId: LOCAL_ACCOUNT_ID,
      onFunctionError: (route, error) =>
        log(
          `${route.method} ${route.path} -> ${route.functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    started.push({ name: 'gateway', stop: () => gateway.stop() });
    paymentProvider?.setWebhookUrl(`${gateway.url}${PAYMENT_PROVIDER_STAND_IN.webhookPath}`);

    let stopping: Promise<void> | undefined;
    return {
      url: gateway.url,
      endpoints: { gateway: gateway.url, ...endpoints },
      invoker: host,
      queues,
      secrets: secretValues,
      paymentProvider,
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
