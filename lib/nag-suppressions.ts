import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { DeadLetterQueue } from './constructs/dead-letter-queue';
import { ModelStateMachine } from './constructs/model-state-machine';
import type { AppModel } from './model';
import type { OrderBackboneStack } from './stack';

/**
 * Every cdk-nag finding this stack accepts, with the reason, in one place for review. Each one is acknowledged on
 * the narrowest construct that raises it (a route, a role, a queue), never on the stack, and each IAM5 wildcard by
 * its exact finding id (`AwsSolutions-IAM5[Resource::...]`), so a new wildcard elsewhere, or a different one on
 * the same role, still fails synth. `test/infra/cdk-nag.test.ts` fails on any finding not listed here and on any
 * entry here that no longer matches a finding.
 */
export interface NagSuppression {
  /** The construct the acknowledgement is recorded on; it covers the CloudFormation resources beneath it. */
  readonly construct: IConstruct;
  /** The rule id, with the finding in brackets for rules that report several, e.g. `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  readonly reason: string;
}

/** The secrets whose values external providers issue, so that only the provider can rotate them. */
export const PROVIDER_SECRETS = [
  'payment-webhook-secret',
  'payment-provider-api-key',
  'logistics-webhook-secret',
] as const;

const REASONS = {
  signedWebhook:
    "Declared authorization 'none' in lib/model.ts: called by an external provider that cannot obtain customer " +
    'tokens; the handler authenticates every request by its HMAC-SHA256 signature over the raw body with a ' +
    '300 s tolerance and rejects unsigned ones with 401.',
  optionalMfa:
    'MFA is optional (TOTP) rather than required: shop customers choose it; requiring it at checkout loses ' +
    'orders (docs/decisions.md, customers are JWT subjects).',
  essentialsPlan:
    'Threat protection needs the Plus feature plan, billed per monthly active user; Essentials is chosen and an ' +
    'operator can move a shop that needs it to Plus (docs/decisions.md, customers are JWT subjects).',
  providerSecret:
    'The value is issued by an external provider (webhook signing secret or API key) and can only be rotated ' +
    "in the provider's dashboard; a rotation Lambda could not obtain a new value. Rotate by putting the new " +
    'value in (docs/deploy.md); functions read it again within 5 minutes.',
  xrayOnFunction:
    'X-Ray tracing is active: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
    'permissions, so AWS requires Resource "*" for them. No other action of this role has a "*" resource ' +
    '(test/infra/least-privilege.test.ts fails if one does, as this acknowledgement would hide it).',
  xrayAndStreamListingOnFunction:
    'X-Ray tracing is active and a DynamoDB stream triggers the function: xray:PutTraceSegments, ' +
    "xray:PutTelemetryRecords and dynamodb:ListStreams (which Lambda's stream poller calls) support no " +
    'resource-level permissions, so AWS requires Resource "*" for them. No other action of this role has a "*" ' +
    'resource (test/infra/least-privilege.test.ts fails if one does, as this acknowledgement would hide it).',
  schedulesOfGroup:
    'The function creates and deletes one one-time schedule per order, named at run time from the order id, so ' +
    'the resource is every schedule of this one group (schedule/<group>/*) and no other group.',
  schedulerTargetQualifiedArn:
    "aws-scheduler-targets' LambdaInvoke grants invoke on the function and on its qualified ARNs (<fn>:*, its " +
    'versions and aliases); the wildcard stays within this one function, which the schedule invokes unqualified.',
  stateMachineTaskQualifiedArn:
    'grantInvoke covers the task function and its qualified ARNs (<fn>:*, versions and aliases) so that a Task ' +
    'may name a version; the wildcard stays within this one function of the saga.',
  stateMachineLogsAndTracing:
    'Step Functions log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ' +
    'ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray ' +
    '(xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no ' +
    'resource-level permissions; AWS documents Resource "*" for both.',
  standardWorkflowErrorLogs:
    'A STANDARD workflow keeps its full execution history (every state with input and output) for 90 days, ' +
    'which DescribeExecution, GetExecutionHistory and the ops CLI read; logging ALL events would copy order ' +
    'details into CloudWatch Logs at per-GB cost. It logs ERROR events, without execution data. EXPRESS logs ALL.',
  deadLetterDestination:
    'This queue is itself a dead-letter destination (Lambda on-failure destination or Scheduler dead-letter ' +
    'queue), which cdk-nag cannot see as it is not named in a redrive policy. It keeps messages 14 days and ' +
    'alarms on the first one; a dead-letter queue of its own would only hide them one level deeper.',
} as const;

function logicalId(construct: IConstruct): string {
  const resource = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnElement))
    throw new Error(`no CloudFormation resource at ${construct.node.path}`);
  return Stack.of(construct).getLogicalId(resource);
}

/** cdk-nag's finding for a wildcard on a function's qualified ARNs: `Resource::<LogicalId.Arn>:*`. */
function qualifiedArnFinding(fn: lambda.IFunction): string {
  return `AwsSolutions-IAM5[Resource::<${logicalId(fn)}.Arn>:*]`;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`nag suppressions: ${what} is not in the stack`);
  return value;
}

/** The routes declared `authorization: 'none'`: provider webhooks, authenticated by their signatures. */
export function signedWebhookRoutes(model: AppModel): string[] {
  return model.functions.flatMap((declaration) =>
    declaration.triggers.flatMap((trigger) =>
      trigger.type === 'http' && trigger.authorization === 'none'
        ? [`${trigger.method} ${trigger.path}`]
        : [],
    ),
  );
}

