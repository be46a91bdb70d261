import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  functionArnKeysIn,
  functionArnPlaceholder,
  functionArnSubstitutionKey,
} from '../../lib/asl-substitutions';
import {
  type AppModel,
  appModel,
  type EnvironmentValue,
  EVENT_BUS,
  FULFILLMENT_SAGA,
  FUNCTION_LOGGING,
  type FunctionDeclaration,
  HIGH_THROUGHPUT_FIFO,
  LOGISTICS_WEBHOOK_SECRET,
  ORDER_EVENTS_QUEUE,
  PAYMENT_WEBHOOK_SECRET,
  PENDING_PAYMENT_INDEX,
  PROVISIONED_TARGET_UTILIZATION_PERCENT,
  RECURRING_SCHEDULE_RETRY,
  REFUND_PENDING_INDEX,
  STATUS_EVENTS_QUEUE,
} from '../../lib/model';
import { secretArnVariable } from '../../lib/naming';
import { OrderBackboneStack } from '../../lib/stack';
import { emptyModel, fixtureModel } from '../fixtures/cdk/fixture-model';
import { logicalIdOf, SKIP_BUNDLING, type Synthesized, synthesize } from '../support/synth';

function functionId(stack: OrderBackboneStack, name: string): string {
  return logicalIdOf(stack.functions.get(name));
}

function functionDeclaration(model: AppModel, name: string): FunctionDeclaration {
  const declaration = model.functions.find((fn) => fn.name === name);
  if (declaration === undefined) throw new Error(`no function '${name}' in the model`);
  return declaration;
}

function resourceProperties(template: Template, id: string): Record<string, unknown> {
  const resource: unknown = template.toJSON().Resources?.[id];
  if (typeof resource !== 'object' || resource === null || !('Properties' in resource)) {
    throw new Error(`no resource ${id} with properties`);
  }
  return resource.Properties as Record<string, unknown>;
}

interface PolicyStatementJson {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of the policies attached to a role (by its logical id). */
function statementsOfRole(synthesized: Synthesized, roleId: string): PolicyStatementJson[] {
  const policies = synthesized.template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[],
  );
}

/** What Lambda's active tracing grants every function: X-Ray has no resource-level permissions, hence `*`. */
function isTracingStatement(statement: PolicyStatementJson): boolean {
  return asList(statement.Action).every((action) =>
    /^xray:Put(TraceSegments|TelemetryRecords)$/.test(action),
  );
}

/** Every statement of the policies attached to a function's execution role, beside the tracing grant. */
function statementsOfFunctionRole(synthesized: Synthesized, name: string): PolicyStatementJson[] {
  return statementsOfRole(synthesized, logicalIdOf(synthesized.stack.functions.get(name)?.role)).filter(
    (statement) => !isTracingStatement(statement),
  );
}

/** Every IAM action granted by the policies attached to a function's execution role. */
function actionsOfFunctionRole(synthesized: Synthesized, name: string): string[] {
  return statementsOfFunctionRole(synthesized, name).flatMap((statement) => asList(statement.Action));
}

/** The resources of every statement of a function's role that grants an action matching `action`. */
function resourcesGranted(synthesized: Synthesized, name: string, action: RegExp): unknown[] {
  return statementsOfFunctionRole(synthesized, name)
    .filter((statement) => asList(statement.Action).some((granted) => action.test(granted)))
    .flatMap((statement) => asList(statement.Resource));
}

/** The variable names a declared environment becomes in AWS: a secret `K` becomes `K_ARN`. */
function awsVariableNames(environment: Readonly<Record<string, EnvironmentValue>>): string[] {
  return Object.entries(environment).map(([variable, value]) =>
    'secret' in value ? secretArnVariable(variable) : variable,
  );
}

/** The alarms on the dead-letter queue `deadLetterId` of `synthesized`. */
function deadLetterAlarms(synthesized: Synthesized, deadLetterId: string): unknown[] {
  const alarms = synthesized.template.findResources('AWS::CloudWatch::Alarm', {
    Properties: {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterId, 'QueueName'] } }],
    },
  });
  return Object.values(alarms);
}

/** What a dead-letter queue's alarms must be: one, to the alarm topic, as soon as one message is visible. */
function oneAlarmOnAnyMessage(synthesized: Synthesized): unknown[] {
  return [
    expect.objectContaining({
      Properties: expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: logicalIdOf(synthesized.stack.alarmTopic) }],
      }),
    }),
  ];
}

