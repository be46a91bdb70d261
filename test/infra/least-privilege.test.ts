import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterQueue } from '../../lib/constructs/dead-letter-queue';
import { appModel } from '../../lib/model';
import { OrderBackboneStack } from '../../lib/stack';
import { logicalIdOf, SKIP_BUNDLING } from '../support/synth';

/**
 * What each function may do, one `action on resource` line per permission, derived from the code it runs
 * (functions/**): which repositories, adapters and clients its handler reaches. Resources are named by what
 * they are in lib/model.ts (`<table:orders>`), not by CloudFormation logical id. Every function writes to its
 * own log group (and no other) and sends X-Ray traces, whose actions AWS allows only on `*`.
 *
 * DynamoDB: reads are GetItem (payments, saga ledger) and Query (an order with its history, ConsistentRead on
 * the table); writes are PutItem and UpdateItem, and ConditionCheckItem inside TransactWriteItems (IAM checks
 * each item of a transaction by its own action). Nothing deletes, scans or batches. Functions that write share
 * the repositories, so they share that set.
 */
const ORDERS = '<table:orders>';

function grant(actions: readonly string[], resource: string): string[] {
  return actions.map((action) => `${action} on ${resource}`);
}

function basics(fn: string): string[] {
  return [
    ...grant(['logs:CreateLogStream', 'logs:PutLogEvents'], `<log-group:${fn}>`),
    ...grant(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], '*'),
  ];
}

const READ_ORDERS = grant(['dynamodb:GetItem', 'dynamodb:Query'], ORDERS);
const WRITE_ORDERS = grant(
  [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  ORDERS,
);
/** Create and delete the per-order payment timeout schedule (adapters/scheduler-payment-timers.ts). */
const MANAGE_PAYMENT_TIMERS = [
  ...grant(
    ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
    'arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<timer:payment-timeouts/group>/*',
  ),
  'iam:PassRole on <timer:payment-timeouts/role> if {"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}',
];
/** Delete an order's payment timeout schedule, once its payment is applied; never create one. */
const CANCEL_PAYMENT_TIMERS = [
  'scheduler:DeleteSchedule on arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<timer:payment-timeouts/group>/*',
];
/** What Lambda's SQS poller needs on the queue that triggers the function (the CDK's SqsEventSource grant). */
function consume(queue: string): string[] {
  return grant(
    [
      'sqs:ReceiveMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueUrl',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
    ],
    `<queue:${queue}>`,
  );
}
/** What Lambda needs to send a failed event to an SQS on-failure destination (the CDK's grant). */
function sendFailures(queue: string): string[] {
  return grant(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], queue);
}

