import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { appModel } from '../../lib/model';
import { acknowledgeNagFindings, nagSuppressions } from '../../lib/nag-suppressions';
import { OrderBackboneStack } from '../../lib/stack';
import { SKIP_BUNDLING } from '../support/synth';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** cdk-nag itself accepts 10 characters; a reason a reviewer can judge needs a sentence. */
const MINIMUM_REASON_LENGTH = 60;

interface Finding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

interface Checked {
  readonly app: App;
  readonly stack: OrderBackboneStack;
  /** What `app.synth()` threw (the validation report), if anything. */
  readonly synthError: string | undefined;
  readonly findings: readonly Finding[];
}

function findingsOf(scope: IConstruct): Finding[] {
  return new AwsSolutionsChecks().validateScope(scope).violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({
      rule: violation.ruleName,
      severity: violation.severity ?? 'unknown',
      path: resource.constructPath ?? '(no path)',
    })),
  );
}

function formatted(findings: readonly Finding[]): string {
  return findings.map((finding) => `${finding.severity} ${finding.rule} at ${finding.path}`).join('\n');
}

function synthError(app: App): string | undefined {
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The real stack as `bin/app.ts` builds it: cdk-nag's AWS Solutions pack registered as a validation plugin, the
 * acknowledgements of lib/nag-suppressions.ts recorded (unless `acknowledge` is false), then synthesized.
 */
function checkedStack(workflowType: sfn.StateMachineType, acknowledge = true): Checked {
  const app = new App({ context: SKIP_BUNDLING });
  const stack = new OrderBackboneStack(app, 'OrderBackbone', { model: appModel, workflowType });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  if (acknowledge) acknowledgeNagFindings(stack, appModel);
  const error = synthError(app);
  return { app, stack, synthError: error, findings: findingsOf(app) };
}

/** Every acknowledgement recorded in the construct tree: the construct's path, the rule id and the reason. */
function acknowledgements(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([key, reason]) => ({
          path: construct.node.path,
          id: key.replace(/^annotation::/i, ''),
          reason: String(reason),
        })),
      ),
  );
}

const WORKFLOW_TYPES = [sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS] as const;