const WRITE_ACTION = /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite)/;
const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('OrderBackboneStack built from lib/model.ts', () => {
  let real: Synthesized;
  beforeAll(() => {
    real = synthesize(appModel);
  });

  it('creates each declared table with string keys, on-demand billing, PITR, stream, TTL and AWS-managed encryption', () => {
    // Prepare
    const orders = appModel.tables.find((table) => table.name === 'orders');

    // Act
    const table = real.template;

    // Assess
    expect(orders).toBeDefined();
    table.resourceCountIs('AWS::DynamoDB::GlobalTable', appModel.tables.length);
    table.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: orders?.partitionKey, KeyType: 'HASH' },
        { AttributeName: orders?.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: orders?.partitionKey, AttributeType: 'S' },
        { AttributeName: orders?.sortKey, AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
  });

  it('retains tables by default and destroys them only when asked', () => {
    // Prepare
    const table = logicalIdOf(real.stack.tables.get('orders'));

    // Act
    const throwAway = synthesize(appModel, { removalPolicy: RemovalPolicy.DESTROY });

    // Assess
    expect(real.template.toJSON().Resources[table].DeletionPolicy).toBe('Retain');
    expect(throwAway.template.toJSON().Resources[table].DeletionPolicy).toBe('Delete');
  });

  it('provisions autoscaled capacity for the table and each index when asked, at the declared target utilization', () => {
    // Prepare
    const orders = appModel.tables.find((table) => table.name === 'orders');
    const autoscaling = (min: number, max: number) => ({
      MinCapacity: min,
      MaxCapacity: max,
      TargetTrackingScalingPolicyConfiguration: { TargetValue: PROVISIONED_TARGET_UTILIZATION_PERCENT },
    });

    // Act
    const provisioned = synthesize(appModel, {
      tableCapacity: { mode: 'PROVISIONED', write: { min: 5, max: 2000 }, read: { min: 3, max: 900 } },
    }).template;

    // Assess
    expect(orders?.indexes?.length).toBeGreaterThan(0);
    provisioned.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      BillingMode: 'PROVISIONED',
      WriteProvisionedThroughputSettings: { WriteCapacityAutoScalingSettings: autoscaling(5, 2000) },
      GlobalSecondaryIndexes: (orders?.indexes ?? []).map((index) =>
        Match.objectLike({
          IndexName: index.name,
          WriteProvisionedThroughputSettings: { WriteCapacityAutoScalingSettings: autoscaling(5, 2000) },
        }),
      ),
      Replicas: [
        Match.objectLike({
          ReadProvisionedThroughputSettings: { ReadCapacityAutoScalingSettings: autoscaling(3, 900) },
          GlobalSecondaryIndexes: (orders?.indexes ?? []).map((index) => ({
            IndexName: index.name,
            ReadProvisionedThroughputSettings: { ReadCapacityAutoScalingSettings: autoscaling(3, 900) },
          })),
        }),
      ],
    });
  });

  it('routes every declared HTTP trigger, with payload format 2.0, to the function that declares it', () => {
    // Prepare
    const routes = appModel.functions.flatMap((fn) =>
      fn.triggers.flatMap((trigger) => (trigger.type === 'http' ? [{ fn, trigger }] : [])),
    );

    // Act
    const declaredRoutes = real.template.findResources('AWS::ApiGatewayV2::Route');

    // Assess
    expect(routes.length).toBeGreaterThan(0);
    real.template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    real.template.resourceCountIs('AWS::ApiGatewayV2::Route', routes.length);
    for (const { fn, trigger } of routes) {
      const routeKey = `${trigger.method} ${trigger.path}`;
      const route = Object.values(declaredRoutes).find(
        (candidate) => candidate.Properties.RouteKey === routeKey,
      );
      expect(route, routeKey).toBeDefined();
      const integrationId: unknown = route?.Properties.Target['Fn::Join'][1][1].Ref;
      expect(resourceProperties(real.template, String(integrationId)), routeKey).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [functionId(real.stack, fn.name), 'Arn'] },
      });
    }
  });

  it('builds every declared function for Node.js 24 on arm64 with its memory, timeout and environment names', () => {
    // Prepare
    const expectedCount = appModel.functions.length;

    // Act
    const { template, stack } = real;

    // Assess
    template.resourceCountIs('AWS::Lambda::Function', expectedCount);
    for (const fn of appModel.functions) {
      const properties = resourceProperties(template, functionId(stack, fn.name));
      expect(properties, fn.name).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: fn.memoryMb,
        Timeout: fn.timeoutSeconds,
      });
      const variables = Object.keys(
        (properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {},
      ).sort();
      expect(variables, fn.name).toEqual(
        [...awsVariableNames(fn.environment), 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'].sort(),
      );
    }
  });

  it('logs every function in JSON with application level INFO and system level WARN, as the cost report prices', () => {
    // Prepare
    const functions = real.template.findResources('AWS::Lambda::Function');

    // Act
    const loggingConfigs = appModel.functions.map((fn) => ({
      name: fn.name,
      config: resourceProperties(real.template, functionId(real.stack, fn.name)).LoggingConfig,
    }));

    // Assess
    expect(Object.keys(functions)).toHaveLength(appModel.functions.length);
    expect(FUNCTION_LOGGING).toEqual({ format: 'JSON', applicationLevel: 'INFO', systemLevel: 'WARN' });
    for (const { name, config } of loggingConfigs) {
      expect(config, name).toMatchObject({
        LogFormat: 'JSON',
        ApplicationLogLevel: 'INFO',
        SystemLogLevel: 'WARN',
        LogGroup: expect.anything(),
      });
    }
  });

  it('resolves a table name to the table and a setting to its default when no value is given', () => {
    // Prepare
    const fn = functionDeclaration(appModel, 'create-order');

    // Act
    const properties = resourceProperties(real.template, functionId(real.stack, fn.name));

    // Assess
    expect(properties.Environment).toEqual({
      Variables: expect.objectContaining({
        ORDERS_TABLE_NAME: { Ref: logicalIdOf(real.stack.tables.get('orders')) },
        PAYMENT_TIMEOUT_SECONDS: '1800',
        NODE_OPTIONS: '--enable-source-maps',
      }),
    });
  });

  it('takes a setting from props when one is given', () => {
    // Prepare
    const settings = { PAYMENT_TIMEOUT_SECONDS: '60' };

    // Act
    const { template } = synthesize(appModel, { settings });

    // Assess
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PAYMENT_TIMEOUT_SECONDS: '60' }) },
    });
  });

  it('gives a read-only function read actions and no write action (least privilege)', () => {
    // Prepare
    const readOnly = appModel.functions.filter(
      (fn) =>
        (fn.access.tables ?? []).length > 0 &&
        (fn.access.tables ?? []).every((grant) => grant.mode === 'read'),
    );

    // Act
    const actions = readOnly.map((fn) => ({ name: fn.name, actions: actionsOfFunctionRole(real, fn.name) }));

    // Assess
    expect(readOnly.map((fn) => fn.name)).toContain('get-order');
    for (const { name, actions: granted } of actions) {
      expect(granted, name).toContain('dynamodb:GetItem');
      expect(
        granted.filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite)/.test(action)),
        name,
      ).toEqual([]);
    }
    expect(actionsOfFunctionRole(real, 'create-order')).toContain('dynamodb:PutItem');
  });

  it('traces every function with X-Ray, allowed to send segments and nothing more', () => {
    // Act
    const tracing = appModel.functions.map((declaration) => {
      const properties = resourceProperties(real.template, functionId(real.stack, declaration.name));
      return { name: declaration.name, tracingConfig: properties.TracingConfig };
    });
    const tracingGrants = appModel.functions.map((declaration) =>
      statementsOfRole(real, logicalIdOf(real.stack.functions.get(declaration.name)?.role)).filter(
        isTracingStatement,
      ),
    );

    // Assess
    expect(tracing).toEqual(
      appModel.functions.map((declaration) => ({
        name: declaration.name,
        tracingConfig: { Mode: 'Active' },
      })),
    );
    for (const grants of tracingGrants) {
      expect(grants.flatMap((statement) => asList(statement.Resource))).toEqual(['*']);
    }
  });

  it('indexes orders awaiting payment and payments owing a refund by shard and time, projecting only the order id', () => {
    // Prepare
    const tableId = logicalIdOf(real.stack.tables.get('orders'));

    // Act
    const table = resourceProperties(real.template, tableId);

    // Assess
    expect(PENDING_PAYMENT_INDEX).toEqual({
      name: 'pending-payment-by-deadline',
      partitionKey: 'pendingShard',
      sortKey: 'pendingDeadline',
      projectedAttributes: ['orderId'],
    });
    expect(REFUND_PENDING_INDEX).toEqual({
      name: 'refund-pending-by-time',
      partitionKey: 'refundShard',
      sortKey: 'refundPendingSince',
      projectedAttributes: ['orderId'],
    });
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'pending-payment-by-deadline',
        KeySchema: [
          { AttributeName: 'pendingShard', KeyType: 'HASH' },
          { AttributeName: 'pendingDeadline', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['orderId'] },
      },
      {
        IndexName: 'refund-pending-by-time',
        KeySchema: [
          { AttributeName: 'refundShard', KeyType: 'HASH' },
          { AttributeName: 'refundPendingSince', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['orderId'] },
      },
    ]);
    expect(table.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'pendingShard', AttributeType: 'S' },
        { AttributeName: 'pendingDeadline', AttributeType: 'S' },
        { AttributeName: 'refundShard', AttributeType: 'S' },
        { AttributeName: 'refundPendingSince', AttributeType: 'S' },
      ]),
    );
  });

  it('runs the sweeper every minute and the payment reconciler every five, with bounded retries, and no other function on a recurring schedule', () => {
    // Prepare
    const recurring = (functionName: string, expression: string) =>
      expect.objectContaining({
        Properties: expect.objectContaining({
          ScheduleExpression: expression,
          Target: expect.objectContaining({
            Arn: { 'Fn::GetAtt': [functionId(real.stack, functionName), 'Arn'] },
            RetryPolicy: {
              MaximumRetryAttempts: RECURRING_SCHEDULE_RETRY.maximumRetryAttempts,
              MaximumEventAgeInSeconds: RECURRING_SCHEDULE_RETRY.maximumEventAgeSeconds,
            },
          }),
        }),
      });

    // Act
    const schedules = Object.values(real.template.findResources('AWS::Scheduler::Schedule'));

    // Assess
    expect(schedules).toHaveLength(2);
    expect(schedules).toEqual(
      expect.arrayContaining([
        recurring('sweeper', 'rate(1 minute)'),
        recurring('payment-reconciler', 'rate(5 minutes)'),
      ]),
    );
    expect(RECURRING_SCHEDULE_RETRY.maximumRetryAttempts).toBeLessThanOrEqual(3);
  });

  it('serves the order and payment routes, the payment and logistics webhooks included', () => {
    // Prepare
    const expected = [
      'POST /orders',
      'GET /orders/{orderId}',
      'POST /orders/{orderId}/cancel',
      'POST /orders/{orderId}/payments',
      'POST /webhooks/payments',
      'POST /webhooks/logistics',
    ];

    // Act
    const routeKeys = Object.values(real.template.findResources('AWS::ApiGatewayV2::Route')).map(
      (route) => route.Properties.RouteKey as string,
    );

    // Assess
    expect(routeKeys.sort()).toEqual(expected.sort());
  });

  it('reserves concurrency for the queue consumers only, and their event sources poll no faster than it', () => {
    // Prepare
    const reserved = Object.fromEntries(
      appModel.functions.flatMap((fn) =>
        fn.reservedConcurrency === undefined ? [] : [[fn.name, fn.reservedConcurrency]],
      ),
    );

    // Act
    const deployed = Object.fromEntries(
      appModel.functions.flatMap((fn) => {
        const value = resourceProperties(
          real.template,
          functionId(real.stack, fn.name),
        ).ReservedConcurrentExecutions;
        return value === undefined ? [] : [[fn.name, value]];
      }),
    );
    const mappings = Object.values(real.template.findResources('AWS::Lambda::EventSourceMapping'));
    const pollingOf = (name: string) =>
      mappings
        .filter((mapping) => JSON.stringify(mapping).includes(`"${functionId(real.stack, name)}"`))
        .map((mapping) => (mapping.Properties as { ScalingConfig?: unknown }).ScalingConfig);

    // Assess
    expect(reserved).toEqual({ 'order-events-consumer': 100, 'status-events-consumer': 20 });
    expect(deployed).toEqual(reserved);
    expect(pollingOf('order-events-consumer')).toEqual([{ MaximumConcurrency: 100 }]);
    expect(pollingOf('status-events-consumer')).toEqual([{ MaximumConcurrency: 20 }]);
    // The account keeps at least 100 unreserved of its default 1,000.
    expect(Object.values(reserved).reduce((sum, value) => sum + value, 0)).toBeLessThanOrEqual(900);
  });

  it('invokes payment-timeout only through its timer: no route, event source or recurring schedule', () => {
    // Prepare
    const timeout = functionId(real.stack, 'payment-timeout');
    const references = (resource: unknown) => JSON.stringify(resource).includes(`"${timeout}"`);

    // Act
    const mappings = Object.values(real.template.findResources('AWS::Lambda::EventSourceMapping'));
    const schedules = Object.values(real.template.findResources('AWS::Scheduler::Schedule'));
    const integrations = Object.values(real.template.findResources('AWS::ApiGatewayV2::Integration'));
    const timer = real.stack.timers.get('payment-timeouts');

    // Assess
    expect(functionDeclaration(appModel, 'payment-timeout').triggers).toEqual([]);
    expect(mappings.filter(references)).toEqual([]);
    expect(schedules.filter(references)).toEqual([]);
    expect(integrations.filter(references)).toEqual([]);
    expect(timer?.target).toBe(real.stack.functions.get('payment-timeout'));
  });

  it('lets only create-order create payment timeout schedules, and the functions that may apply a payment delete them', () => {
    // Prepare
    const names = appModel.functions.map((fn) => fn.name);

    // Act
    const creators = names.filter((name) =>
      actionsOfFunctionRole(real, name).includes('scheduler:CreateSchedule'),
    );
    const deleters = names.filter((name) =>
      actionsOfFunctionRole(real, name).includes('scheduler:DeleteSchedule'),
    );
    const passers = names.filter((name) => actionsOfFunctionRole(real, name).includes('iam:PassRole'));

    // Assess
    expect(creators).toEqual(['create-order']);
    expect(passers).toEqual(['create-order']);
    // Applying a payment, from a webhook, a check-back or a reconciliation, cancels the order's timer.
    expect(deleters.sort()).toEqual([
      'create-order',
      'payment-reconciler',
      'payment-timeout',
      'payment-webhook',
      'sweeper',
    ]);
  });

  it('lets outbox-relay read the stream, send only to order-events.fifo and put only on the bus, never write the table', () => {
    // Prepare
    const queueArn = {
      'Fn::GetAtt': [logicalIdOf(real.stack.queues.get(ORDER_EVENTS_QUEUE)?.queue), 'Arn'],
    };
    const busArn = { 'Fn::GetAtt': [logicalIdOf(real.stack.eventBuses.get(EVENT_BUS)), 'Arn'] };
    const [mapping] = Object.values(
      real.template.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: { FunctionName: { Ref: functionId(real.stack, 'outbox-relay') } },
      }),
    );
    // Lambda sends records that exhaust their retries to this queue with the function's own role.
    const streamFailures: unknown = mapping?.Properties.DestinationConfig.OnFailure.Destination;

    // Act
    const actions = actionsOfFunctionRole(real, 'outbox-relay');

    // Assess
    expect(actions).toContain('dynamodb:GetRecords');
    expect(actions.filter((action) => WRITE_ACTION.test(action))).toEqual([]);
    expect(streamFailures).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
    expect(streamFailures).not.toEqual(queueArn);
    expect(resourcesGranted(real, 'outbox-relay', /^sqs:SendMessage$/)).toEqual([queueArn, streamFailures]);
    expect(resourcesGranted(real, 'outbox-relay', /^events:/)).toEqual([busArn]);
    expect(actions.filter((action) => /^(sqs:(Receive|Delete)|states:|scheduler:)/.test(action))).toEqual([]);
  });

  it('lets order-events-consumer consume order-events.fifo and start the fulfillment state machine', () => {
    // Prepare
    const queueArn = {
      'Fn::GetAtt': [logicalIdOf(real.stack.queues.get(ORDER_EVENTS_QUEUE)?.queue), 'Arn'],
    };
    const machineId = logicalIdOf(real.stack.stateMachines.get(FULFILLMENT_SAGA));

    // Act
    const consumer = resourceProperties(real.template, functionId(real.stack, 'order-events-consumer'));

    // Assess
    real.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId(real.stack, 'order-events-consumer') },
      EventSourceArn: queueArn,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(resourcesGranted(real, 'order-events-consumer', /^sqs:(ReceiveMessage|DeleteMessage)$/)).toEqual([
      queueArn,
    ]);
    expect(resourcesGranted(real, 'order-events-consumer', /^states:StartExecution$/)).toEqual([
      { Ref: machineId },
    ]);
    expect(consumer.Environment).toEqual({
      Variables: expect.objectContaining({ FULFILLMENT_STATE_MACHINE_ARN: { Ref: machineId } }),
    });
    const starters = appModel.functions
      .map((fn) => fn.name)
      .filter((name) => actionsOfFunctionRole(real, name).includes('states:StartExecution'));
    expect(starters).toEqual(['order-events-consumer']);
  });

  it('creates one EventBridge bus per declaration under a name of its stack, and hands its name to outbox-relay', () => {
    // Prepare
    const busId = logicalIdOf(real.stack.eventBuses.get(EVENT_BUS));

    // Act
    const relay = resourceProperties(real.template, functionId(real.stack, 'outbox-relay'));

    // Assess
    real.template.resourceCountIs('AWS::Events::EventBus', appModel.eventBuses.length);
    expect(resourceProperties(real.template, busId)).toEqual({
      Name: expect.stringMatching(/^OrderBackboneTest/),
      Description: `The ${EVENT_BUS} bus`,
    });
    expect(relay.Environment).toEqual({
      Variables: expect.objectContaining({ EVENT_BUS_NAME: { Ref: busId } }),
    });
  });

  it('lets only the functions that declare it put events, and only on their declared bus', () => {
    // Prepare
    const busArn = (name: string) => ({
      'Fn::GetAtt': [logicalIdOf(real.stack.eventBuses.get(name)), 'Arn'],
    });

    // Act
    const granted = Object.fromEntries(
      appModel.functions.map((fn) => [fn.name, resourcesGranted(real, fn.name, /^events:/)]),
    );

    // Assess
    expect(granted).toEqual(
      Object.fromEntries(
        appModel.functions.map((fn) => [
          fn.name,
          (fn.access.eventBuses ?? []).map(({ eventBus }) => busArn(eventBus)),
        ]),
      ),
    );
    expect(granted['outbox-relay']).toEqual([busArn(EVENT_BUS)]);
    expect(
      appModel.functions.flatMap((fn) =>
        statementsOfFunctionRole(real, fn.name).filter((statement) =>
          asList(statement.Action).includes('events:PutEvents'),
        ),
      ),
    ).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: busArn(EVENT_BUS) }]);
  });

  it.each([ORDER_EVENTS_QUEUE, STATUS_EVENTS_QUEUE])(
    'gives %s and its FIFO dead-letter queue high throughput, a DLQ after 5 receives, a 180 s visibility timeout and an alarm',
    (name) => {
      // Prepare
      const queue = real.stack.queues.get(name);
      const queueId = logicalIdOf(queue?.queue);
      const deadLetterId = logicalIdOf(queue?.deadLetterQueue.queue);

      // Act
      const alarms = deadLetterAlarms(real, deadLetterId);

      // Assess
      expect(resourceProperties(real.template, queueId)).toMatchObject({
        FifoQueue: true,
        VisibilityTimeout: 180,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] }, maxReceiveCount: 5 },
        ...HIGH_THROUGHPUT_FIFO,
      });
      expect(resourceProperties(real.template, deadLetterId)).toMatchObject({
        FifoQueue: true,
        MessageRetentionPeriod: 1_209_600,
        SqsManagedSseEnabled: true,
        ...HIGH_THROUGHPUT_FIFO,
      });
      expect(alarms).toEqual(oneAlarmOnAnyMessage(real));
    },
  );

  describe('status events from the logistics provider', () => {
    const queueId = () => logicalIdOf(real.stack.queues.get(STATUS_EVENTS_QUEUE)?.queue);
    const queueArn = () => ({ 'Fn::GetAtt': [queueId(), 'Arn'] });
    const secretRef = (name: string) => ({ Ref: logicalIdOf(real.stack.secrets.get(name)) });
    const tableId = () => logicalIdOf(real.stack.tables.get('orders'));
    /** Whether a policy resource is, or is built from, the ARN of the resource with logical id `id`. */
    const refersTo = (resource: unknown, id: string) => JSON.stringify(resource).includes(`"${id}"`);

    it('routes POST /webhooks/logistics, and only it, to logistics-webhook and lets API Gateway invoke it', () => {
      // Prepare
      const webhookId = functionId(real.stack, 'logistics-webhook');
      const integrations = real.template.findResources('AWS::ApiGatewayV2::Integration', {
        Properties: { IntegrationUri: { 'Fn::GetAtt': [webhookId, 'Arn'] } },
      });

      // Act
      const routes = Object.values(real.template.findResources('AWS::ApiGatewayV2::Route')).filter((route) =>
        Object.keys(integrations).some((id) => refersTo(route.Properties.Target, id)),
      );
      const permissions = Object.values(
        real.template.findResources('AWS::Lambda::Permission', {
          Properties: { FunctionName: { 'Fn::GetAtt': [webhookId, 'Arn'] } },
        }),
      );

      // Assess
      expect(Object.values(integrations)).toEqual([
        expect.objectContaining({
          Properties: expect.objectContaining({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' }),
        }),
      ]);
      expect(routes.map((route) => route.Properties.RouteKey)).toEqual(['POST /webhooks/logistics']);
      expect(permissions).toEqual([
        expect.objectContaining({
          Properties: expect.objectContaining({
            Action: 'lambda:InvokeFunction',
            Principal: 'apigateway.amazonaws.com',
          }),
        }),
      ]);
      expect(JSON.stringify(permissions[0]?.Properties.SourceArn)).toContain('/*/*/webhooks/logistics"');
    });

    it('hands logistics-webhook the status-events.fifo URL and the logistics secret ARN, never a value or the table', () => {
      // Prepare
      const webhookId = functionId(real.stack, 'logistics-webhook');

      // Act
      const properties = resourceProperties(real.template, webhookId);

      // Assess
      expect(properties.Environment).toEqual({
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'order-backbone',
          STATUS_EVENTS_QUEUE_URL: { Ref: queueId() },
          LOGISTICS_WEBHOOK_SECRET_ARN: secretRef(LOGISTICS_WEBHOOK_SECRET),
        },
      });
    });

    it('lets logistics-webhook send only to status-events.fifo and read only the logistics webhook secret', () => {
      // Prepare
      const allowed = [queueArn(), secretRef(LOGISTICS_WEBHOOK_SECRET)];

      // Act: its own log group and X-Ray are every function's, checked in least-privilege.test.ts.
      const statements = statementsOfFunctionRole(real, 'logistics-webhook').filter(
        (statement) => !asList(statement.Action).some((action) => /^(logs|xray):/.test(action)),
      );
      const actions = actionsOfFunctionRole(real, 'logistics-webhook');

      // Assess
      expect(statements.map((statement) => statement.Effect)).toEqual(statements.map(() => 'Allow'));
      expect(statements.flatMap((statement) => asList(statement.Resource))).toEqual(
        expect.arrayContaining(allowed),
      );
      for (const resource of statements.flatMap((statement) => asList(statement.Resource))) {
        expect(allowed, JSON.stringify(resource)).toContainEqual(resource);
      }
      expect(actions.filter((action) => action.startsWith('sqs:')).sort()).toEqual(['sqs:SendMessage']);
      expect(resourcesGranted(real, 'logistics-webhook', /^sqs:SendMessage$/)).toEqual([queueArn()]);
      expect(resourcesGranted(real, 'logistics-webhook', /^secretsmanager:/)).toEqual([
        secretRef(LOGISTICS_WEBHOOK_SECRET),
      ]);
      expect(actions).toContain('secretsmanager:GetSecretValue');
      expect(actions.filter((action) => !/^(sqs|secretsmanager|logs|xray):/.test(action))).toEqual([]);
      expect(
        statementsOfFunctionRole(real, 'logistics-webhook').filter(
          (statement) =>
            refersTo(statement.Resource, tableId()) ||
            refersTo(statement.Resource, secretRef(PAYMENT_WEBHOOK_SECRET).Ref),
        ),
      ).toEqual([]);
    });

    it('feeds status-events-consumer batches of 10 from status-events.fifo, reporting item failures', () => {
      // Prepare
      const consumerId = functionId(real.stack, 'status-events-consumer');

      // Act
      const mappings = Object.values(
        real.template.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { FunctionName: { Ref: consumerId } },
        }),
      );
      const fromQueue = Object.values(
        real.template.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { EventSourceArn: queueArn() },
        }),
      );

      // Assess
      expect(mappings).toEqual([
        expect.objectContaining({
          Properties: expect.objectContaining({
            EventSourceArn: queueArn(),
            BatchSize: 10,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
          }),
        }),
      ]);
      expect(fromQueue).toEqual(mappings);
    });

    it('lets status-events-consumer consume only status-events.fifo and read and write the orders table', () => {
      // Prepare
      const consume = /^sqs:(ReceiveMessage|DeleteMessage|ChangeMessageVisibility)$/;

      // Act
      const actions = actionsOfFunctionRole(real, 'status-events-consumer');

      // Assess
      expect(resourcesGranted(real, 'status-events-consumer', /^sqs:/)).toEqual([queueArn()]);
      expect(actions.filter((action) => consume.test(action)).sort()).toEqual([
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:ReceiveMessage',
      ]);
      expect(actions).not.toContain('sqs:SendMessage');
      expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem']));
      for (const resource of resourcesGranted(real, 'status-events-consumer', /^dynamodb:/)) {
        expect(refersTo(resource, tableId()), JSON.stringify(resource)).toBe(true);
      }
      expect(actions.filter((action) => !/^(sqs|dynamodb|logs|xray):/.test(action))).toEqual([]);
    });

    it('lets only logistics-webhook send to status-events.fifo and only status-events-consumer receive from it', () => {
      // Prepare
      const names = appModel.functions.map((fn) => fn.name);
      const onQueue = (name: string, action: RegExp) =>
        resourcesGranted(real, name, action).some((resource) => refersTo(resource, queueId()));

      // Act
      const senders = names.filter((name) => onQueue(name, /^sqs:SendMessage$/));
      const receivers = names.filter((name) => onQueue(name, /^sqs:(ReceiveMessage|DeleteMessage)$/));

      // Assess
      expect(senders).toEqual(['logistics-webhook']);
      expect(receivers).toEqual(['status-events-consumer']);
    });
  });

  it('builds the fulfillment state machine from state-machines/fulfillment.asl.json with every placeholder substituted', () => {
    // Prepare
    const file = readFileSync(path.join(REPOSITORY_ROOT, 'state-machines/fulfillment.asl.json'), 'utf8');
    const machineId = logicalIdOf(real.stack.stateMachines.get(FULFILLMENT_SAGA));

    // Act
    const machine = resourceProperties(real.template, machineId);
    const substitutions = machine.DefinitionSubstitutions as Record<string, unknown> | undefined;
    const placeholders = [...file.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1]);

    // Assess
    expect(
      appModel.stateMachines.find((declaration) => declaration.name === FULFILLMENT_SAGA)?.definition,
    ).toBe('state-machines/fulfillment.asl.json');
    expect(machine.DefinitionString).toBe(file);
    expect(placeholders.length).toBeGreaterThan(0);
    expect(Object.keys(substitutions ?? {}).sort()).toEqual([...new Set(placeholders)].sort());
    for (const key of functionArnKeysIn(file)) {
      const fn = appModel.functions.find((candidate) => functionArnSubstitutionKey(candidate.name) === key);
      expect(fn, key).toBeDefined();
      expect(substitutions?.[key], key).toEqual({
        'Fn::GetAtt': [functionId(real.stack, fn?.name ?? ''), 'Arn'],
      });
    }
  });

  it('lets the fulfillment state machine invoke the four saga participants and no other function', () => {
    // Prepare
    const participants = ['fulfillment-order', 'warehouse-pick', 'transport-ship', 'fulfillment-outcome'];
    const roleId = logicalIdOf(real.stack.stateMachines.get(FULFILLMENT_SAGA)?.role);

    // Act
    const invoked = statementsOfRole(real, roleId)
      .filter((statement) => asList(statement.Action).includes('lambda:InvokeFunction'))
      .flatMap((statement) => asList(statement.Resource))
      .map((resource) => JSON.stringify(resource).match(/"(\w+)","Arn"/)?.[1]);

    // Assess
    expect([...new Set(invoked)].sort()).toEqual(
      participants.map((name) => functionId(real.stack, name)).sort(),
    );
  });

  it('alarms to the alarm topic on every failed, timed-out or aborted execution of each state machine', () => {
    // Prepare
    const topic = { Ref: logicalIdOf(real.stack.alarmTopic) };

    // Act
    const alarmsOf = (machineId: string) =>
      Object.values(
        real.template.findResources('AWS::CloudWatch::Alarm', {
          Properties: {
            Namespace: 'AWS/States',
            Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machineId } }],
          },
        }),
      ).map((alarm) => alarm.Properties as Record<string, unknown>);

    // Assess
    expect(appModel.stateMachines.length).toBeGreaterThan(0);
    for (const declaration of appModel.stateMachines) {
      const alarms = alarmsOf(logicalIdOf(real.stack.stateMachines.get(declaration.name)));
      expect(alarms.map((alarm) => alarm.MetricName).sort(), declaration.name).toEqual([
        'ExecutionsAborted',
        'ExecutionsFailed',
        'ExecutionsTimedOut',
      ]);
      for (const alarm of alarms) {
        expect(alarm, `${declaration.name} ${String(alarm.MetricName)}`).toMatchObject({
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [topic],
        });
      }
    }
  });

  it('lets each function read exactly the secrets its environment names, through <KEY>_ARN', () => {
    // Prepare
    const secretId = (name: string) => logicalIdOf(real.stack.secrets.get(name));

    // Act
    const granted = Object.fromEntries(
      appModel.functions.map((fn) => [fn.name, resourcesGranted(real, fn.name, /^secretsmanager:/)]),
    );

    // Assess
    expect(granted).toEqual({
      'create-order': [],
      'get-order': [],
      'cancel-order': [],
      'create-payment': [{ Ref: secretId('payment-provider-api-key') }],
      'payment-webhook': [
        { Ref: secretId('payment-provider-api-key') },
        { Ref: secretId('payment-webhook-secret') },
      ],
      'payment-timeout': [{ Ref: secretId('payment-provider-api-key') }],
      sweeper: [{ Ref: secretId('payment-provider-api-key') }],
      'payment-reconciler': [{ Ref: secretId('payment-provider-api-key') }],
      'outbox-relay': [],
      'order-events-consumer': [{ Ref: secretId('payment-provider-api-key') }],
      'fulfillment-order': [],
      'warehouse-pick': [],
      'transport-ship': [],
      'fulfillment-outcome': [],
      'logistics-webhook': [{ Ref: secretId(LOGISTICS_WEBHOOK_SECRET) }],
      'status-events-consumer': [],
    });
    const webhook = resourceProperties(real.template, functionId(real.stack, 'payment-webhook'));
    expect(webhook.Environment).toEqual({
      Variables: expect.objectContaining({
        PAYMENT_WEBHOOK_SECRET_ARN: { Ref: secretId('payment-webhook-secret') },
      }),
    });
    expect(JSON.stringify(webhook.Environment)).not.toContain('"PAYMENT_WEBHOOK_SECRET"');
  });

  it('outputs the HTTP API URL and every table name', () => {
    // Prepare
    const outputs = real.template.findOutputs('*');

    // Act
    const values = Object.entries(outputs).map(([name, output]) => ({ name, value: output.Value }));

    // Assess
    expect(values.map(({ name }) => name)).toContain('HttpApiUrl');
    expect(values).toContainEqual({
      name: 'OrdersTableName',
      value: { Ref: logicalIdOf(real.stack.tables.get('orders')) },
    });
  });
});

