import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globCovers, resolveText } from '../../lib/deploy-check/arns';
import { ACCEPTED_CFN_LINT_RULES, CFN_LINT_VERSION, runCfnLint } from '../../lib/deploy-check/cfn-lint';
import { checkTemplate } from '../../lib/deploy-check/check';
import { DeployCheckError } from '../../lib/deploy-check/errors';
import { DEPLOY_REGIONS } from '../../lib/deploy-check/regions';
import { type Finding, RULES } from '../../lib/deploy-check/report';
import { DeployTemplate } from '../../lib/deploy-check/template';
import { appModel } from '../../lib/model';
import { runScript } from '../support/cli';
import { synthesize } from '../support/synth';

/**
 * The pre-deploy check (lib/deploy-check/, `npm run check:deploy`): the real template passes every rule in both
 * saga variants, and each rule fails on a copy of it with one fault injected, naming the rule and the resource.
 */

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
}
interface TemplateJson {
  Resources: Record<string, Resource>;
}
type Variant = 'STANDARD' | 'EXPRESS';

const templates = new Map<Variant, TemplateJson>();

function template(variant: Variant): TemplateJson {
  const json = templates.get(variant);
  if (json === undefined) throw new Error(`${variant} was not synthesized`);
  return structuredClone(json);
}

/** The logical id of the only resource of `type` for which `matches` holds. */
function idOf(
  json: TemplateJson,
  type: string,
  matches: (resource: Resource, id: string) => boolean = () => true,
): string {
  const ids = Object.entries(json.Resources)
    .filter(([id, resource]) => resource.Type === type && matches(resource, id))
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`${ids.length} resources of ${type} match, not 1`);
  return ids[0] as string;
}

function mentions(text: string): (resource: Resource) => boolean {
  return (resource) => JSON.stringify(resource).includes(text);
}

function resource(json: TemplateJson, id: string): Resource {
  const found = json.Resources[id];
  if (found === undefined) throw new Error(`no resource ${id}`);
  return found;
}

function statementsOf(json: TemplateJson, policyId: string): Record<string, unknown>[] {
  return (resource(json, policyId).Properties.PolicyDocument as { Statement: Record<string, unknown>[] })
    .Statement;
}

/** The queue (not its dead-letter queue) whose logical id starts with `prefix`. */
/** The sweeper's recurring schedule, among the scheduled functions' ones. */
const sweeperSchedule = mentions('SweeperFunction');

function queueOf(prefix: string): (queue: Resource, id: string) => boolean {
  return (_queue, id) => id.startsWith(prefix) && !id.includes('DeadLetter');
}

function policyOfFunction(json: TemplateJson, functionName: string): string {
  return idOf(json, 'AWS::IAM::Policy', (policy) =>
    JSON.stringify(policy.Properties.Roles).includes(`${functionName}FunctionServiceRole`),
  );
}

function stateMachineId(json: TemplateJson): string {
  return idOf(json, 'AWS::StepFunctions::StateMachine');
}

function editDefinition(
  json: TemplateJson,
  edit: (states: Record<string, Record<string, unknown>>) => void,
): void {
  const machine = resource(json, stateMachineId(json));
  const definition = JSON.parse(machine.Properties.DefinitionString as string);
  edit(definition.States);
  machine.Properties.DefinitionString = JSON.stringify(definition);
}

/** A fault that sets `property` of the only resource of `type` that `matches`; the finding names that resource. */
function setProperty(
  type: string,
  property: string,
  value: unknown,
  matches?: (resource: Resource, id: string) => boolean,
): Fault['inject'] {
  return (json) => {
    const id = idOf(json, type, matches);
    resource(json, id).Properties[property] = value;
    return id;
  };
}

/** A fault that edits the statement granting `action` to `functionName`; the finding names its policy. */
function editStatement(
  functionName: string,
  action: string,
  edit: (statement: Record<string, unknown>, json: TemplateJson) => void,
): Fault['inject'] {
  return (json) => {
    const policy = policyOfFunction(json, functionName);
    const statement = statementsOf(json, policy).find((candidate) => candidate.Action === action);
    if (statement === undefined) throw new Error(`${functionName} is granted no ${action}`);
    edit(statement, json);
    return policy;
  };
}

