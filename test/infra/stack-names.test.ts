import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIP_BUNDLING } from '../support/synth';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The property that holds the physical name of each resource type whose name must be unique in an account and
 * region. A type of the template in neither this table nor {@link NAMED_WITHIN_A_PARENT} fails the test, so a new
 * kind of resource is looked at before it can clash with another stack's.
 */
const ACCOUNT_WIDE_NAME: Readonly<Record<string, string>> = {
  'AWS::ApiGatewayV2::Api': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::CloudWatch::Dashboard': 'DashboardName',
  'AWS::Cognito::UserPool': 'UserPoolName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::Events::EventBus': 'Name',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::Scheduler::ScheduleGroup': 'Name',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
};

/** Types whose names, if any, live inside another resource of the same stack (an API, a role, a pool). */
const NAMED_WITHIN_A_PARENT = new Set([
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Stage',
  'AWS::Cognito::UserPoolClient',
  'AWS::IAM::Policy',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::Permission',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::QueuePolicy',
]);

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** Synthesizes the app as `cdk deploy -c stackName=<name>` would, without bundling, and returns its resources. */
function synthesizeApp(outdir: string, stackName: string): Record<string, Resource> {
  const tsx = path.join(REPOSITORY_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const assembly = path.join(outdir, stackName);
  execFileSync(process.execPath, [tsx, 'bin/app.ts'], {
    cwd: REPOSITORY_ROOT,
    env: {
      ...process.env,
      CDK_OUTDIR: assembly,
      CDK_CONTEXT_JSON: JSON.stringify({ ...SKIP_BUNDLING, stackName }),
    },
    stdio: 'pipe',
  });
  const template = JSON.parse(readFileSync(path.join(assembly, `${stackName}.template.json`), 'utf8'));
  return template.Resources as Record<string, Resource>;
}

/** Each resource's physical name as the template states it (a literal, or a reference whose text is compared). */
function physicalNames(resources: Record<string, Resource>): Map<string, string> {
  const names = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const property = ACCOUNT_WIDE_NAME[resource.Type];
    const name = property === undefined ? undefined : resource.Properties?.[property];
    if (name !== undefined) names.set(logicalId, JSON.stringify(name));
  }
  return names;
}

describe('two stacks of the app in one account and region', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'order-backbone-names-'));
  let staging: Record<string, Resource>;
  let production: Record<string, Resource>;
  beforeAll(() => {
    staging = synthesizeApp(outdir, 'orders-staging');
    production = synthesizeApp(outdir, 'orders-prod');
  });
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('share no physical name', () => {
    // Prepare
    const productionNames = new Set(physicalNames(production).values());

    // Act
    const shared = [...physicalNames(staging)].filter(([, name]) => productionNames.has(name));

    // Assess
    expect(physicalNames(staging).size).toBeGreaterThan(0);
    expect(shared).toEqual([]);
  });

  it('know, for every resource type they hold, whether its name is account-wide', () => {
    // Prepare
    const types = new Set(Object.values(staging).map((resource) => resource.Type));

    // Act
    const unknown = [...types].filter(
      (type) => ACCOUNT_WIDE_NAME[type] === undefined && !NAMED_WITHIN_A_PARENT.has(type),
    );

    // Assess
    expect(unknown).toEqual([]);
  });

  it('name the HTTP API after the stack, so each is found on the console', () => {
    // Act
    const apiNames = [staging, production].map((resources) =>
      Object.values(resources)
        .filter((resource) => resource.Type === 'AWS::ApiGatewayV2::Api')
        .map((resource) => resource.Properties?.Name),
    );

    // Assess
    expect(apiNames).toEqual([['orders-staging'], ['orders-prod']]);
  });

  it('refuses a stack name CloudFormation would refuse', () => {
    // Act
    const synth = () => synthesizeApp(outdir, 'orders_prod');

    // Assess
    expect(synth).toThrow(/context stackName must start with a letter/);
  });
});