describe('OrderBackboneStack built from a fixture model with every trigger kind', () => {
  let fixture: Synthesized;
  beforeAll(() => {
    fixture = synthesize(fixtureModel, { settings: { SWEEP_LIMIT: '25' } });
  });

  it('gives a FIFO queue a FIFO dead-letter queue after the declared receives, encrypted and TLS-only', () => {
    // Prepare
    const queue = fixture.stack.queues.get('order-events.fifo');

    // Act
    const queueId = logicalIdOf(queue?.queue);
    const deadLetterId = logicalIdOf(queue?.deadLetterQueue.queue);

    // Assess
    expect(resourceProperties(fixture.template, queueId)).toMatchObject({
      FifoQueue: true,
      VisibilityTimeout: 180,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterId, 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(resourceProperties(fixture.template, deadLetterId)).toMatchObject({
      FifoQueue: true,
      SqsManagedSseEnabled: true,
    });
    fixture.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('raises an alarm to the alarm topic when a dead-letter queue holds a message', () => {
    // Prepare
    const deadLetterId = logicalIdOf(fixture.stack.queues.get('order-events.fifo')?.deadLetterQueue.queue);

    // Act
    const alarms = deadLetterAlarms(fixture, deadLetterId);

    // Assess
    expect(alarms).toEqual(oneAlarmOnAnyMessage(fixture));
  });

  it('feeds the queue-triggered function batches and lets it report item failures', () => {
    // Prepare
    const queueId = logicalIdOf(fixture.stack.queues.get('order-events.fifo')?.queue);

    // Act
    const consumer = functionId(fixture.stack, 'order-events-consumer');

    // Assess
    fixture.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: consumer },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('feeds the stream-triggered function as declared and keeps records that exhaust their retries', () => {
    // Prepare
    const tableId = logicalIdOf(fixture.stack.tables.get('orders'));

    // Act
    const relay = functionId(fixture.stack, 'outbox-relay');

    // Assess
    fixture.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: relay },
      EventSourceArn: { 'Fn::GetAtt': [tableId, 'StreamArn'] },
      BatchSize: 50,
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: 8,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } },
    });
  });

  it('invokes the scheduled function from a recurring EventBridge Scheduler schedule with bounded retries', () => {
    // Prepare
    const sweeper = functionId(fixture.stack, 'sweeper');

    // Act
    const schedules = fixture.template.findResources('AWS::Scheduler::Schedule');

    // Assess
    expect(Object.values(schedules)).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          ScheduleExpression: 'rate(1 minute)',
          State: 'ENABLED',
          Target: expect.objectContaining({
            Arn: { 'Fn::GetAtt': [sweeper, 'Arn'] },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
          }),
        }),
      }),
    ]);
  });

  it('substitutes the ARN of each function the ASL file references, and lets the state machine invoke only those', () => {
    // Prepare
    const machineId = logicalIdOf(fixture.stack.stateMachines.get('fulfilment-saga'));
    const reserve = functionId(fixture.stack, 'reserve-stock');
    const ship = functionId(fixture.stack, 'ship-parcel');

    // Act
    const machine = resourceProperties(fixture.template, machineId);

    // Assess
    expect(machine.DefinitionSubstitutions).toEqual({
      FunctionArn_reserve_stock: { 'Fn::GetAtt': [reserve, 'Arn'] },
      FunctionArn_ship_parcel: { 'Fn::GetAtt': [ship, 'Arn'] },
    });
    expect(JSON.stringify(machine.DefinitionString)).toContain(functionArnPlaceholder('reserve-stock'));
    const roleId = logicalIdOf(fixture.stack.stateMachines.get('fulfilment-saga')?.role);
    const invoked = Object.values(
      fixture.template.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: roleId }] },
      }),
    ).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[])
        .filter((statement) => statement.Action === 'lambda:InvokeFunction')
        .flatMap((statement) =>
          Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource],
        ),
    );
    const invokedFunctions = new Set(
      invoked.map((resource) => JSON.stringify(resource).match(/"(\w+)","Arn"/)?.[1]),
    );
    expect([...invokedFunctions].sort()).toEqual([reserve, ship].sort());
  });

  it('runs state machines as STANDARD workflows unless told otherwise, logging errors without execution data', () => {
    // Prepare
    const machineId = logicalIdOf(fixture.stack.stateMachines.get('fulfilment-saga'));

    // Act
    const properties = resourceProperties(fixture.template, machineId);

    // Assess
    expect(properties.StateMachineType).toBe('STANDARD');
    expect(properties.LoggingConfiguration).toMatchObject({ Level: 'ERROR', IncludeExecutionData: false });
  });

  it('runs EXPRESS workflows when told, logging every event with its execution data (their only record)', () => {
    // Prepare
    const props = { workflowType: sfn.StateMachineType.EXPRESS };

    // Act
    const express = synthesize(fixtureModel, props);
    const machineId = logicalIdOf(express.stack.stateMachines.get('fulfilment-saga'));
    const properties = resourceProperties(express.template, machineId);

    // Assess
    expect(properties.StateMachineType).toBe('EXPRESS');
    expect(properties.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    express.template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { Namespace: 'AWS/States', Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machineId } }] },
      3,
    );
  });

  it('creates every declared bus, used or not, and lets a function put events only on the bus it declares', () => {
    // Prepare
    const busId = (name: string) => logicalIdOf(fixture.stack.eventBuses.get(name));

    // Act
    const relay = resourceProperties(fixture.template, functionId(fixture.stack, 'outbox-relay'));
    const putters = fixtureModel.functions.flatMap((fn) =>
      resourcesGranted(fixture, fn.name, /^events:/).map((resource) => ({ name: fn.name, resource })),
    );
    const outputs = fixture.template.findOutputs('*');

    // Assess
    expect(resourceProperties(fixture.template, busId('unused-events'))).toEqual({
      Name: expect.stringMatching(/^OrderBackboneTest/),
      Description: 'The unused-events bus',
    });
    expect(relay.Environment).toEqual({
      Variables: expect.objectContaining({ EVENT_BUS_NAME: { Ref: busId('parcel-events') } }),
    });
    expect(putters).toEqual([
      { name: 'outbox-relay', resource: { 'Fn::GetAtt': [busId('parcel-events'), 'Arn'] } },
    ]);
    expect(outputs.ParcelEventsEventBusName?.Value).toEqual({ Ref: busId('parcel-events') });
  });

  it('passes a state machine ARN to the function that names it and lets it start executions', () => {
    // Prepare
    const machineId = logicalIdOf(fixture.stack.stateMachines.get('fulfilment-saga'));

    // Act
    const consumer = resourceProperties(fixture.template, functionId(fixture.stack, 'order-events-consumer'));

    // Assess
    expect(consumer.Environment).toEqual({
      Variables: expect.objectContaining({
        FULFILMENT_STATE_MACHINE_ARN: { Ref: machineId },
        LOG_LEVEL: 'INFO',
      }),
    });
    expect(actionsOfFunctionRole(fixture, 'order-events-consumer')).toContain('states:StartExecution');
    expect(actionsOfFunctionRole(fixture, 'sweeper')).not.toContain('states:StartExecution');
  });

  it('grants each function only the declared access: a read-only function cannot write or send', () => {
    // Prepare
    const writes = /^(dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite)|sqs:SendMessage|states:)/;

    // Act
    const sweeper = actionsOfFunctionRole(fixture, 'sweeper');
    const relay = actionsOfFunctionRole(fixture, 'outbox-relay');

    // Assess
    expect(sweeper).toContain('dynamodb:Query');
    expect(sweeper.filter((action) => writes.test(action))).toEqual([]);
    expect(relay).toContain('sqs:SendMessage');
    expect(relay.filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toEqual([]);
  });

  it('passes a setting given in props to the function environment', () => {
    // Prepare
    const sweeper = functionId(fixture.stack, 'sweeper');

    // Act
    const properties = resourceProperties(fixture.template, sweeper);

    // Assess
    expect(properties.Environment).toEqual({ Variables: expect.objectContaining({ SWEEP_LIMIT: '25' }) });
  });

  it('projects only the declared attributes into each declared global secondary index', () => {
    // Prepare
    const index = fixtureModel.tables[0]?.indexes?.[0];

    // Act
    const { template } = fixture;

    // Assess
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      GlobalSecondaryIndexes: [
        {
          IndexName: index?.name,
          KeySchema: [
            { AttributeName: index?.partitionKey, KeyType: 'HASH' },
            { AttributeName: index?.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['orderId'] },
        },
      ],
    });
  });
});