/** Drops the state machine role's statements that mention `text` (a function's invoke grant). */
function removeMachineGrant(json: TemplateJson, text: string): void {
  const policy = idOf(json, 'AWS::IAM::Policy', mentions('StateMachineRole'));
  const document = resource(json, policy).Properties.PolicyDocument as { Statement: unknown[] };
  document.Statement = document.Statement.filter((statement) => !JSON.stringify(statement).includes(text));
}

const keys = (findings: readonly Finding[]) => [...new Set(findings.map((f) => `${f.rule} ${f.logicalId}`))];

interface Fault {
  readonly rule: keyof typeof RULES;
  readonly fault: string;
  readonly variant: Variant;
  /** Injects the fault into `json` and returns the logical id the finding must name. */
  readonly inject: (json: TemplateJson) => string;
}

const FAULTS: readonly Fault[] = [
  {
    rule: 'apigw/stage-before-route',
    fault: "the stage's DependsOn removed",
    variant: 'STANDARD',
    inject: (json) => {
      const stage = idOf(json, 'AWS::ApiGatewayV2::Stage');
      delete resource(json, stage).DependsOn;
      return stage;
    },
  },
  {
    rule: 'apigw/route-setting-without-route',
    fault: 'RouteSettings for a route the API does not have',
    variant: 'STANDARD',
    inject: (json) => {
      const stage = idOf(json, 'AWS::ApiGatewayV2::Stage');
      const settings = resource(json, stage).Properties.RouteSettings as Record<string, unknown>;
      settings['DELETE /orders/{orderId}'] = { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 1 };
      return stage;
    },
  },
  {
    rule: 'iam/unknown-action',
    fault: 'sqs:SendMessages',
    variant: 'STANDARD',
    inject: editStatement('LogisticsWebhook', 'sqs:SendMessage', (send) => {
      send.Action = 'sqs:SendMessages';
    }),
  },
  {
    rule: 'iam/resource-type-mismatch',
    fault: "dynamodb:GetItem on the table's stream ARN",
    variant: 'STANDARD',
    inject: (json) => {
      const policy = policyOfFunction(json, 'OutboxRelay');
      const table = idOf(json, 'AWS::DynamoDB::GlobalTable');
      statementsOf(json, policy).push({
        Action: 'dynamodb:GetItem',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [table, 'StreamArn'] },
      });
      return policy;
    },
  },
  {
    rule: 'iam/wildcard-only-on-arn',
    fault: "dynamodb:ListStreams on the table's stream ARN (what DynamoEventSource granted)",
    variant: 'STANDARD',
    inject: editStatement('OutboxRelay', 'dynamodb:ListStreams', (list, json) => {
      list.Resource = { 'Fn::GetAtt': [idOf(json, 'AWS::DynamoDB::GlobalTable'), 'StreamArn'] };
    }),
  },
  {
    rule: 'iam/unknown-condition-key',
    fault: 'iam:PassedToServices in the PassRole condition',
    variant: 'STANDARD',
    inject: editStatement('CreateOrder', 'iam:PassRole', (pass) => {
      pass.Condition = { StringEquals: { 'iam:PassedToServices': 'scheduler.amazonaws.com' } };
    }),
  },
  {
    rule: 'iam/condition-key-not-applicable',
    fault: 'dynamodb:LeadingKeys as a condition of sqs:SendMessage',
    variant: 'STANDARD',
    inject: editStatement('LogisticsWebhook', 'sqs:SendMessage', (send) => {
      send.Condition = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['x'] } };
    }),
  },
  {
    rule: 'sfn/integration-not-allowed',
    fault: 'a .sync task in the EXPRESS workflow',
    variant: 'EXPRESS',
    inject: (json) => {
      editDefinition(json, (states) => {
        const task = states.CreateFulfillmentOrder as Record<string, unknown>;
        task.Resource = 'arn:aws:states:::states:startExecution.sync:2';
        task.Parameters = { StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:child' };
      });
      return stateMachineId(json);
    },
  },
  {
    rule: 'sfn/missing-invoke-permission',
    fault: "the role's invoke grant on fulfillment-order removed",
    variant: 'STANDARD',
    inject: (json) => {
      removeMachineGrant(json, 'FulfillmentOrderFunction');
      return stateMachineId(json);
    },
  },
  {
    rule: 'sfn/missing-invoke-permission',
    fault: 'a lambda:invoke task naming create-order, which the role may not invoke',
    variant: 'EXPRESS',
    inject: (json) => {
      const machine = resource(json, stateMachineId(json));
      const createOrder = idOf(json, 'AWS::Lambda::Function', (_, id) =>
        id.startsWith('CreateOrderFunction'),
      );
      const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
      substitutions.FunctionArn_create_order = { 'Fn::GetAtt': [createOrder, 'Arn'] };
      editDefinition(json, (states) => {
        const task = states.PickGoods as Record<string, unknown>;
        task.Resource = 'arn:aws:states:::lambda:invoke';
        task.Parameters = { FunctionName: `\${FunctionArn_create_order}`, 'Payload.$': '$' };
      });
      return stateMachineId(json);
    },
  },
  {
    rule: 'sfn/missing-invoke-permission',
    fault: 'a definition joined from Fn::GetAtt tokens (as the CDK writes one), its invoke grant removed',
    variant: 'STANDARD',
    inject: (json) => {
      const machineId = stateMachineId(json);
      const machine = resource(json, machineId);
      const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
      const text = machine.Properties.DefinitionString as string;
      const parts = text
        .split(/\$\{(FunctionArn_\w+)\}/)
        .map((part, index) => (index % 2 === 0 ? part : substitutions[part]));
      machine.Properties.DefinitionString = { 'Fn::Join': ['', parts] };
      delete machine.Properties.DefinitionSubstitutions;
      removeMachineGrant(json, 'TransportShipFunction');
      return machineId;
    },
  },
  {
    rule: 'sfn/unknown-task-resource',
    fault: 'a Task resource that is an SQS queue ARN',
    variant: 'STANDARD',
    inject: (json) => {
      editDefinition(json, (states) => {
        (states.PickGoods as Record<string, unknown>).Resource = 'arn:aws:sqs:us-east-1:123456789012:picks';
      });
      return stateMachineId(json);
    },
  },
  {
    rule: 'sfn/definition-unreadable',
    fault: 'a definition cut short',
    variant: 'STANDARD',
    inject: (json) => {
      const machine = stateMachineId(json);
      resource(json, machine).Properties.DefinitionString =
        '{"StartAt": "CreateFulfillmentOrder", "States": {';
      return machine;
    },
  },
  {
    rule: 'scheduler/invalid-expression',
    fault: 'rate(1 minutes (unclosed)',
    variant: 'STANDARD',
    inject: setProperty('AWS::Scheduler::Schedule', 'ScheduleExpression', 'rate(1 minutes', sweeperSchedule),
  },
  {
    rule: 'scheduler/invalid-name',
    fault: 'a schedule group named "payment timeouts"',
    variant: 'STANDARD',
    inject: setProperty('AWS::Scheduler::ScheduleGroup', 'Name', 'payment timeouts'),
  },
  {
    rule: 'scheduler/invalid-dead-letter-arn',
    fault: 'the sweeper schedule dead-lettering to a FIFO queue',
    variant: 'STANDARD',
    inject: (json) => {
      const schedule = idOf(json, 'AWS::Scheduler::Schedule', sweeperSchedule);
      const fifo = idOf(json, 'AWS::SQS::Queue', queueOf('OrderEventsFifoQueue'));
      const target = resource(json, schedule).Properties.Target as Record<string, unknown>;
      target.DeadLetterConfig = { Arn: { 'Fn::GetAtt': [fifo, 'Arn'] } };
      return schedule;
    },
  },
  {
    rule: 'sqs/redrive-type-mismatch',
    fault: 'a FIFO queue redriving to a standard dead-letter queue',
    variant: 'STANDARD',
    inject: (json) => {
      const fifo = idOf(json, 'AWS::SQS::Queue', queueOf('StatusEventsFifoQueue'));
      const standard = idOf(json, 'AWS::SQS::Queue', (_, id) =>
        id.startsWith('PaymentTimeoutsTimerDeadLetter'),
      );
      const redrive = resource(json, fifo).Properties.RedrivePolicy as Record<string, unknown>;
      redrive.deadLetterTargetArn = { 'Fn::GetAtt': [standard, 'Arn'] };
      return fifo;
    },
  },
  {
    rule: 'lambda/fifo-batch-size',
    fault: 'batch size 20 on order-events.fifo',
    variant: 'STANDARD',
    inject: setProperty('AWS::Lambda::EventSourceMapping', 'BatchSize', 20, mentions('OrderEventsConsumer')),
  },
  {
    rule: 'lambda/fifo-batching-window',
    fault: 'a 5 s batching window on order-events.fifo',
    variant: 'STANDARD',
    inject: setProperty(
      'AWS::Lambda::EventSourceMapping',
      'MaximumBatchingWindowInSeconds',
      5,
      mentions('OrderEventsConsumer'),
    ),
  },
  {
    rule: 'lambda/sqs-visibility-timeout',
    fault: "status-events.fifo's visibility timeout below its consumer's timeout",
    variant: 'STANDARD',
    inject: (json) => {
      const queue = idOf(json, 'AWS::SQS::Queue', queueOf('StatusEventsFifoQueue'));
      resource(json, queue).Properties.VisibilityTimeout = 1;
      return idOf(json, 'AWS::Lambda::EventSourceMapping', mentions('StatusEventsConsumer'));
    },
  },
];

