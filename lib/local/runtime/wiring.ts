/**
 * The pieces `startLocalSystem` puts together, each read from the model: environments, state machine
 * definitions, timer groups, recurring schedules and event-source runners.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CreateEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../../asl-substitutions';
import {
  type AppModel,
  appModel,
  type EnvironmentValue,
  type FunctionDeclaration,
  RECURRING_SCHEDULE_RETRY,
  type TimerPart,
} from '../../model';
import { type CreatedQueue, createDeadLetterQueue } from '../aws/resources';
import type { LocalStateMachineDeclaration } from '../aws/step-functions/state-machines';
import type { FunctionInvoker } from '../invoker';
import type { RunnerLogger } from './runner-support';
import { startSqsRunner } from './sqs-runner';
import { startStreamRunner } from './stream-runner';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * There is no X-Ray daemon on a laptop: the tracer stays off and sends no segments anywhere. Off, it needs no
 * trace context either, so the X-Ray SDK is kept in manual mode: in its default automatic mode, merely loading
 * it installs a process-wide async hook (cls-hooked) that runs on every promise and resource of the function,
 * several percent of a function's CPU here that would buy nothing.
 */
export const LOCAL_TRACING_ENVIRONMENT = {
  POWERTOOLS_TRACE_ENABLED: 'false',
  AWS_XRAY_MANUAL_MODE: 'true',
} as const;

/** Something started that must be stopped, with a name for the message when stopping fails. */
export interface Started {
  readonly name: string;
  stop(): Promise<void>;
}

export function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
}

/** A function has at most one recurring schedule (a model rule), so it is named after the function. */
export function recurringScheduleName(functionName: string): string {
  return `${functionName}-schedule`;
}

/**
 * A fresh random value per run: local secrets protect nothing, but they must not be guessable defaults either.
 * The payment provider's two are shaped like Stripe's test-mode ones (`sk_test_...`, `whsec_...`), as the SDK,
 * the docs and anyone pasting them into a Stripe tool expect.
 */
export function localSecretValue(name: string, model: AppModel = appModel): string {
  const random = randomBytes(16).toString('hex');
  const payments = model.outsideParties.find((party) => party.kind === 'payment-provider');
  if (name === payments?.apiKeySecret) return `sk_test_${random}`;
  if (name === payments?.webhookSecret) return `whsec_${random}`;
  return `local-${name}-${random}`;
}

/** What the local physical names of the model's references are, once everything is created. */
export interface LocalNames {
  readonly settings: Readonly<Record<string, string>>;
  readonly queues: Readonly<Record<string, CreatedQueue>>;
  readonly stateMachineArns: Readonly<Record<string, string>>;
  readonly timers: Readonly<Record<string, Readonly<Record<TimerPart, string>>>>;
  readonly secrets: Readonly<Record<string, string>>;
  readonly eventBuses: Readonly<Record<string, string>>;
}

function resolveValue(names: LocalNames, where: string, value: EnvironmentValue): string {
  const missing = (kind: string, name: string) => new Error(`${where}: no ${kind} ${name} is declared`);
  if ('literal' in value) return value.literal;
  if ('setting' in value) return names.settings[value.setting] ?? value.default;
  if ('tableName' in value) return value.tableName;
  if ('queueUrl' in value) {
    const queue = names.queues[value.queueUrl];
    if (queue === undefined) throw missing('queue', value.queueUrl);
    return queue.url;
  }
  if ('timer' in value) {
    const timer = names.timers[value.timer];
    if (timer === undefined) throw missing('timer', value.timer);
    return timer[value.part];
  }
  if ('secret' in value) {
    const secret = names.secrets[value.secret];
    if (secret === undefined) throw missing('secret', value.secret);
    return secret;
  }
  if ('eventBusName' in value) {
    const bus = names.eventBuses[value.eventBusName];
    if (bus === undefined) throw missing('event bus', value.eventBusName);
    return bus;
  }
  const arn = names.stateMachineArns[value.stateMachineArn];
  if (arn === undefined) throw missing('state machine', value.stateMachineArn);
  return arn;
}

