import { globCovers, lambdaFunctionArn, resolveText } from './arns';
import { roleAllows } from './iam-rules';
import type { Finding } from './report';
import { type CfnResource, type DeployTemplate, isRecord, type JsonRecord } from './template';

/**
 * Step Functions checks its definition's states at CreateStateMachine (an EXPRESS workflow refuses a `.sync` or
 * `.waitForTaskToken` integration and activities), but not the role: a Task whose function the role may not
 * invoke fails each execution, at that state, with Lambda.AWSLambdaException. Both are checked here.
 */

const INTEGRATION = /^arn:[^:]+:states:::([a-z0-9-]+):(.+)$/;
const ACTIVITY = /^arn:[^:]+:states:[^:]*:[^:]*:activity:.+$/;
const LAMBDA_FUNCTION = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:.+$/;
/** The integration patterns that wait for a job or a callback, which only STANDARD workflows run. */
const WAITING_PATTERN = /\.(sync(:\d+)?|waitForTaskToken)$/;
const PLACEHOLDER = /\$\{([^}]+)\}/g;

interface TaskState {
  readonly name: string;
  readonly state: JsonRecord;
}

/**
 * The definition as text with every template expression in it replaced by a `${...}` placeholder, and what each
 * placeholder stands for: the definition's own substitutions, Fn::Sub's variables and references, and the tokens
 * of a Fn::Join.
 */
class Definition {
  private readonly values = new Map<string, unknown>();
  public readonly text: string | undefined;

  public constructor(properties: Readonly<Record<string, unknown>>) {
    const substitutions = properties.DefinitionSubstitutions;
    if (isRecord(substitutions))
      for (const [name, value] of Object.entries(substitutions)) this.values.set(name, value);
    const definition = properties.Definition;
    this.text = isRecord(definition) ? JSON.stringify(definition) : this.flatten(properties.DefinitionString);
  }

  /** The text `value` stands for once every placeholder in it is resolved. */
  public resolve(template: DeployTemplate, value: string): string {
    return value.replaceAll(PLACEHOLDER, (_, name: string) => {
      const known = this.values.get(name);
      if (known !== undefined) return resolveText(template, known);
      const [id = '', attribute] = name.split(/\.(.*)/s);
      return resolveText(template, attribute === undefined ? { Ref: id } : { 'Fn::GetAtt': [id, attribute] });
    });
  }

  private flatten(value: unknown): string | undefined {
    if (typeof value === 'string') return value;
    if (!isRecord(value)) return undefined;
    const join = value['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
      const parts = join[1].map((part) => this.flatten(part) ?? this.placeholder(part));
      return parts.join(join[0]);
    }
    const sub = value['Fn::Sub'];
    if (typeof sub === 'string') return sub;
    if (Array.isArray(sub) && typeof sub[0] === 'string') {
      if (isRecord(sub[1]))
        for (const [name, variable] of Object.entries(sub[1])) this.values.set(name, variable);
      return sub[0];
    }
    return this.placeholder(value);
  }

  private placeholder(value: unknown): string {
    const name = `__token${this.values.size}`;
    this.values.set(name, value);
    return `\${${name}}`;
  }
}

/** Every Task state, in Parallel branches and Map iterators too. */
function taskStates(states: unknown): TaskState[] {
  if (!isRecord(states)) return [];
  return Object.entries(states).flatMap(([name, state]): TaskState[] => {
    if (!isRecord(state)) return [];
    if (state.Type === 'Task') return [{ name, state }];
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      return state.Branches.flatMap((branch) => (isRecord(branch) ? taskStates(branch.States) : []));
    }
    if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      return isRecord(processor) ? taskStates(processor.States) : [];
    }
    return [];
  });
}

/** The function a `lambda:invoke` Task names in `FunctionName` (JSONPath `Parameters`, JSONata `Arguments`). */
function invokedFunctionName(state: JsonRecord): string | undefined {
  const parameters = isRecord(state.Parameters)
    ? state.Parameters
    : isRecord(state.Arguments)
      ? state.Arguments
      : {};
  return typeof parameters.FunctionName === 'string' ? parameters.FunctionName : undefined;
}

function checkStateMachine(template: DeployTemplate, logicalId: string, machine: CfnResource): Finding[] {
  const properties = machine.Properties ?? {};
  const definition = new Definition(properties);
  if (definition.text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition.text);
  } catch (error) {
    return [
      {
        rule: 'sfn/definition-unreadable',
        logicalId,
        message: `the definition is not JSON: ${String(error)}`,
      },
    ];
  }
  const express = properties.StateMachineType === 'EXPRESS';
  const roleId = template.target(properties.RoleArn)?.id;
  const findings: Finding[] = [];
  for (const { name, state } of taskStates(isRecord(parsed) ? parsed.States : undefined)) {
    if (typeof state.Resource !== 'string') continue;
    const resource = definition.resolve(template, state.Resource);
    // A resource the template cannot tell (an imported ARN, a parameter) is the deployer's to get right.
    if (resource.includes('*')) continue;
    const integration = INTEGRATION.exec(resource);
    const isActivity = ACTIVITY.test(resource);
    if (integration === null && !isActivity && !LAMBDA_FUNCTION.test(resource)) {
      findings.push({
        rule: 'sfn/unknown-task-resource',
        logicalId,
        message: `state ${name}: ${resource} is not a Lambda function, an activity or an integration`,
      });
      continue;
    }
    if (express && (isActivity || WAITING_PATTERN.test(resource))) {
      findings.push({
        rule: 'sfn/integration-not-allowed',
        logicalId,
        message: `state ${name}: an EXPRESS workflow cannot run ${resource} (no .sync, .waitForTaskToken or activity)`,
      });
    }
    const functionName =
      integration === null
        ? isActivity
          ? undefined
          : resource
        : integration[1] === 'lambda' && integration[2]?.startsWith('invoke')
          ? invokedFunctionName(state)
          : undefined;
    if (functionName === undefined || roleId === undefined) continue;
    const target = lambdaFunctionArn(definition.resolve(template, functionName));
    if (target.includes('*')) continue;
    if (roleAllows(template, roleId, 'lambda:InvokeFunction', (glob) => globCovers(glob, target)) === false) {
      findings.push({
        rule: 'sfn/missing-invoke-permission',
        logicalId,
        message: `state ${name} invokes ${target}, which role ${roleId} may not (lambda:InvokeFunction)`,
      });
    }
  }
  return findings;
}

/** Findings of the Step Functions rules for every state machine of the template. */
export function checkStepFunctions(template: DeployTemplate): Finding[] {
  return template
    .ofType('AWS::StepFunctions::StateMachine')
    .flatMap(([logicalId, machine]) => checkStateMachine(template, logicalId, machine));
}
