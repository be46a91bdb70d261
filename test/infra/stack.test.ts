import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, CfnElement, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionArnPlaceholder } from '../../lib/constructs/asl-substitutions';
import { type AppModel, appModel, type FunctionDeclaration } from '../../lib/model';
import { OrderBackboneStack, type OrderBackboneStackProps } from '../../lib/stack';
import { fixtureModel } from '../fixtures/cdk/fixture-model';

/** Skips esbuild for every stack: these tests read the template, not the code. */
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

interface Synthesized {
  readonly stack: OrderBackboneStack;
  readonly template: Template;
}

function synthesize(model: AppModel, props: Partial<OrderBackboneStackProps> = {}): Synthesized {
  const app = new App({ context: SKIP_BUNDLING });
  const stack = new OrderBackboneStack(app, 'OrderBackboneTest', { model, ...props });
  return { stack, template: Template.fromStack(stack) };
}

function logicalId(stack: OrderBackboneStack, construct: IConstruct | undefined): string {
  const resource = construct?.node.defaultChild;
  if (!(resource instanceof CfnElement))
    throw new Error(`no CloudFormation resource under ${construct?.node.path}`);
  return stack.getLogicalId(resource);
}

function functionId(stack: OrderBackboneStack, name: string): string {
  return logicalId(stack, stack.functions.get(name));
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

/** Every IAM action granted by the policies attached to a function's execution role. */
function actionsOfFunctionRole(synthesized: Synthesized, name: string): string[] {
  const fn = synthesized.stack.functions.get(name);
  const roleId = logicalId(synthesized.stack, fn?.role);
  const policies = synthesized.template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((statement) =>
      Array.isArray(statement.Action) ? statement.Action : [statement.Action],
    ),
  );
}

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
    const table = logicalId(real.stack, real.stack.tables.get('orders'));

    // Act
    const throwAway = synthesize(appModel, { removalPolicy: RemovalPolicy.DESTROY });

    // Assess
    expect(real.template.toJSON().Resources[table].DeletionPolicy).toBe('Retain');
    expect(throwAway.template.toJSON().Resources[table].DeletionPolicy).toBe('Delete');
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
        [...Object.keys(fn.environment), 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME'].sort(),
      );
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
        ORDERS_TABLE_NAME: { Ref: logicalId(real.stack, real.stack.tables.get('orders')) },
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
    const readOnly = appModel.functions.filter((fn) =>
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

  it('outputs the HTTP API URL and every table name', () => {
    // Prepare
    const outputs = real.template.findOutputs('*');

    // Act
    const values = Object.entries(outputs).map(([name, output]) => ({ name, value: output.Value }));

    // Assess
    expect(values.map(({ name }) => name)).toContain('HttpApiUrl');
    expect(values).toContainEqual({
      name: 'OrdersTableName',
      value: { Ref: logicalId(real.stack, real.stack.tables.get('orders')) },
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
    const queueId = logicalId(fixture.stack, queue?.queue);
    const deadLetterId = logicalId(fixture.stack, queue?.deadLetterQueue.queue);

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
    const deadLetterId = logicalId(
      fixture.stack,
      fixture.stack.queues.get('order-events.fifo')?.deadLetterQueue.queue,
    );

    // Act
    const alarms = fixture.template.findResources('AWS::CloudWatch::Alarm', {
      Properties: {
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterId, 'QueueName'] } }],
      },
    });

    // Assess
    expect(Object.values(alarms)).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          AlarmActions: [{ Ref: logicalId(fixture.stack, fixture.stack.alarmTopic) }],
        }),
      }),
    ]);
  });

  it('feeds the queue-triggered function batches and lets it report item failures', () => {
    // Prepare
    const queueId = logicalId(fixture.stack, fixture.stack.queues.get('order-events.fifo')?.queue);

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
    const tableId = logicalId(fixture.stack, fixture.stack.tables.get('orders'));

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
    const machineId = logicalId(fixture.stack, fixture.stack.stateMachines.get('fulfilment-saga'));
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
    const roleId = logicalId(fixture.stack, fixture.stack.stateMachines.get('fulfilment-saga')?.role);
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

  it('runs state machines as STANDARD workflows unless told otherwise', () => {
    // Prepare
    const machineId = logicalId(fixture.stack, fixture.stack.stateMachines.get('fulfilment-saga'));

    // Act
    const properties = resourceProperties(fixture.template, machineId);

    // Assess
    expect(properties.StateMachineType).toBe('STANDARD');
  });

  it('passes a state machine ARN to the function that names it and lets it start executions', () => {
    // Prepare
    const machineId = logicalId(fixture.stack, fixture.stack.stateMachines.get('fulfilment-saga'));

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

  it('projects all attributes into each declared global secondary index', () => {
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
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });
});

describe('OrderBackboneStack rejects a model it cannot deploy safely', () => {
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
    const model: AppModel = { tables: [], queues: [], stateMachines: [], functions: [fn] };
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