/** A function's whole environment, as Lambda would set it: the shared base plus its declared variables. */
export function functionEnvironment(
  declaration: FunctionDeclaration,
  base: Readonly<Record<string, string>>,
  names: LocalNames,
): Record<string, string> {
  const environment: Record<string, string> = {
    ...base,
    AWS_LAMBDA_FUNCTION_NAME: declaration.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(declaration.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  };
  for (const [key, value] of Object.entries(declaration.environment)) {
    environment[key] = resolveValue(names, `${declaration.name}.${key}`, value);
  }
  return environment;
}

/** Reads each ASL file and puts local function ARNs where CDK would substitute deployed ones. */
export async function loadStateMachines(
  model: AppModel,
  rootDir: string,
): Promise<LocalStateMachineDeclaration[]> {
  return await Promise.all(
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
}

/** Each timer's schedule group and its standard dead-letter queue, as the stack creates them in AWS. */
export async function createTimers(
  model: AppModel,
  scheduler: SchedulerClient,
  sqs: SQSClient,
): Promise<Record<string, Record<TimerPart, string>>> {
  const timers: Record<string, Record<TimerPart, string>> = {};
  for (const timer of model.timers) {
    const deadLetter = await createDeadLetterQueue(sqs, `${timer.name}-dlq`);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: timer.name }));
    timers[timer.name] = {
      groupName: timer.name,
      targetArn: localFunctionArn(timer.targetFunction),
      roleArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${timer.name}-scheduler`,
      deadLetterArn: deadLetter.arn,
      maximumRetryAttempts: String(timer.maximumRetryAttempts),
      maximumEventAgeSeconds: String(timer.maximumEventAgeSeconds),
    };
  }
  return timers;
}

/** Each declared event bus on the local EventBridge, by name. */
export async function createEventBuses(model: AppModel, endpoint: string): Promise<Record<string, string>> {
  const client = new EventBridgeClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    for (const bus of model.eventBuses) {
      await client.send(new CreateEventBusCommand({ Name: bus.name }));
    }
  } finally {
    client.destroy();
  }
  return Object.fromEntries(model.eventBuses.map((bus) => [bus.name, bus.name]));
}

/** The recurring schedule of every function with a schedule trigger, through the Scheduler API. */
export async function createRecurringSchedules(model: AppModel, scheduler: SchedulerClient): Promise<void> {
  for (const declaration of model.functions) {
    for (const trigger of declaration.triggers) {
      if (trigger.type !== 'schedule') continue;
      await scheduler.send(
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
}

export interface EventSourceContext {
  readonly model: AppModel;
  readonly queues: Readonly<Record<string, CreatedQueue>>;
  readonly sqs: SQSClient;
  readonly dynamodbEndpoint: string;
  readonly invoker: FunctionInvoker;
  readonly logger: RunnerLogger;
}

/**
 * A runner per queue and stream trigger. As in the stack, stream batches that exhaust their retries go to a
 * queue of their own (`<function>-stream-dlq`, which `npm run ops -- dlq list` shows), not into the void.
 */
export async function startEventSourceRunners(context: EventSourceContext): Promise<Started[]> {
  const { model, queues, sqs, invoker, logger } = context;
  const runners: Started[] = [];
  for (const declaration of model.functions) {
    for (const trigger of declaration.triggers) {
      if (trigger.type === 'queue') {
        const queue = queues[trigger.queue];
        if (queue === undefined)
          throw new Error(`${declaration.name}: no queue ${trigger.queue} is declared`);
        const runner = startSqsRunner({
          client: sqs,
          queueUrl: queue.url,
          queueArn: queue.arn,
          functionName: declaration.name,
          batchSize: trigger.batchSize,
          reportBatchItemFailures: trigger.reportBatchItemFailures,
          invoker,
          logger,
        });
        runners.push({ name: `${queue.name} -> ${declaration.name}`, stop: () => runner.stop() });
      }
      if (trigger.type === 'stream') {
        const failures = await createDeadLetterQueue(sqs, `${declaration.name}-stream-dlq`);
        const runner = await startStreamRunner({
          connection: {
            endpoint: context.dynamodbEndpoint,
            region: LOCAL_REGION,
            credentials: LOCAL_CREDENTIALS,
          },
          tableName: trigger.table,
          functionName: declaration.name,
          batchSize: trigger.batchSize,
          startingPosition: trigger.startingPosition,
          maxRetryAttempts: trigger.maxRetryAttempts,
          bisectBatchOnError: trigger.bisectBatchOnError,
          reportBatchItemFailures: trigger.reportBatchItemFailures,
          invoker,
          accountId: LOCAL_ACCOUNT_ID,
          logger,
          onFailure: async (failure) => {
            await sqs.send(
              new SendMessageCommand({ QueueUrl: failures.url, MessageBody: JSON.stringify(failure) }),
            );
          },
        });
        runners.push({ name: `${trigger.table} stream -> ${declaration.name}`, stop: () => runner.stop() });
      }
    }
  }
  return runners;
}