const EXPECTED_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  // OrderService.create: the order and its idempotency key in one transaction, then its payment timer.
  'create-order': [...basics('create-order'), ...WRITE_ORDERS, ...MANAGE_PAYMENT_TIMERS],
  // OrderRepository.get only.
  'get-order': [...basics('get-order'), ...READ_ORDERS],
  'cancel-order': [...basics('cancel-order'), ...WRITE_ORDERS],
  // PaymentService: lease, payment intent record, the provider's API key.
  'create-payment': [
    ...basics('create-payment'),
    ...WRITE_ORDERS,
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
  ],
  // Verifies the signature with its secret, reads the intent from the provider with its API key, records the
  // payment, cancels the order's timer.
  'payment-webhook': [
    ...basics('payment-webhook'),
    ...WRITE_ORDERS,
    ...CANCEL_PAYMENT_TIMERS,
    'secretsmanager:GetSecretValue on <secret:payment-webhook-secret>',
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
  ],
  // Checks back with the provider, then cancels the order, or pays it and cancels its own timer's schedule;
  // Lambda sends events whose retries are exhausted to the timer's dead-letter queue.
  'payment-timeout': [
    ...basics('payment-timeout'),
    ...WRITE_ORDERS,
    ...CANCEL_PAYMENT_TIMERS,
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
    ...sendFailures('<timer:payment-timeouts/dead-letter>'),
  ],
  // Reads overdue orders from the sparse index (and from no other index), checks each back with the provider,
  // then cancels it, or pays it and cancels its timer; counts stuck refunds from the refund index.
  sweeper: [
    ...basics('sweeper'),
    ...WRITE_ORDERS,
    ...CANCEL_PAYMENT_TIMERS,
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
    `dynamodb:Query on ${ORDERS}/index/pending-payment-by-deadline`,
    `dynamodb:Query on ${ORDERS}/index/refund-pending-by-time`,
  ],
  // Reads open orders and refunds owed from the two sparse indexes, what webhooks missed from the provider, and
  // applies it as the webhook does (a payment cancels its order's timer); keeps its checkpoint in the table.
  'payment-reconciler': [
    ...basics('payment-reconciler'),
    ...WRITE_ORDERS,
    ...CANCEL_PAYMENT_TIMERS,
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
    `dynamodb:Query on ${ORDERS}/index/pending-payment-by-deadline`,
    `dynamodb:Query on ${ORDERS}/index/refund-pending-by-time`,
  ],
  // Reads the table's stream (Lambda's poller), publishes to the FIFO queue and the bus, and never touches items.
  // ListStreams supports no resource type, so IAM grants it only on "*" (on the stream's ARN it grants nothing).
  'outbox-relay': [
    ...basics('outbox-relay'),
    'dynamodb:ListStreams on *',
    ...grant(
      ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      '<table:orders/stream>',
    ),
    'sqs:SendMessage on <queue:order-events.fifo>',
    'events:PutEvents on <event-bus:order-backbone-events>',
    ...sendFailures('<function:outbox-relay/stream-failures>'),
  ],
  // Starts the saga (named from the order id) or refunds through the provider with its API key.
  'order-events-consumer': [
    ...basics('order-events-consumer'),
    ...WRITE_ORDERS,
    ...consume('order-events.fifo'),
    'secretsmanager:GetSecretValue on <secret:payment-provider-api-key>',
    'states:StartExecution on <state-machine:fulfillment>',
  ],
  // Saga participants: each keeps its step ledger in the table; the HTTP calls need no AWS permission.
  'fulfillment-order': [...basics('fulfillment-order'), ...WRITE_ORDERS],
  'warehouse-pick': [...basics('warehouse-pick'), ...WRITE_ORDERS],
  'transport-ship': [...basics('transport-ship'), ...WRITE_ORDERS],
  'fulfillment-outcome': [...basics('fulfillment-outcome'), ...WRITE_ORDERS],
  // Verifies the signature and forwards the event; it has no table access at all.
  'logistics-webhook': [
    ...basics('logistics-webhook'),
    'sqs:SendMessage on <queue:status-events.fifo>',
    'secretsmanager:GetSecretValue on <secret:logistics-webhook-secret>',
  ],
  'status-events-consumer': [
    ...basics('status-events-consumer'),
    ...WRITE_ORDERS,
    ...consume('status-events.fifo'),
  ],
};

/**
 * The actions a function may have on `*`: those its expected list grants on `*`, which AWS allows on nothing else
 * (X-Ray's trace upload, dynamodb:ListStreams); nothing else may name `*`.
 */
function actionsOnAnyResource(name: string): string[] {
  return (EXPECTED_PERMISSIONS[name] ?? []).flatMap((permission) =>
    permission.endsWith(' on *') ? [permission.slice(0, -' on *'.length)] : [],
  );
}

interface Statement {
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: unknown;
  readonly Resource?: unknown;
  readonly NotResource?: unknown;
  readonly Condition?: unknown;
}

function asList<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Model names of every resource a function's role may refer to, by logical id. */
function labels(stack: OrderBackboneStack): Map<string, string> {
  const named = new Map<string, string>();
  for (const [name, table] of stack.tables) named.set(logicalIdOf(table), `table:${name}`);
  for (const [name, queue] of stack.queues) {
    named.set(logicalIdOf(queue.queue), `queue:${name}`);
    named.set(logicalIdOf(queue.deadLetterQueue.queue), `queue:${name}/dead-letter`);
  }
  for (const [name, secret] of stack.secrets) named.set(logicalIdOf(secret), `secret:${name}`);
  for (const [name, bus] of stack.eventBuses) named.set(logicalIdOf(bus), `event-bus:${name}`);
  for (const [name, machine] of stack.stateMachines) named.set(logicalIdOf(machine), `state-machine:${name}`);
  for (const [name, timer] of stack.timers) {
    named.set(logicalIdOf(timer.group), `timer:${name}/group`);
    named.set(logicalIdOf(timer.role), `timer:${name}/role`);
    named.set(logicalIdOf(timer.deadLetterQueue.queue), `timer:${name}/dead-letter`);
  }
  for (const [name, fn] of stack.functions) {
    named.set(logicalIdOf(fn), `function:${name}`);
    const construct = fn.node.scope;
    for (const child of construct?.node.children ?? []) {
      if (child.node.id === 'LogGroup') named.set(logicalIdOf(child), `log-group:${name}`);
      if (child instanceof DeadLetterQueue)
        named.set(logicalIdOf(child.queue), `function:${name}/stream-failures`);
    }
  }
  return named;
}