let workdir: string;

beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), 'deploy-check-test-'));
  for (const variant of ['STANDARD', 'EXPRESS'] as const) {
    const { template: synthesized } = synthesize(appModel, { workflowType: sfn.StateMachineType[variant] });
    templates.set(variant, synthesized.toJSON() as TemplateJson);
  }
});

afterAll(() => {
  rmSync(workdir, { recursive: true, force: true });
});

describe('the pre-deploy check', () => {
  it.each(['STANDARD', 'EXPRESS'] as const)('finds nothing in the %s template', async (variant) => {
    // Prepare
    const json = template(variant);

    // Act
    const findings = await checkTemplate(json);

    // Assess
    expect(findings).toEqual([]);
  });

  it('has a fault for every rule', () => {
    // Prepare
    const rules = Object.keys(RULES).sort();

    // Act
    const proven = [...new Set(FAULTS.map((fault) => fault.rule))].sort();

    // Assess
    expect(proven).toEqual(rules);
  });

  it.each(FAULTS.map((fault) => [fault.rule, fault.fault, fault] as const))(
    '%s: fails on %s, naming the resource',
    async (rule, _fault, { variant, inject }) => {
      // Prepare
      const json = template(variant);
      const logicalId = inject(json);

      // Act
      const findings = await checkTemplate(json);

      // Assess
      expect(keys(findings)).toEqual([`${rule} ${logicalId}`]);
    },
  );

  it('allows .sync and .waitForTaskToken integrations in a STANDARD workflow', async () => {
    // Prepare
    const json = template('STANDARD');
    editDefinition(json, (states) => {
      const task = states.CreateFulfillmentOrder as Record<string, unknown>;
      task.Resource = 'arn:aws:states:::states:startExecution.sync:2';
      task.Parameters = { StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:child' };
      (states.PickGoods as Record<string, unknown>).Resource =
        'arn:aws:states:::sqs:sendMessage.waitForTaskToken';
    });

    // Act
    const findings = await checkTemplate(json);

    // Assess
    expect(findings).toEqual([]);
  });

  it('names each route the stage does not wait for', async () => {
    // Prepare
    const json = template('STANDARD');
    const stage = idOf(json, 'AWS::ApiGatewayV2::Stage');
    const routes = Object.keys(json.Resources).filter(
      (id) => json.Resources[id]?.Type === 'AWS::ApiGatewayV2::Route',
    );
    const [kept, ...removed] = routes;
    resource(json, stage).DependsOn = kept === undefined ? [] : [kept];

    // Act
    const findings = await checkTemplate(json);

    // Assess
    expect(routes.length).toBe(6);
    expect(findings.map((finding) => finding.message.match(/route (\w+):/)?.[1]).sort()).toEqual(
      removed.sort(),
    );
  });
});

describe('ARN resolution', () => {
  it('resolves references to the ARN shape of their resource type', () => {
    // Prepare
    const json = template('STANDARD');
    const model = new DeployTemplate(json);
    const table = idOf(json, 'AWS::DynamoDB::GlobalTable');
    const fifo = idOf(json, 'AWS::SQS::Queue', queueOf('OrderEventsFifoQueue'));

    // Act
    const resolved = [
      resolveText(model, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/by-deadline']] }),
      resolveText(model, { 'Fn::GetAtt': [table, 'StreamArn'] }),
      resolveText(model, { 'Fn::GetAtt': [fifo, 'Arn'] }),
      resolveText(model, {
        'Fn::Sub': [`arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:\${Q}`, { Q: 'x' }],
      }),
      resolveText(model, { 'Fn::ImportValue': 'elsewhere' }),
    ];

    // Assess
    expect(resolved).toEqual([
      `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/index/by-deadline`,
      expect.stringMatching(new RegExp(`^arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/.+$`)),
      `arn:aws:sqs:us-east-1:123456789012:${fifo}.fifo`,
      'arn:aws:sqs:us-east-1:123456789012:x',
      '*',
    ]);
  });

  it('matches IAM resource patterns as IAM does', () => {
    // Prepare
    const fn = 'arn:aws:lambda:us-east-1:123456789012:function:pick';

    // Act
    const results = [
      globCovers(fn, fn),
      globCovers(`${fn}:*`, `${fn}:live`),
      globCovers(`${fn}:*`, fn),
      globCovers('arn:aws:lambda:*:*:function:p?ck', fn),
      globCovers('*', fn),
    ];

    // Assess
    expect(results).toEqual([true, true, false, true, true]);
  });
});

/** cfn-lint reads every region's schemas: seconds on an idle machine, much longer on a busy one. */
const CFN_LINT_TEST_TIMEOUT_MS = 180_000;

describe('cfn-lint', () => {
  it(`finds nothing but accepted rules in both templates for ${DEPLOY_REGIONS.join(', ')}, and names an invalid property`, {
    timeout: CFN_LINT_TEST_TIMEOUT_MS,
  }, async () => {
    // Prepare
    const paths = {
      standard: join(workdir, 'standard.json'),
      express: join(workdir, 'express.json'),
      fault: join(workdir, 'fault.json'),
    };
    const faulty = template('STANDARD');
    const queue = idOf(faulty, 'AWS::SQS::Queue', queueOf('OrderEventsFifoQueue'));
    resource(faulty, queue).Properties.MessageRetention = 60;
    writeFileSync(paths.standard, JSON.stringify(template('STANDARD')));
    writeFileSync(paths.express, JSON.stringify(template('EXPRESS')));
    writeFileSync(paths.fault, JSON.stringify(faulty));

    // Act
    const result = await runCfnLint([paths.standard, paths.express, paths.fault]);

    // Assess
    expect(result.findings.get(paths.standard)).toEqual([]);
    expect(result.findings.get(paths.express)).toEqual([]);
    expect(keys(result.findings.get(paths.fault) ?? [])).toEqual([`cfn-lint/E3002 ${queue}`]);
    for (const rule of Object.keys(ACCEPTED_CFN_LINT_RULES))
      expect(result.accepted.get(rule)).toBeGreaterThan(0);
  });

  it('fails with how to install it when it is missing', async () => {
    // Prepare
    const path = process.env.PATH;
    process.env.PATH = workdir;

    // Act
    const run = runCfnLint([join(workdir, 'none.json')]);

    // Assess
    try {
      await expect(run).rejects.toThrow(DeployCheckError);
      await expect(run).rejects.toMatchObject({ code: 'DEPLOY_CHECK_CFN_LINT_MISSING' });
      await expect(run).rejects.toThrow(`pipx install cfn-lint==${CFN_LINT_VERSION}`);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('npm run check:deploy', () => {
  it('prints each finding as `<rule> <logicalId>: <message>` and exits 1', {
    timeout: CFN_LINT_TEST_TIMEOUT_MS,
  }, async () => {
    // Prepare
    const json = template('STANDARD');
    const stage = idOf(json, 'AWS::ApiGatewayV2::Stage');
    delete resource(json, stage).DependsOn;
    const path = join(workdir, 'no-stage-dependency.json');
    writeFileSync(path, JSON.stringify(json));

    // Act
    const run = await runScript('check-deploy.ts', ['--template', path]);

    // Assess
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(
      new RegExp(`^apigw/stage-before-route ${stage}: RouteSettings name "POST /orders"`, 'm'),
    );
    expect(run.code).toBe(1);
  });

  it('exits 2 on an unknown option', async () => {
    // Prepare
    const args = ['--region', 'us-east-1'];

    // Act
    const run = await runScript('check-deploy.ts', args);

    // Assess
    expect(run.stderr).toContain('DEPLOY_CHECK_USAGE: unknown option --region');
    expect(run.code).toBe(2);
  });
});