function routeSuppressions(stack: OrderBackboneStack, model: AppModel): NagSuppression[] {
  const routes = new Map(
    stack.httpApi.api.node.children
      .filter((child): child is apigwv2.HttpRoute => child instanceof apigwv2.HttpRoute)
      .map((route) => [(route.node.defaultChild as apigwv2.CfnRoute).routeKey, route]),
  );
  return signedWebhookRoutes(model).map((key) => ({
    construct: required(routes.get(key), `route ${key}`),
    id: 'AwsSolutions-APIG4',
    reason: REASONS.signedWebhook,
  }));
}

/** The Cognito user pool exists only when no external issuer is configured. */
function userPoolSuppressions(stack: OrderBackboneStack): NagSuppression[] {
  const { userPool } = stack.customerIdentity;
  if (userPool === undefined) return [];
  return [
    { construct: userPool, id: 'AwsSolutions-COG2', reason: REASONS.optionalMfa },
    { construct: userPool, id: 'AwsSolutions-COG8', reason: REASONS.essentialsPlan },
  ];
}

function functionSuppressions(stack: OrderBackboneStack, model: AppModel): NagSuppression[] {
  return model.functions.flatMap((declaration) => {
    const fn = required(stack.functions.get(declaration.name), `function ${declaration.name}`);
    const role = required(fn.role, `role of function ${declaration.name}`);
    const suppressions: NagSuppression[] = [
      {
        construct: role,
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: declaration.triggers.some((trigger) => trigger.type === 'stream')
          ? REASONS.xrayAndStreamListingOnFunction
          : REASONS.xrayOnFunction,
      },
    ];
    for (const { timer } of declaration.access.timers ?? []) {
      // cdk-nag shows the group's name, a reference to the group, as the group's logical id.
      const groupResource = required(stack.timers.get(timer), `timer ${timer}`).group.node.defaultChild;
      const group = stack.getLogicalId(groupResource as CfnElement);
      suppressions.push({
        construct: role,
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/<${group}>/*]`,
        reason: REASONS.schedulesOfGroup,
      });
    }
    // The stream's on-failure queue lives under the function's construct (see `addTrigger` in lib/stack.ts).
    for (const child of required(fn.node.scope, `construct of ${declaration.name}`).node.children) {
      if (child instanceof DeadLetterQueue) {
        suppressions.push({
          construct: child.queue,
          id: 'AwsSolutions-SQS3',
          reason: REASONS.deadLetterDestination,
        });
      }
    }
    return suppressions;
  });
}

function schedulerTargetSuppressions(stack: OrderBackboneStack, model: AppModel): NagSuppression[] {
  const scheduled = model.functions.filter((fn) =>
    fn.triggers.some((trigger) => trigger.type === 'schedule'),
  );
  if (scheduled.length === 0) return [];
  // aws-scheduler-targets creates one role per target (named by a hash of its ARN), as a child of the stack; each
  // role's policy names the function it invokes.
  const roles = stack.node.children.filter(
    (child): child is iam.Role =>
      child instanceof iam.Role && child.node.id.startsWith('SchedulerRoleForTarget'),
  );
  return roles.flatMap((role) => {
    const policy = role.node.tryFindChild('DefaultPolicy');
    const granted = JSON.stringify(policy instanceof iam.Policy ? stack.resolve(policy.document) : null);
    return scheduled
      .map((fn) => required(stack.functions.get(fn.name), `function ${fn.name}`))
      .filter((fn) => granted.includes(`"${logicalId(fn)}"`))
      .map((fn) => ({
        construct: role,
        id: qualifiedArnFinding(fn),
        reason: REASONS.schedulerTargetQualifiedArn,
      }));
  });
}

function stateMachineSuppressions(stack: OrderBackboneStack): NagSuppression[] {
  return [...stack.stateMachines.values()].flatMap((machine) => {
    const construct = machine.node.scope;
    if (!(construct instanceof ModelStateMachine)) return [];
    const suppressions: NagSuppression[] = [
      {
        construct: machine.role,
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: REASONS.stateMachineLogsAndTracing,
      },
      ...construct.invokedFunctionNames.map((name) => ({
        construct: machine.role,
        id: qualifiedArnFinding(required(stack.functions.get(name), `function ${name}`)),
        reason: REASONS.stateMachineTaskQualifiedArn,
      })),
    ];
    if (machine.stateMachineType === sfn.StateMachineType.STANDARD) {
      suppressions.push({
        construct: machine,
        id: 'AwsSolutions-SF1',
        reason: REASONS.standardWorkflowErrorLogs,
      });
    }
    return suppressions;
  });
}

/** Every suppression of the stack built from `model`; see {@link NagSuppression}. */
export function nagSuppressions(stack: OrderBackboneStack, model: AppModel): NagSuppression[] {
  return [
    ...routeSuppressions(stack, model),
    ...userPoolSuppressions(stack),
    ...PROVIDER_SECRETS.map((name) => ({
      construct: required(stack.secrets.get(name), `secret ${name}`),
      id: 'AwsSolutions-SMG4',
      reason: REASONS.providerSecret,
    })),
    ...functionSuppressions(stack, model),
    ...[...stack.timers.values()].map((timer) => ({
      construct: timer.deadLetterQueue.queue,
      id: 'AwsSolutions-SQS3',
      reason: REASONS.deadLetterDestination,
    })),
    ...schedulerTargetSuppressions(stack, model),
    ...stateMachineSuppressions(stack),
  ];
}

/** Records every suppression with CDK's `Validations.of(construct).acknowledge`, which cdk-nag 3 reads. */
export function acknowledgeNagFindings(stack: OrderBackboneStack, model: AppModel): void {
  for (const { construct, id, reason } of nagSuppressions(stack, model)) {
    Validations.of(construct).acknowledge({ id, reason });
  }
}