/**
 * A policy resource as text: literal strings kept, references named from the model (`<table:orders>`) or as
 * pseudo parameters (`<AWS::Region>`), joins joined.
 */
function render(value: unknown, named: ReadonlyMap<string, string>): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    if ('Ref' in value && typeof value.Ref === 'string') {
      return `<${value.Ref.startsWith('AWS::') ? value.Ref : (named.get(value.Ref) ?? `?${value.Ref}`)}>`;
    }
    if ('Fn::GetAtt' in value && Array.isArray(value['Fn::GetAtt'])) {
      const [id, attribute] = value['Fn::GetAtt'] as [string, string];
      const label = named.get(id) ?? `?${id}`;
      if (attribute === 'Arn') return `<${label}>`;
      if (attribute === 'StreamArn') return `<${label}/stream>`;
      return `<${label}.${attribute}>`;
    }
    if ('Fn::Join' in value && Array.isArray(value['Fn::Join'])) {
      const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => render(part, named)).join(separator);
    }
  }
  return `?${JSON.stringify(value)}`;
}

interface RoleUnderTest {
  readonly roleId: string;
  readonly statements: readonly Statement[];
  readonly permissions: readonly string[];
}

function roleOf(stack: OrderBackboneStack, template: Template, name: string): RoleUnderTest {
  const roleId = logicalIdOf(stack.functions.get(name)?.role);
  const named = labels(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`),
  );
  const statements = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  const permissions = statements.flatMap((statement) =>
    asList(statement.Action).flatMap((action) =>
      asList(statement.Resource).map(
        (resource) =>
          `${action} on ${render(resource, named)}` +
          (statement.Condition === undefined ? '' : ` if ${JSON.stringify(statement.Condition)}`),
      ),
    ),
  );
  return { roleId, statements, permissions };
}

describe.each([sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS])(
  'least-privilege function roles (%s saga)',
  (workflowType) => {
    let stack: OrderBackboneStack;
    let template: Template;
    beforeAll(() => {
      const app = new App({ context: SKIP_BUNDLING });
      stack = new OrderBackboneStack(app, 'OrderBackbone', { model: appModel, workflowType });
      template = Template.fromStack(stack);
    });

    it('has an expected permission list for every declared function, and for no other', () => {
      // Prepare
      const declared = appModel.functions.map((fn) => fn.name).sort();

      // Act
      const listed = Object.keys(EXPECTED_PERMISSIONS).sort();

      // Assess
      expect(listed).toEqual(declared);
    });

    it.each(appModel.functions.map((fn) => fn.name))(
      'gives %s exactly the permissions its code uses',
      (name) => {
        // Prepare
        const expected = [...(EXPECTED_PERMISSIONS[name] ?? [])].sort();

        // Act
        const { permissions } = roleOf(stack, template, name);

        // Assess
        expect(expected.length).toBeGreaterThan(0);
        expect([...permissions].sort()).toEqual(expected);
        expect(new Set(permissions).size, 'a permission granted twice').toBe(permissions.length);
      },
    );

    it.each(appModel.functions.map((fn) => fn.name))(
      'gives %s no wildcard action, no deny-list and "*" only where AWS requires it',
      (name) => {
        // Prepare
        const { statements } = roleOf(stack, template, name);

        // Act
        const onAnyResource = statements
          .filter((statement) => asList(statement.Resource).includes('*'))
          .flatMap((statement) => asList(statement.Action));

        // Assess
        for (const statement of statements) {
          expect(statement.Effect).toBe('Allow');
          expect(statement.NotAction).toBeUndefined();
          expect(statement.NotResource).toBeUndefined();
          for (const action of asList(statement.Action)) expect(action, name).not.toContain('*');
        }
        expect(onAnyResource.sort()).toEqual(actionsOnAnyResource(name).sort());
      },
    );

    it.each(appModel.functions.map((fn) => fn.name))(
      'gives %s a role of its own that only Lambda assumes, with no managed or inline policy',
      (name) => {
        // Prepare
        const { roleId } = roleOf(stack, template, name);

        // Act
        const role = template.toJSON().Resources[roleId];
        const attachedElsewhere = Object.values(template.findResources('AWS::IAM::Policy')).filter(
          (policy) =>
            JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`) &&
            (policy.Properties.Roles as unknown[]).length !== 1,
        );
        const sharedWith = appModel.functions
          .filter((other) => other.name !== name)
          .filter((other) => logicalIdOf(stack.functions.get(other.name)?.role) === roleId);

        // Assess
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        expect(role.Properties.Policies).toBeUndefined();
        expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ]);
        expect(attachedElsewhere).toEqual([]);
        expect(sharedWith).toEqual([]);
      },
    );
  },
);