describe('OrderBackboneStack built from a fixture model with a timer and secrets', () => {
  let fixture: Synthesized;
  let timerIds: { group: string; role: string; deadLetter: string; target: string };
  beforeAll(() => {
    fixture = synthesize(fixtureModel);
    const timer = fixture.stack.timers.get('parcel-reminders');
    timerIds = {
      group: logicalIdOf(timer?.group),
      role: logicalIdOf(timer?.role),
      deadLetter: logicalIdOf(timer?.deadLetterQueue.queue),
      target: functionId(fixture.stack, 'parcel-reminder'),
    };
  });

  it('creates the schedule group under a name of its stack, never the declared name alone', () => {
    // Prepare
    const { group } = timerIds;

    // Act
    const properties = resourceProperties(fixture.template, group);

    // Assess
    fixture.template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    expect(properties).toEqual({
      Name: expect.stringMatching(/^OrderBackboneTest-ParcelRemindersTimer-Group-/),
    });
    expect(fixture.template.toJSON().Resources[group].DeletionPolicy).toBe('Delete');
  });

  it('lets only Scheduler assume the timer role, for schedules of its group in this account', () => {
    // Prepare
    const { role, group } = timerIds;

    // Act
    const properties = resourceProperties(fixture.template, role);

    // Assess
    expect(properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: {
              'aws:SourceAccount': { Ref: 'AWS::AccountId' },
              'aws:SourceArn': { 'Fn::GetAtt': [group, 'Arn'] },
            },
          },
        },
      ],
    });
    expect(properties.ManagedPolicyArns).toBeUndefined();
    expect(properties.Policies).toBeUndefined();
  });

  it('lets the timer role invoke the target function and send to the dead-letter queue, and nothing else', () => {
    // Prepare
    const { role, target, deadLetter } = timerIds;

    // Act
    const statements = statementsOfRole(fixture, role);

    // Assess
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [target, 'Arn'] } },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [deadLetter, 'Arn'] } },
    ]);
    fixture.template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'scheduler.amazonaws.com' },
      0,
    );
  });

  it('lets the managing function create and delete schedules in the group, and pass the timer role to Scheduler only', () => {
    // Prepare
    const scheduleArns = fixture.stack.resolve(fixture.stack.timers.get('parcel-reminders')?.scheduleArns);

    // Act
    const statements = statementsOfFunctionRole(fixture, 'parcel-status');

    // Assess
    expect(JSON.stringify(scheduleArns)).toContain(`{"Ref":"${timerIds.group}"},"/*"`);
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
      Resource: scheduleArns,
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: { 'Fn::GetAtt': [timerIds.role, 'Arn'] },
      Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    });
    expect(
      actionsOfFunctionRole(fixture, 'parcel-status').filter((action) => /^(scheduler|iam):/.test(action)),
    ).toEqual(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'iam:PassRole']);
    for (const other of ['sweeper', 'outbox-relay', 'parcel-reminder']) {
      expect(
        actionsOfFunctionRole(fixture, other).filter((action) => /^(scheduler|iam):/.test(action)),
        other,
      ).toEqual([]);
    }
  });

  it('gives the timer a standard, encrypted, TLS-only dead-letter queue that alarms on its first message', () => {
    // Prepare
    const { deadLetter } = timerIds;

    // Act
    const properties = resourceProperties(fixture.template, deadLetter);
    const alarms = deadLetterAlarms(fixture, deadLetter);

    // Assess
    expect(properties).toEqual({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
    fixture.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: deadLetter }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(alarms).toEqual(oneAlarmOnAnyMessage(fixture));
  });

  it("sends the target's failed asynchronous invocations to the timer's dead-letter queue", () => {
    // Prepare
    const { target, deadLetter } = timerIds;

    // Act
    const configs = Object.values(fixture.template.findResources('AWS::Lambda::EventInvokeConfig'));

    // Assess
    expect(configs).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          FunctionName: { Ref: target },
          Qualifier: '$LATEST',
          MaximumRetryAttempts: 2,
          MaximumEventAgeInSeconds: 900,
          DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [deadLetter, 'Arn'] } } },
        }),
      }),
    ]);
    expect(resourcesGranted(fixture, 'parcel-reminder', /^sqs:SendMessage$/)).toEqual([
      { 'Fn::GetAtt': [deadLetter, 'Arn'] },
    ]);
  });

  it('hands the managing function every part of the timer', () => {
    // Prepare
    const { group, role, deadLetter, target } = timerIds;

    // Act
    const properties = resourceProperties(fixture.template, functionId(fixture.stack, 'parcel-status'));

    // Assess
    expect(properties.Environment).toEqual({
      Variables: expect.objectContaining({
        REMINDER_GROUP_NAME: { Ref: group },
        REMINDER_TARGET_ARN: { 'Fn::GetAtt': [target, 'Arn'] },
        REMINDER_ROLE_ARN: { 'Fn::GetAtt': [role, 'Arn'] },
        REMINDER_DEAD_LETTER_ARN: { 'Fn::GetAtt': [deadLetter, 'Arn'] },
        REMINDER_MAX_RETRIES: '4',
        REMINDER_MAX_EVENT_AGE_SECONDS: '900',
      }),
    });
  });

  it('creates each declared secret with a generated value and its description, retained by default', () => {
    // Prepare
    const secretId = logicalIdOf(fixture.stack.secrets.get('carrier-api-key'));

    // Act
    const throwAway = synthesize(fixtureModel, { removalPolicy: RemovalPolicy.DESTROY });

    // Assess
    fixture.template.resourceCountIs('AWS::SecretsManager::Secret', fixtureModel.secrets.length);
    expect(resourceProperties(fixture.template, secretId)).toMatchObject({
      Description: 'API key of the parcel carrier',
      GenerateSecretString: expect.any(Object),
    });
    expect(resourceProperties(fixture.template, secretId)).not.toHaveProperty('SecretString');
    expect(fixture.template.toJSON().Resources[secretId].DeletionPolicy).toBe('Retain');
    expect(throwAway.template.toJSON().Resources[secretId].DeletionPolicy).toBe('Delete');
  });

  it('passes a secret as <KEY>_ARN and lets only the function that names it read it, and only it', () => {
    // Prepare
    const secretId = logicalIdOf(fixture.stack.secrets.get('carrier-api-key'));

    // Act
    const properties = resourceProperties(fixture.template, functionId(fixture.stack, 'parcel-status'));
    const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;

    // Assess
    expect(variables.CARRIER_API_KEY_ARN).toEqual({ Ref: secretId });
    expect(variables).not.toHaveProperty('CARRIER_API_KEY');
    expect(resourcesGranted(fixture, 'parcel-status', /^secretsmanager:/)).toEqual([{ Ref: secretId }]);
    expect(actionsOfFunctionRole(fixture, 'parcel-status')).toContain('secretsmanager:GetSecretValue');
    for (const fn of fixtureModel.functions.filter((candidate) => candidate.name !== 'parcel-status')) {
      expect(resourcesGranted(fixture, fn.name, /^secretsmanager:/), fn.name).toEqual([]);
    }
  });

  it('outputs the ARN of each secret, and the group name and dead-letter queue URL of each timer', () => {
    // Prepare
    const secretId = logicalIdOf(fixture.stack.secrets.get('carrier-api-key'));

    // Act
    const outputs = fixture.template.findOutputs('*');

    // Assess
    expect(outputs.CarrierApiKeySecretArn?.Value).toEqual({ Ref: secretId });
    expect(outputs.ParcelRemindersTimerDeadLetterQueueUrl?.Value).toEqual({ Ref: timerIds.deadLetter });
    expect(outputs.ParcelRemindersTimerGroupName?.Value).toEqual({ Ref: timerIds.group });
  });
});

