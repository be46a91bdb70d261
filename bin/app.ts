import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ExternalIssuer } from '../lib/constructs/customer-identity';
import { tableCapacityFrom } from '../lib/constructs/model-table';
import { appModel, settingNames, withMaxReceiveCount } from '../lib/model';
import { acknowledgeNagFindings } from '../lib/nag-suppressions';
import { DEFAULT_STACK_NAME } from '../lib/naming';
import { OrderBackboneStack } from '../lib/stack';

/** Every `{ setting }` the model declares, so `cdk synth -c PAYMENT_TIMEOUT_SECONDS=60` overrides its default. */
function settingsFromContext(app: App): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of settingNames(appModel)) {
    const value: unknown = app.node.tryGetContext(name);
    // cdk.json may hold a number where `-c` always yields a string; both mean the same setting.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      settings[name] = String(value);
    }
  }
  return settings;
}

/** `-c workflowType=EXPRESS` deploys the saga as an Express workflow; STANDARD (exactly-once, redrivable) by default. */
function workflowTypeFromContext(app: App): StateMachineType {
  const value: unknown = app.node.tryGetContext('workflowType') ?? 'STANDARD';
  if (value !== 'STANDARD' && value !== 'EXPRESS') {
    throw new Error(`context workflowType must be STANDARD or EXPRESS, not ${String(value)}`);
  }
  return value === 'EXPRESS' ? StateMachineType.EXPRESS : StateMachineType.STANDARD;
}

/** `-c alarmEmail=oncall@example.com` subscribes that address to the alarm topic. */
function alarmEmailFromContext(app: App): string | undefined {
  const value: unknown = app.node.tryGetContext('alarmEmail');
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(value)) {
    throw new Error(`context alarmEmail must be an email address, not ${String(value)}`);
  }
  return value;
}

/**
 * `-c removalPolicy=DESTROY` lets `cdk destroy` delete the table, the secrets and the log groups too, for a
 * throw-away stack; RETAIN (the default) keeps them, so that orders and payments outlive a mistaken destroy.
 */
function removalPolicyFromContext(app: App): RemovalPolicy {
  const value: unknown = app.node.tryGetContext('removalPolicy') ?? 'RETAIN';
  if (value !== 'RETAIN' && value !== 'DESTROY') {
    throw new Error(`context removalPolicy must be RETAIN or DESTROY, not ${String(value)}`);
  }
  return value === 'DESTROY' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}

/**
 * `-c jwtIssuer=https://issuer.example -c jwtAudience=client-a,client-b` makes the order routes trust that
 * OpenID Connect issuer instead of the Cognito user pool the stack creates by default.
 */
function externalIssuerFromContext(app: App): ExternalIssuer | undefined {
  const issuer: unknown = app.node.tryGetContext('jwtIssuer');
  const audience: unknown = app.node.tryGetContext('jwtAudience');
  if (issuer === undefined && audience === undefined) return undefined;
  if (typeof issuer !== 'string' || typeof audience !== 'string') {
    throw new Error(
      'context jwtIssuer and jwtAudience go together: set both (the audience comma-separated) or neither',
    );
  }
  return { issuer, audience: audience.split(',').map((value) => value.trim()) };
}

/**
 * `-c stackName=orders-staging` names the stack, so that several (staging, production) deploy side by side in one
 * account and region; nothing in the stack has a fixed physical name.
 */
function stackNameFromContext(app: App): string {
  const value: unknown = app.node.tryGetContext('stackName') ?? DEFAULT_STACK_NAME;
  // CloudFormation's own rule for stack names.
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(value)) {
    throw new Error(
      `context stackName must start with a letter and hold only letters, digits and hyphens (at most 128), not ${String(value)}`,
    );
  }
  return value;
}

const app = new App();
const stackName = stackNameFromContext(app);
const externalIssuer = externalIssuerFromContext(app);
const maxReceiveCount: unknown = app.node.tryGetContext('maxReceiveCount');
const model = withMaxReceiveCount(
  appModel,
  maxReceiveCount === undefined ? undefined : Number(maxReceiveCount),
);
const stack = new OrderBackboneStack(app, stackName, {
  model,
  // The `service` dimension of the business metrics, so that two stacks' alarms never read each other's orders.
  serviceName: stackName,
  settings: settingsFromContext(app),
  workflowType: workflowTypeFromContext(app),
  alarmEmail: alarmEmailFromContext(app),
  removalPolicy: removalPolicyFromContext(app),
  // `-c tableCapacity=PROVISIONED -c tableWriteCapacity=5-2000 -c tableReadCapacity=5-1000`; on-demand otherwise.
  tableCapacity: tableCapacityFrom({
    tableCapacity: app.node.tryGetContext('tableCapacity'),
    tableWriteCapacity: app.node.tryGetContext('tableWriteCapacity'),
    tableReadCapacity: app.node.tryGetContext('tableReadCapacity'),
  }),
  ...(externalIssuer === undefined ? {} : { externalIssuer }),
});
// cdk-nag's AWS Solutions rules run on every synth (and deploy); any finding not acknowledged with a reason in
// lib/nag-suppressions.ts fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
acknowledgeNagFindings(stack, model);
app.synth();
