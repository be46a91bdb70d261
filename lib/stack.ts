import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { CustomerIdentity, type ExternalIssuer } from './constructs/customer-identity';
import { DeadLetterQueue } from './constructs/dead-letter-queue';
import { ModelEventBus } from './constructs/model-event-bus';
import { ModelFunction } from './constructs/model-function';
import { ModelHttpApi } from './constructs/model-http-api';
import { ModelQueue } from './constructs/model-queue';
import { ModelStateMachine } from './constructs/model-state-machine';
import { ModelTable, type TableCapacity } from './constructs/model-table';
import { ModelTimer } from './constructs/model-timer';
import { Operations } from './constructs/operations';
import { Runbook } from './constructs/runbooks';
import {
  type AppModel,
  type EnvironmentValue,
  type FunctionDeclaration,
  RECURRING_SCHEDULE_RETRY,
  type Trigger,
} from './model';
import { assertDeployableModel } from './model-checks';
import { pascalCase, secretArnVariable } from './naming';

const REPOSITORY_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The DynamoDB actions of each table access mode: what the repositories call (GetItem, Query, PutItem, UpdateItem,
 * and ConditionCheckItem inside TransactWriteItems, which IAM checks item by item). Nothing deletes, scans or
 * batches.
 */
export const TABLE_ACTIONS = {
  read: ['dynamodb:GetItem', 'dynamodb:Query'],
  readWrite: [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
} as const;

export interface OrderBackboneStackProps extends StackProps {
  /**
   * The declaration of every table, queue, function, state machine, timer, secret and event bus; the stack adds
   * nothing it does not state.
   */
  readonly model: AppModel;
  /**
   * Values for `{ setting }` environment entries, by setting name (`bin/app.ts` reads them from CDK context).
   * @default - each entry's declared `default`
   */
  readonly settings?: Readonly<Record<string, string>>;
  /**
   * The workflow type of every state machine.
   *
   * - STANDARD (the default) runs each state exactly once, may run for up to a year, keeps a 90-day execution
   *   history that `DescribeExecution` and `GetExecutionHistory` return, and can be **redriven**: a failed, timed
   *   out or aborted execution resumes at the state that failed, with the same input, within 14 days
   *   (`npm run ops -- sagas redrive`). It is billed per state transition.
   * - EXPRESS is billed per request and duration, far cheaper at volume, but runs each state at least once (every
   *   saga task must then be idempotent, as ours are through their ledgers), stops after 5 minutes, keeps no
   *   execution history (the state machine then logs every event with its execution data, which holds order
   *   details, so that its log group is the record of what happened), and **cannot be redriven**: a failed saga
   *   must be started again from the beginning, under a new execution name, and the `sagas` operations, which
   *   list and redrive executions, do not work on it.
   *
   * Either way, every state machine alarms on failed, timed-out and aborted executions.
   * @default sfn.StateMachineType.STANDARD - exactly-once, inspectable and redrivable, as a saga that moves
   * goods and money should be
   */
  readonly workflowType?: sfn.StateMachineType;
  /**
   * What happens to tables, secrets and log groups when they leave the stack (use DESTROY for throw-away stacks).
   * Schedule groups are always destroyed; see {@link ModelTimer}.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How every table pays for throughput (`-c tableCapacity=PROVISIONED -c tableWriteCapacity=5-2000
   * -c tableReadCapacity=5-1000`); see {@link TableCapacity} for when each mode is the cheaper one.
   * @default { mode: 'ON_DEMAND' }
   */
  readonly tableCapacity?: TableCapacity;
  /**
   * The directory that entry and definition paths in the model are relative to; it must hold `package-lock.json`.
   * @default - the repository root
   */
  readonly rootDir?: string;
  /**
   * `POWERTOOLS_SERVICE_NAME` of every function.
   * @default 'order-backbone'
   */
  readonly serviceName?: string;
  /**
   * The OpenID Connect issuer whose tokens the JWT authorizer of customer routes accepts (`bin/app.ts`: context
   * `jwtIssuer` and `jwtAudience`).
   * @default - a Cognito user pool and app client created in this stack (see {@link CustomerIdentity})
   */
  readonly externalIssuer?: ExternalIssuer;
  /**
   * Retention of function, state machine and API access logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * An email address subscribed to the alarm topic (`-c alarmEmail=...`); AWS mails it a confirmation link first.
   * @default - none: subscribe the on-call channel to the `AlarmTopicArn` output
   */
  readonly alarmEmail?: string;
}

/**
 * The whole order backbone, built from an {@link AppModel} and nothing else: one DynamoDB table per declared
 * table, one SQS queue (with an alarmed dead-letter queue) per declared queue, one Lambda function per declared
 * function with its triggers (HTTP API route, SQS, DynamoDB stream, EventBridge Scheduler) and exactly the
 * grants its `access` declares, one Step Functions state machine per declared ASL file, one schedule group (with its
 * Scheduler role and alarmed dead-letter queue, see {@link ModelTimer}) per declared timer, and one Secrets
 * Manager secret per declared secret, and one EventBridge bus, under its declared name, per declared event bus.
 * Every state machine alarms on failed, timed-out and aborted executions (see {@link ModelStateMachine}), and
 * {@link Operations} adds the remaining alarms (functions, timers, business metrics, API) and one dashboard.
 *
 * The model is checked first (see `assertDeployableModel`): an SQS visibility timeout shorter than six times
 * the timeout of a function it triggers, or a reference to something undeclared, fails synth.
 *
 * ASL files reference function ARNs as `${FunctionArn_<function name with '-' replaced by '_'>}`; see
 * {@link ModelStateMachine}. A function whose environment names a state machine may start executions of it.
 */
export class OrderBackboneStack extends Stack {
  public readonly tables: ReadonlyMap<string, dynamodb.TableV2>;
  public readonly queues: ReadonlyMap<string, ModelQueue>;
  public readonly functions: ReadonlyMap<string, nodejs.NodejsFunction>;
  public readonly stateMachines: ReadonlyMap<string, sfn.StateMachine>;
  public readonly timers: ReadonlyMap<string, ModelTimer>;
  public readonly secrets: ReadonlyMap<string, secretsmanager.Secret>;
  public readonly eventBuses: ReadonlyMap<string, events.EventBus>;
  public readonly httpApi: ModelHttpApi;
  /** The issuer and audience customer tokens must come from and for. */
  public readonly customerIdentity: CustomerIdentity;
  /** Receives every alarm and its return to OK (see {@link Operations}); subscribe the on-call channel to it. */
  public readonly alarmTopic: sns.Topic;
  /** The alarms and the dashboard, built from everything above. */
  public readonly operations: Operations;

  private readonly settings: Readonly<Record<string, string>>;
  private readonly rootDir: string;
  private readonly removalPolicy: RemovalPolicy;
  private readonly logRetention: logs.RetentionDays;
  private readonly modelEventBuses: ReadonlyMap<string, ModelEventBus>;

  public constructor(scope: Construct, id: string, props: OrderBackboneStackProps) {
    super(scope, id, props);
    const { model } = props;
    assertDeployableModel(model);
    this.settings = props.settings ?? {};
    this.rootDir = props.rootDir ?? REPOSITORY_ROOT;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { enforceSSL: true });
    this.tables = new Map(
      model.tables.map((declaration) => [
        declaration.name,
        new ModelTable(this, `${pascalCase(declaration.name)}Table`, {
          declaration,
          removalPolicy: this.removalPolicy,
          ...(props.tableCapacity === undefined ? {} : { capacity: props.tableCapacity }),
        }).table,
      ]),
    );
    this.queues = new Map(
      model.queues.map((declaration) => [
        declaration.name,
        new ModelQueue(this, `${pascalCase(declaration.name)}Queue`, {
          declaration,
          alarmTopic: this.alarmTopic,
        }),
      ]),
    );
    this.secrets = new Map(
      model.secrets.map((declaration) => [
        declaration.name,
        // The generated value is a placeholder: operators put the provider's value in before go-live.
        new secretsmanager.Secret(this, `${pascalCase(declaration.name)}Secret`, {
          description: declaration.description,
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
          removalPolicy: this.removalPolicy,
        }),
      ]),
    );
    this.modelEventBuses = new Map(
      model.eventBuses.map((declaration) => [
        declaration.name,
        new ModelEventBus(this, `${pascalCase(declaration.name)}EventBus`, { declaration }),
      ]),
    );
    this.eventBuses = new Map([...this.modelEventBuses].map(([name, construct]) => [name, construct.bus]));
    this.customerIdentity = new CustomerIdentity(this, 'CustomerIdentity', {
      removalPolicy: this.removalPolicy,
      ...(props.externalIssuer === undefined ? {} : { externalIssuer: props.externalIssuer }),
    });
    this.httpApi = new ModelHttpApi(this, 'HttpApi', {
      customerAuthorizer: new HttpJwtAuthorizer('CustomerJwtAuthorizer', this.customerIdentity.issuer, {
        jwtAudience: [...this.customerIdentity.audience],
      }),
      logRetention: this.logRetention,
      logRemovalPolicy: this.removalPolicy,
    });

    const modelFunctions = new Map(
      model.functions.map((declaration) => [
        declaration.name,
        this.createFunction(declaration, props.serviceName ?? 'order-backbone'),
      ]),
    );
    this.functions = new Map([...modelFunctions].map(([name, construct]) => [name, construct.function]));
    this.timers = new Map(
      model.timers.map((declaration) => [
        declaration.name,
        new ModelTimer(this, `${pascalCase(declaration.name)}Timer`, {
          declaration,
          target: this.function(declaration.targetFunction),
          alarmTopic: this.alarmTopic,
        }),
      ]),
    );
    for (const declaration of model.functions) {
      const construct = modelFunctions.get(declaration.name);
      if (construct === undefined) continue;
      this.wireTimerEnvironment(declaration, construct.function);
      this.grantAccess(declaration, construct.function);
      declaration.triggers.forEach((trigger, index) => {
        this.addTrigger(declaration, trigger, construct, index);
      });
    }

    const stateMachines = new Map(
      model.stateMachines.map((declaration) => [
        declaration.name,
        new ModelStateMachine(this, `${pascalCase(declaration.name)}StateMachine`, {
          declaration,
          rootDir: this.rootDir,
          functions: this.functions,
          stateMachineType: props.workflowType,
          alarmTopic: this.alarmTopic,
          logRetention: this.logRetention,
          logRemovalPolicy: this.removalPolicy,
        }),
      ]),
    );
    this.stateMachines = new Map(
      [...stateMachines].map(([name, construct]) => [name, construct.stateMachine]),
    );
    this.wireStateMachineEnvironment(model, stateMachines);
    this.addOutputs();

    // Last, because it alarms on and charts everything built above.
    this.operations = new Operations(this, 'Operations', {
      alarmTopic: this.alarmTopic,
      serviceName: props.serviceName ?? 'order-backbone',
      functions: this.functions,
      httpApi: this.httpApi.api,
      stateMachines: this.stateMachines,
      timers: this.timers,
      alarmEmail: props.alarmEmail,
    });
    new CfnOutput(this, 'DashboardName', { value: this.operations.dashboard.dashboardName });
  }

  private createFunction(declaration: FunctionDeclaration, serviceName: string): ModelFunction {
    const environment: Record<string, string> = {};
    for (const [variable, value] of Object.entries(declaration.environment)) {
      const resolved = this.resolveEnvironmentValue(variable, value);
      if (resolved !== undefined) environment[resolved.name] = resolved.value;
    }
    return new ModelFunction(this, `${pascalCase(declaration.name)}Function`, {
      declaration,
      rootDir: this.rootDir,
      environment,
      serviceName,
      logRetention: this.logRetention,
      logRemovalPolicy: this.removalPolicy,
    });
  }

  /**
   * The variable that an environment entry becomes in AWS, and its physical value. Every entry keeps its key,
   * except a secret:
   *
   * - `K: { secret: S }` becomes **`K_ARN`**, holding the ARN of secret `S`, never its value (the function
   *   fetches the value at run time; `grantAccess` lets it read `S` and no other secret). Locally the runtime sets
   *   `K` to the value itself (see `EnvironmentValue` in `lib/model.ts`).
   *
   * Timer parts and state machine ARNs come later (`undefined` here): timers and state machines need the
   * functions to exist first. The final `never` makes a new kind of {@link EnvironmentValue} a compile error
   * here instead of a variable silently missing in AWS.
   */
  private resolveEnvironmentValue(
    variable: string,
    value: EnvironmentValue,
  ): { readonly name: string; readonly value: string } | undefined {
    if ('literal' in value) return { name: variable, value: value.literal };
    if ('setting' in value) {
      return { name: variable, value: this.settings[value.setting] ?? value.default };
    }
    if ('tableName' in value) return { name: variable, value: this.table(value.tableName).tableName };
    if ('queueUrl' in value) return { name: variable, value: this.queue(value.queueUrl).queue.queueUrl };
    if ('secret' in value) {
      return { name: secretArnVariable(variable), value: this.secret(value.secret).secretArn };
    }
    if ('eventBusName' in value)
      return { name: variable, value: this.eventBus(value.eventBusName).bus.eventBusName };
    if ('timer' in value || 'stateMachineArn' in value) return undefined;
    const unhandled: never = value;
    throw new Error(`environment ${variable} has an unknown kind of value: ${JSON.stringify(unhandled)}`);
  }

  /** Sets each `{ timer, part }` entry to the part's physical value (group name, target/role/dead-letter ARN). */
  private wireTimerEnvironment(declaration: FunctionDeclaration, fn: lambda.Function): void {
    for (const [variable, value] of Object.entries(declaration.environment)) {
      if ('timer' in value) fn.addEnvironment(variable, this.timer(value.timer).part(value.part));
    }
  }

  /**
   * Grants exactly the declared access, with statements of our own rather than the CDK's `grant*` helpers, which
   * add actions no function uses (Scan, DescribeTable, GetQueueUrl, DescribeSecret, ...) and every index of a
   * table (`<table>/index/*`).
   */
  private grantAccess(declaration: FunctionDeclaration, fn: lambda.IFunction): void {
    for (const { table, mode, indexes } of declaration.access.tables ?? []) {
      const { tableArn } = this.table(table);
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: [...TABLE_ACTIONS[mode]], resources: [tableArn] }),
      );
      if (indexes !== undefined && indexes.length > 0) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:Query'],
            resources: indexes.map((index) => `${tableArn}/index/${index}`),
          }),
        );
      }
    }
    for (const { queue, mode } of declaration.access.queues ?? []) {
      const { queue: sqsQueue } = this.queue(queue);
      // The URL comes from the environment, so sending needs no GetQueueUrl; SendMessageBatch is SendMessage in IAM.
      if (mode === 'send') {
        fn.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [sqsQueue.queueArn] }),
        );
      } else sqsQueue.grantConsumeMessages(fn);
    }
    for (const { timer, mode } of declaration.access.timers ?? []) {
      if (mode === 'manage') this.timer(timer).grantManage(fn);
      else this.timer(timer).grantCancel(fn);
    }
    for (const { eventBus } of declaration.access.eventBuses ?? []) {
      this.eventBus(eventBus).grantPut(fn);
    }
    // A function may read the secrets its environment names, and only those.
    for (const value of Object.values(declaration.environment)) {
      if ('secret' in value) {
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['secretsmanager:GetSecretValue'],
            resources: [this.secret(value.secret).secretArn],
          }),
        );
      }
    }
  }

  private addTrigger(
    declaration: FunctionDeclaration,
    trigger: Trigger,
    construct: ModelFunction,
    index: number,
  ): void {
    const fn = construct.function;
    switch (trigger.type) {
      case 'http':
        this.httpApi.addRoute(declaration.name, trigger, fn);
        return;
      case 'queue':
        fn.addEventSource(
          new eventSources.SqsEventSource(this.queue(trigger.queue).queue, {
            batchSize: trigger.batchSize,
            reportBatchItemFailures: trigger.reportBatchItemFailures,
            // Polling no faster than the reservation lets it invoke: a throttled batch would come back with one
            // receive more, towards the dead-letter queue.
            maxConcurrency: declaration.reservedConcurrency,
          }),
        );
        return;
      case 'stream': {
        // Records that exhaust their retries would otherwise be dropped without a trace.
        const failures = new DeadLetterQueue(construct, `StreamFailures${index}`, {
          alarmTopic: this.alarmTopic,
          runbook: Runbook.streamFailures,
        });
        const streamArn = this.table(trigger.table).tableStreamArn;
        if (streamArn === undefined) throw new Error(`table '${trigger.table}' has no stream`);
        // Not DynamoEventSource: it grants dynamodb:ListStreams on the stream's ARN, where IAM grants nothing, as
        // the action supports no resource type. Lambda's poller calls it, so it is granted on "*" here.
        fn.addEventSourceMapping(`StreamSource${index}`, {
          eventSourceArn: streamArn,
          batchSize: trigger.batchSize,
          startingPosition: lambda.StartingPosition[trigger.startingPosition],
          retryAttempts: trigger.maxRetryAttempts,
          bisectBatchOnError: trigger.bisectBatchOnError,
          reportBatchItemFailures: trigger.reportBatchItemFailures,
          onFailure: new eventSources.SqsDlq(failures.queue),
        });
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
            resources: [streamArn],
          }),
        );
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }));
        return;
      }
      case 'schedule':
        new scheduler.Schedule(construct, `Schedule${index}`, {
          description: `${declaration.name}: ${trigger.expression}`,
          schedule: scheduler.ScheduleExpression.expression(trigger.expression),
          target: new schedulerTargets.LambdaInvoke(fn, {
            retryAttempts: RECURRING_SCHEDULE_RETRY.maximumRetryAttempts,
            maxEventAge: Duration.seconds(RECURRING_SCHEDULE_RETRY.maximumEventAgeSeconds),
          }),
        });
        return;
    }
  }

  private wireStateMachineEnvironment(
    model: AppModel,
    stateMachines: ReadonlyMap<string, ModelStateMachine>,
  ): void {
    for (const declaration of model.functions) {
      const fn = this.functions.get(declaration.name);
      if (fn === undefined) continue;
      for (const [variable, value] of Object.entries(declaration.environment)) {
        if (!('stateMachineArn' in value)) continue;
        const machine = stateMachines.get(value.stateMachineArn);
        if (machine === undefined) continue;
        if (machine.invokedFunctionNames.includes(declaration.name)) {
          throw new Error(
            `function '${declaration.name}' both starts state machine '${value.stateMachineArn}' and is invoked ` +
              'by it: CloudFormation cannot create the two, each needs the other to exist first',
          );
        }
        fn.addEnvironment(variable, machine.stateMachine.stateMachineArn);
        machine.stateMachine.grantStartExecution(fn);
      }
    }
  }

  private addOutputs(): void {
    new CfnOutput(this, 'HttpApiUrl', { value: this.httpApi.url, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'CustomerJwtIssuer', {
      value: this.customerIdentity.issuer,
      description: 'The issuer of the tokens the order routes accept',
    });
    const { userPool, userPoolClient } = this.customerIdentity;
    if (userPool !== undefined && userPoolClient !== undefined) {
      new CfnOutput(this, 'CustomerUserPoolId', { value: userPool.userPoolId });
      new CfnOutput(this, 'CustomerUserPoolClientId', { value: userPoolClient.userPoolClientId });
    }
    for (const [name, table] of this.tables) {
      new CfnOutput(this, `${pascalCase(name)}TableName`, { value: table.tableName });
    }
    for (const [name, queue] of this.queues) {
      new CfnOutput(this, `${pascalCase(name)}QueueUrl`, { value: queue.queue.queueUrl });
      new CfnOutput(this, `${pascalCase(name)}DeadLetterQueueUrl`, {
        value: queue.deadLetterQueue.queue.queueUrl,
      });
    }
    for (const [name, machine] of this.stateMachines) {
      new CfnOutput(this, `${pascalCase(name)}StateMachineArn`, { value: machine.stateMachineArn });
    }
    for (const [name, bus] of this.eventBuses) {
      new CfnOutput(this, `${pascalCase(name)}EventBusName`, { value: bus.eventBusName });
    }
    for (const [name, timer] of this.timers) {
      new CfnOutput(this, `${pascalCase(name)}TimerGroupName`, { value: timer.groupName });
      new CfnOutput(this, `${pascalCase(name)}TimerDeadLetterQueueUrl`, {
        value: timer.deadLetterQueue.queue.queueUrl,
      });
    }
    for (const [name, secret] of this.secrets) {
      new CfnOutput(this, `${pascalCase(name)}SecretArn`, {
        value: secret.secretArn,
        description: 'Put the real value in with `aws secretsmanager put-secret-value` before go-live',
      });
    }
  }

  private table(name: string): dynamodb.TableV2 {
    const table = this.tables.get(name);
    if (table === undefined) throw new Error(`table '${name}' is not declared`);
    return table;
  }

  private queue(name: string): ModelQueue {
    const queue = this.queues.get(name);
    if (queue === undefined) throw new Error(`queue '${name}' is not declared`);
    return queue;
  }

  private function(name: string): nodejs.NodejsFunction {
    const fn = this.functions.get(name);
    if (fn === undefined) throw new Error(`function '${name}' is not declared`);
    return fn;
  }

  private timer(name: string): ModelTimer {
    const timer = this.timers.get(name);
    if (timer === undefined) throw new Error(`timer '${name}' is not declared`);
    return timer;
  }

  private eventBus(name: string): ModelEventBus {
    const bus = this.modelEventBuses.get(name);
    if (bus === undefined) throw new Error(`event bus '${name}' is not declared`);
    return bus;
  }

  private secret(name: string): secretsmanager.Secret {
    const secret = this.secrets.get(name);
    if (secret === undefined) throw new Error(`secret '${name}' is not declared`);
    return secret;
  }
}