function withFunction(model: AppModel, name: string, change: Partial<FunctionDeclaration>): AppModel {
  return {
    ...model,
    functions: model.functions.map((fn) => (fn.name === name ? { ...fn, ...change } : fn)),
  };
}

describe('OrderBackboneStack rejects a model it cannot deploy safely', () => {
  const parcelStatus = functionDeclaration(fixtureModel, 'parcel-status');
  const timer = fixtureModel.timers[0];
  if (timer === undefined) throw new Error('the fixture model declares no timer');

  it.each([
    {
      problem: 'an environment entry naming an undeclared timer',
      model: withFunction(fixtureModel, 'parcel-status', {
        environment: { GROUP: { timer: 'nope', part: 'groupName' } },
      }),
      message: /function 'parcel-status' environment GROUP names undeclared timer 'nope'/,
    },
    {
      problem: 'access to an undeclared timer',
      model: withFunction(fixtureModel, 'parcel-status', {
        access: { timers: [{ timer: 'nope', mode: 'manage' }] },
      }),
      message: /function 'parcel-status' is granted access to undeclared timer 'nope'/,
    },
    {
      problem: 'query access to an index the table does not declare',
      model: withFunction(fixtureModel, 'sweeper', {
        access: { tables: [{ table: 'orders', mode: 'read', indexes: ['nope'] }] },
      }),
      message: /function 'sweeper' is granted access to undeclared index 'nope' of table 'orders'/,
    },
    {
      problem: 'a timer aimed at an undeclared function',
      model: { ...fixtureModel, timers: [{ ...timer, targetFunction: 'nope' }] },
      message: /timer 'parcel-reminders' targets undeclared function 'nope'/,
    },
    {
      problem: 'an environment entry naming an undeclared secret',
      model: withFunction(fixtureModel, 'parcel-status', {
        environment: { ...parcelStatus.environment, CARRIER_API_KEY: { secret: 'nope' } },
      }),
      message: /function 'parcel-status' environment CARRIER_API_KEY names undeclared secret 'nope'/,
    },
    {
      problem: 'a timer declared twice',
      model: { ...fixtureModel, timers: [timer, timer] },
      message: /timer 'parcel-reminders' is declared more than once/,
    },
    {
      problem: 'a secret declared twice',
      model: { ...fixtureModel, secrets: [...fixtureModel.secrets, ...fixtureModel.secrets.slice(0, 1)] },
      message: /secret 'carrier-api-key' is declared more than once/,
    },
    {
      problem: 'retries Scheduler does not accept',
      model: {
        ...fixtureModel,
        timers: [{ ...timer, maximumRetryAttempts: 186, maximumEventAgeSeconds: 30 }],
      },
      message:
        /maximumRetryAttempts 186; Scheduler accepts 0-185[\s\S]*maximumEventAgeSeconds 30; Scheduler accepts 60-86400/,
    },
    {
      problem: 'a schedule group name Scheduler does not accept',
      model: { ...fixtureModel, timers: [{ ...timer, name: 'parcel reminders' }] },
      message: /timer 'parcel reminders' is not a valid schedule group name/,
    },
    {
      problem: 'a secret whose <KEY>_ARN variable is declared too',
      model: withFunction(fixtureModel, 'parcel-status', {
        environment: { ...parcelStatus.environment, CARRIER_API_KEY_ARN: { literal: 'x' } },
      }),
      message:
        /CARRIER_API_KEY names a secret, which becomes CARRIER_API_KEY_ARN in AWS, but CARRIER_API_KEY_ARN is declared too/,
    },
    {
      problem: 'a target function that is handed its own ARN',
      model: withFunction(fixtureModel, 'parcel-reminder', {
        environment: { SELF: { timer: 'parcel-reminders', part: 'targetArn' } },
      }),
      message: /function 'parcel-reminder' environment SELF holds its own ARN/,
    },
    {
      problem: 'an environment entry naming an undeclared event bus',
      model: withFunction(fixtureModel, 'outbox-relay', {
        environment: { EVENT_BUS_NAME: { eventBusName: 'nope' } },
      }),
      message: /function 'outbox-relay' environment EVENT_BUS_NAME names undeclared event bus 'nope'/,
    },
    {
      problem: 'put access to an undeclared event bus',
      model: withFunction(fixtureModel, 'outbox-relay', {
        access: { eventBuses: [{ eventBus: 'nope', mode: 'put' }] },
      }),
      message: /function 'outbox-relay' is granted access to undeclared event bus 'nope'/,
    },
    {
      problem: 'an event bus declared twice',
      model: { ...fixtureModel, eventBuses: [{ name: 'parcel-events' }, { name: 'parcel-events' }] },
      message: /event bus 'parcel-events' is declared more than once/,
    },
    {
      problem: "a bus named 'default', the account's own",
      model: { ...fixtureModel, eventBuses: [...fixtureModel.eventBuses, { name: 'default' }] },
      message: /event bus 'default' is the account's own bus/,
    },
    {
      problem: 'a bus name EventBridge does not accept for a custom bus',
      model: { ...fixtureModel, eventBuses: [...fixtureModel.eventBuses, { name: 'partner/events' }] },
      message: /event bus 'partner\/events' is not a valid custom bus name/,
    },
    {
      problem: 'a function targeted by two timers',
      model: { ...fixtureModel, timers: [timer, { ...timer, name: 'more-reminders' }] },
      message: /function 'parcel-reminder' is the target of more than one timer/,
    },
  ])('rejects $problem', ({ model, message }) => {
    // Prepare
    const app = new App({ context: SKIP_BUNDLING });

    // Act
    const build = () => new OrderBackboneStack(app, 'Rejected', { model });

    // Assess
    expect(build).toThrow(message);
  });

  it('rejects a queue whose visibility timeout is under six times the timeout of a function it triggers', () => {
    // Prepare
    const model: AppModel = {
      ...fixtureModel,
      queues: fixtureModel.queues.map((queue) => ({ ...queue, visibilityTimeoutSeconds: 179 })),
    };

    // Act
    const build = () => synthesize(model);

    // Assess
    expect(build).toThrow(
      /queue 'order-events\.fifo' has a visibility timeout of 179s, but it triggers function 'order-events-consumer' \(timeout 30s\), so it needs at least 6 x 30s = 180s/,
    );
  });

  it('rejects a function with two schedules', () => {
    // Prepare
    const model: AppModel = {
      ...fixtureModel,
      functions: fixtureModel.functions.map((fn) =>
        fn.triggers.some((trigger) => trigger.type === 'schedule')
          ? { ...fn, triggers: [...fn.triggers, { type: 'schedule', expression: 'rate(5 minutes)' }] }
          : fn,
      ),
    };

    // Act
    const build = () => synthesize(model);

    // Assess
    expect(build).toThrow(/has more than one schedule/);
  });

  it('rejects a trigger on an undeclared queue', () => {
    // Prepare
    const model: AppModel = { ...fixtureModel, queues: [] };

    // Act
    const build = () => synthesize(model);

    // Assess
    expect(build).toThrow(
      /function 'order-events-consumer' is triggered by undeclared queue 'order-events\.fifo'/,
    );
  });

  it('rejects an ASL placeholder that names no declared function', () => {
    // Prepare
    const model: AppModel = {
      ...fixtureModel,
      functions: fixtureModel.functions.filter((fn) => fn.name !== 'ship-parcel'),
    };

    // Act
    const build = () => synthesize(model);

    // Assess
    expect(build).toThrow(/references \$\{FunctionArn_ship_parcel\}, but no declared function has that key/);
  });

  it('rejects a function that both starts a state machine and is invoked by it', () => {
    // Prepare
    const model: AppModel = {
      ...fixtureModel,
      functions: fixtureModel.functions.map((fn) =>
        fn.name === 'reserve-stock'
          ? { ...fn, environment: { SAGA_ARN: { stateMachineArn: 'fulfilment-saga' } } }
          : fn,
      ),
    };

    // Act
    const build = () => synthesize(model);

    // Assess
    expect(build).toThrow(
      /function 'reserve-stock' both starts state machine 'fulfilment-saga' and is invoked by it/,
    );
  });
});