describe('cdk-nag AwsSolutions checks on the stack built from lib/model.ts', () => {
  it.each(WORKFLOW_TYPES)(
    'finds nothing unacknowledged with a %s saga, and synth succeeds',
    (workflowType) => {
      // Prepare
      const expected: Finding[] = [];

      // Act
      const checked = checkedStack(workflowType);

      // Assess
      expect(checked.findings, `unacknowledged findings:\n${formatted(checked.findings)}`).toEqual(expected);
      expect(checked.synthError).toBeUndefined();
    },
  );

  it.each(WORKFLOW_TYPES)(
    'gives every acknowledgement of a %s stack a reason a reviewer can judge',
    (workflowType) => {
      // Prepare
      const { app } = checkedStack(workflowType);

      // Act
      const recorded = acknowledgements(app);

      // Assess
      expect(recorded.length).toBeGreaterThan(0);
      for (const { path: where, id, reason } of recorded) {
        expect(id, where).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
        expect(reason.trim().length, `${id} at ${where}: "${reason}"`).toBeGreaterThanOrEqual(
          MINIMUM_REASON_LENGTH,
        );
      }
    },
  );

  it.each(WORKFLOW_TYPES)(
    'acknowledges only findings that exist (no stale suppression) with a %s saga',
    (workflowType) => {
      // Prepare
      const unacknowledged = checkedStack(workflowType, false);
      const { stack } = checkedStack(workflowType);

      // Act
      const suppressions = nagSuppressions(stack, appModel).map(({ construct, id }) => ({
        id,
        path: construct.node.path,
      }));

      // Assess
      expect(unacknowledged.synthError).toMatch(/AwsSolutions/);
      const stale = suppressions.filter(
        ({ id, path: where }) =>
          !unacknowledged.findings.some(
            (finding) =>
              finding.rule === id && (finding.path === where || finding.path.startsWith(`${where}/`)),
          ),
      );
      expect(stale, `suppressions that match no finding:\n${JSON.stringify(stale, undefined, 2)}`).toEqual(
        [],
      );
      expect(acknowledgements(stack).length).toBe(suppressions.length);
    },
  );

  it('still fails on a new wildcard on a role whose other wildcards are acknowledged', () => {
    // Prepare
    const app = new App({ context: SKIP_BUNDLING });
    const stack = new OrderBackboneStack(app, 'OrderBackbone', { model: appModel });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    acknowledgeNagFindings(stack, appModel);
    const orders = stack.tables.get('orders');
    if (orders === undefined) throw new Error('no orders table');

    // Act
    stack.functions
      .get('create-order')
      ?.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${orders.tableArn}/index/*`] }),
      );
    const error = synthError(app);

    // Assess
    expect(error).toMatch(/wildcard permissions/);
    expect(formatted(findingsOf(app))).toMatch(
      /^error AwsSolutions-IAM5\[Resource::<OrdersTable\w+\.Arn>\/index\/\*\] at OrderBackbone\/CreateOrderFunction\/ServiceRole\/DefaultPolicy\/Resource$/,
    );
  });
});

describe('cdk-nag on a stack with known problems', () => {
  it('fails synth on an unencrypted queue without a dead-letter queue or TLS policy', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'Careless');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act
    const error = synthError(app);

    // Assess
    expect(error).toMatch(/AwsSolutions/);
    expect(findingsOf(app).map((finding) => `${finding.rule} ${finding.path}`)).toEqual([
      'AwsSolutions-SQS2 Careless/Plain/Resource',
      'AwsSolutions-SQS3 Careless/Plain/Resource',
      'AwsSolutions-SQS4 Careless/Plain/Resource',
    ]);
  });
});

describe('bin/app.ts', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'order-backbone-nag-'));
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it.each([
    {
      workflowType: 'STANDARD',
      removalPolicy: undefined,
      deletionPolicy: 'Retain',
      capacity: {},
      billingMode: 'PAY_PER_REQUEST',
    },
    {
      workflowType: 'EXPRESS',
      removalPolicy: 'DESTROY',
      deletionPolicy: 'Delete',
      capacity: { tableCapacity: 'PROVISIONED', tableWriteCapacity: '5-2000', tableReadCapacity: '5-1000' },
      billingMode: 'PROVISIONED',
    },
  ])(
    'synthesizes with the checks on and nothing unacknowledged ($workflowType, removalPolicy $removalPolicy, $billingMode)',
    ({ workflowType, removalPolicy, deletionPolicy, capacity, billingMode }) => {
      // Prepare
      const tsx = path.join(REPOSITORY_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const assembly = path.join(outdir, workflowType);
      const environment = {
        ...process.env,
        CDK_OUTDIR: assembly,
        CDK_CONTEXT_JSON: JSON.stringify({ ...SKIP_BUNDLING, workflowType, removalPolicy, ...capacity }),
      };

      // Act
      execFileSync(process.execPath, [tsx, 'bin/app.ts'], {
        cwd: REPOSITORY_ROOT,
        env: environment,
        encoding: 'utf8',
        stdio: 'pipe',
      });
      const template = JSON.parse(readFileSync(path.join(assembly, 'OrderBackbone.template.json'), 'utf8'));

      // Assess
      const resources = Object.values(
        template.Resources as Record<string, { Type: string; DeletionPolicy?: string }>,
      );
      const kept = resources.filter((resource) =>
        ['AWS::DynamoDB::GlobalTable', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup'].includes(
          resource.Type,
        ),
      );
      expect(kept.length).toBeGreaterThan(0);
      expect(
        resources
          .filter((resource) => resource.Type === 'AWS::DynamoDB::GlobalTable')
          .map(
            (resource) =>
              (resource as unknown as { Properties: { BillingMode: string } }).Properties.BillingMode,
          ),
      ).toEqual([billingMode]);
      expect(kept.map((resource) => resource.DeletionPolicy)).toEqual(kept.map(() => deletionPolicy));
      expect(
        resources
          .filter((resource) => resource.Type === 'AWS::StepFunctions::StateMachine')
          .map(
            (resource) =>
              (resource as unknown as { Properties: { StateMachineType: string } }).Properties
                .StateMachineType,
          ),
      ).toEqual([workflowType]);
    },
    120_000,
  );
});
