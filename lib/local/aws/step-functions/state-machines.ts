import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { InvalidStateMachineDeclarationError, StepFunctionsApiError } from './errors';

export interface LocalStateMachineDeclaration {
  /** State machine name; its ARN is `arn:aws:states:<region>:<account>:stateMachine:<name>`. */
  readonly name: string;
  /** The parsed Amazon States Language definition (JSONPath; JSONata is not supported by the engine). */
  readonly definition: object;
  /** Task `Resource` ARN (or Lambda function ARN named by `lambda:invoke`) -> local function name. */
  readonly taskFunctions: Readonly<Record<string, string>>;
  /**
   * The workflow type the state machine is deployed with. Locally both types run the same way; the type decides
   * only what `DescribeStateMachine` reports and that an EXPRESS execution cannot be redriven, as in AWS.
   * @default 'STANDARD'
   */
  readonly type?: StateMachineType;
}

export type StateMachineType = 'STANDARD' | 'EXPRESS';

export interface TaskState {
  readonly resource: string;
}

export interface CompiledStateMachine {
  readonly arn: string;
  readonly name: string;
  /** The role an execution reports in its context and history; AWS requires one, locally it is never assumed. */
  readonly roleArn: string;
  readonly definitionText: string;
  readonly machine: StateMachine;
  readonly taskStates: ReadonlyMap<string, TaskState>;
  readonly retryStates: readonly string[];
  readonly functions: FunctionResolver;
  readonly creationDate: Date;
  readonly type: StateMachineType;
}

interface Account {
  readonly region: string;
  readonly accountId: string;
}

const LAMBDA_FUNCTION_ARN = /^(arn:aws[a-z-]*:lambda:[^:]+:\d{12}:function:[^:]+)(:[^:]+)?$/;
// AWS also forbids control characters, checked by code point in isValidName.
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

/** Resolves a Task resource or a `lambda:invoke` FunctionName to a local function, qualifiers ignored. */
export class FunctionResolver {
  private readonly byArn: ReadonlyMap<string, string>;
  private readonly names: ReadonlySet<string>;

  public constructor(taskFunctions: Readonly<Record<string, string>>) {
    // A Map, not the record, so that names such as `constructor` cannot resolve to Object.prototype members.
    this.byArn = new Map(Object.entries(taskFunctions));
    this.names = new Set(this.byArn.values());
  }

  public resolve(resourceOrName: string): string | undefined {
    const exact = this.byArn.get(resourceOrName);
    if (exact !== undefined) return exact;
    const unqualifiedArn = LAMBDA_FUNCTION_ARN.exec(resourceOrName)?.[1];
    if (unqualifiedArn !== undefined) return this.byArn.get(unqualifiedArn);
    const bareName = resourceOrName.split(':')[0] ?? resourceOrName;
    return this.names.has(bareName) ? bareName : undefined;
  }
}

/** The declared state machines by ARN; lookups by a caller's ARN answer with the API's errors. */
export class StateMachineRegistry {
  private readonly byArn = new Map<string, CompiledStateMachine>();

  /**
   * Validates every declaration up front (with the engine's `asl-validator`), so a broken definition fails the
   * local runtime at boot rather than at the first order. Throws {@link InvalidStateMachineDeclarationError}.
   */
  public constructor(declarations: readonly LocalStateMachineDeclaration[], account: Account) {
    for (const declaration of declarations) {
      const compiled = compileStateMachine(declaration, account);
      if (this.byArn.has(compiled.arn)) {
        throw new InvalidStateMachineDeclarationError(`State machine ${declaration.name} is declared twice`);
      }
      this.byArn.set(compiled.arn, compiled);
    }
  }

  public get(stateMachineArn: string): CompiledStateMachine {
    if (!stateMachineArn.startsWith('arn:aws')) {
      throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    }
    const machine = this.byArn.get(stateMachineArn);
    if (machine === undefined) {
      throw new StepFunctionsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return machine;
  }

  public all(): CompiledStateMachine[] {
    return [...this.byArn.values()];
  }
}

/** AWS's rule for state machine and execution names. */
export function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > 80 || INVALID_NAME_CHARACTERS.test(name)) return false;
  for (const character of name) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint <= 0x1f || (codePoint >= 0x7f && codePoint <= 0x9f)) return false;
  }
  return true;
}

function compileStateMachine(
  declaration: LocalStateMachineDeclaration,
  account: Account,
): CompiledStateMachine {
  const { name } = declaration;
  if (!isValidName(name)) {
    throw new InvalidStateMachineDeclarationError(`Invalid state machine name: '${name}'`);
  }
  // asl-validator fills in defaults (QueryLanguage) in place: DescribeStateMachine returns the text as declared.
  const definitionText = JSON.stringify(declaration.definition);
  // The declaration comes from a parsed JSON file; asl-validator in the StateMachine constructor checks its shape.
  const definition = structuredClone(declaration.definition) as StateMachineDefinition;
  const machine = buildEngine(name, definition);
  const taskStates = new Map<string, TaskState>();
  const retryStates = new Set<string>();
  collectStates(name, definition.States, taskStates, retryStates);
  return {
    arn: `arn:aws:states:${account.region}:${account.accountId}:stateMachine:${name}`,
    name,
    roleArn: `arn:aws:iam::${account.accountId}:role/local-${name}`,
    definitionText,
    machine,
    taskStates,
    retryStates: [...retryStates],
    functions: new FunctionResolver(declaration.taskFunctions),
    creationDate: new Date(),
    type: declaration.type ?? 'STANDARD',
  };
}

function buildEngine(name: string, definition: StateMachineDefinition): StateMachine {
  let machine: StateMachine;
  try {
    machine = new StateMachine(definition, { validationOptions: { checkPaths: true, checkArn: true } });
  } catch (error) {
    throw new InvalidStateMachineDeclarationError(
      `State machine ${name}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  if ((definition as { QueryLanguage?: unknown }).QueryLanguage === 'JSONata') {
    throw new InvalidStateMachineDeclarationError(
      `State machine ${name} uses JSONata, which the local engine ignores; use JSONPath`,
    );
  }
  return machine;
}

/**
 * Walks nested Parallel branches and Map processors too: the engine looks Task overrides up by state name only,
 * so every Task state anywhere must get one, else the engine would call real Lambda. Names are unique across
 * nesting levels (asl-validator enforces it, as AWS does), so a name identifies one Task state.
 */
function collectStates(
  machineName: string,
  states: StateMachineDefinition['States'],
  taskStates: Map<string, TaskState>,
  retryStates: Set<string>,
): void {
  for (const [stateName, state] of Object.entries(states)) {
    if ((state as { QueryLanguage?: unknown }).QueryLanguage === 'JSONata') {
      throw new InvalidStateMachineDeclarationError(
        `State machine ${machineName}: state '${stateName}' uses JSONata, which the local engine ignores; use JSONPath`,
      );
    }
    if ('Retry' in state && state.Retry !== undefined) retryStates.add(stateName);
    if (state.Type === 'Task') {
      taskStates.set(stateName, { resource: state.Resource });
    } else if (state.Type === 'Parallel') {
      for (const branch of state.Branches) collectStates(machineName, branch.States, taskStates, retryStates);
    } else if (state.Type === 'Map') {
      const processor = state.ItemProcessor ?? state.Iterator;
      if (processor !== undefined) collectStates(machineName, processor.States, taskStates, retryStates);
    }
  }
}