describe('bundling', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'order-backbone-cdk-'));
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('bundles a TypeScript handler offline with the local esbuild into a runnable ES module', () => {
    // Prepare
    const fn = functionDeclaration(fixtureModel, 'reserve-stock');
    const model: AppModel = { ...emptyModel, functions: [fn] };
    const app = new App({ outdir });

    // Act
    new OrderBackboneStack(app, 'BundlingTest', { model });
    const assets = readdirSync(outdir).filter((entry) => entry.startsWith('asset.'));

    // Assess
    expect(assets).toHaveLength(1);
    const assetDir = path.join(outdir, assets[0] ?? '');
    expect(existsSync(path.join(assetDir, 'index.mjs.map'))).toBe(true);
    // A separate Node process, as Lambda runs it: vitest's module runner would lend the bundle a `require`.
    const runner = path.join(outdir, 'run-handler.mjs');
    writeFileSync(
      runner,
      "const { handler } = await import('./" +
        path.basename(assetDir) +
        "/index.mjs');\n" +
        'process.stdout.write(JSON.stringify(await handler([1, 2])));\n',
    );
    const result: unknown = JSON.parse(execFileSync(process.execPath, [runner], { encoding: 'utf8' }));
    expect(result).toEqual({ kind: 'a list of 2', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
