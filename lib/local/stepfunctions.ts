import { randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { z } from 'zod';
import {
  type JsonObject,
  type JsonTargetProtocol,
  jsonTargetHandler,
  startLoopbackServer,
  validateInput,
} from './aws-protocol-server';
import { FunctionInvocationError, type FunctionInvoker } from './invoker';
import type { UsageMeter } from './sdk-instrumentation';

/**
 * A local stand-in for the Step Functions API subset the handlers and the operations tools use. It speaks the AWS
 * JSON 1.0 protocol, so the SDK reaches it through `AWS_ENDPOINT_URL_SFN` alone, and runs definitions with
 * `aws-local-stepfunctions`, whose every Task state is overridden to call a declared function through the
 * {@link FunctionInvoker}.
 *
 * `RedriveExecution` follows AWS's rules (which executions may be redriven, `redriveCount`, `redriveDate`,
 * `redriveStatus`, the `ExecutionRedriven` history event, client tokens) with one difference: the engine cannot
 * resume an execution mid-flow, so a redriven execution runs again **from its first state**, with the same input,
 * under the same execution ARN. AWS instead resumes at the state that failed and keeps the results of the states
 * that succeeded (and, in a Map or Parallel state, reruns only the iterations or branches that failed). The two
 * agree for a workflow whose tasks are idempotent, as every saga task is through its ledger: a task that already
 * succeeded answers its repeated call with its recorded result. A workflow whose tasks are not idempotent must not
 * rely on local redrive. See {@link LocalStepFunctionsOptions.clock} for the redrive window.
 */

type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type TaskHandler = TaskHandlers[string];
type JsonValue = Parameters<TaskHandler>[0];
type LibraryEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

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

export interface LocalStepFunctionsOptions {
  readonly stateMachines: readonly LocalStateMachineDeclaration[];
  readonly invoker: FunctionInvoker;
  readonly region: string;
  readonly accountId: string;
  /** Counts state transitions, which Standard workflows are billed by. */
  readonly meter?: UsageMeter;
  /** Default: a free loopback port. */
  readonly port?: number;
  /**
   * Replaces every Retry pause (`IntervalSeconds`, `BackoffRate`, ...) with this many milliseconds, so a demo or a
   * test does not wait out production back-offs. Default: the definition's own intervals.
   */
  readonly retryIntervalMs?: number;
  /**
   * The endpoint's clock: execution start, stop and redrive dates, and the limits on redrive (14 days after the
   * stop, one year after the start), so a test can step past them. Waits and timeouts inside a definition run on
   * real time regardless. Default: the system clock.
   */
  readonly clock?: () => Date;
}

export const ExecutionStatus = {
  Running: 'RUNNING',
  Succeeded: 'SUCCEEDED',
  Failed: 'FAILED',
  Aborted: 'ABORTED',
  TimedOut: 'TIMED_OUT',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** What the `/_local/` inspection route shows of one execution. */
export interface LocalExecutionSummary {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly input: string;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly startDate: string;
  readonly stopDate?: string;
  /** How often the execution was redriven; 0 if never. */
  readonly redriveCount: number;
  readonly redriveDate?: string;
}

export interface LocalStepFunctions {
  /** Base URL for `AWS_ENDPOINT_URL_SFN` or a client's `endpoint`. */
  readonly url: string;
  /** State machine name -> ARN. */
  readonly stateMachineArns: Readonly<Record<string, string>>;
  /** Executions, newest first. */
  executions(): LocalExecutionSummary[];
  /** Aborts running executions and closes the server. */
  stop(): Promise<void>;
}

/** Base class of this module's errors; `code` is stable across releases. */
export class LocalStepFunctionsError extends Error {
  public override readonly name: string = 'LocalStepFunctionsError';
  public readonly code: string;

  public constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A state machine declaration that cannot run locally: invalid ASL, a bad name, or JSONata. */
export class InvalidStateMachineDeclarationError extends LocalStepFunctionsError {
  public override readonly name = 'InvalidStateMachineDeclarationError';

  public constructor(message: string, options?: ErrorOptions) {
    super('LOCAL_SFN_INVALID_STATE_MACHINE', message, options);
  }
}

/** Error types of the Step Functions API that this endpoint answers with; the SDK maps each to its exception class. */
export type StepFunctionsApiErrorType =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidExecutionInput'
  | 'InvalidToken'
  | 'ExecutionNotRedrivable'
  | 'ValidationException'
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'InternalFailure';

/** An API call the endpoint refuses, answered with the AWS error shape of the same `code`. */
export class StepFunctionsApiError extends LocalStepFunctionsError {
  public override readonly name = 'StepFunctionsApiError';
  public readonly statusCode: number;

  public constructor(code: StepFunctionsApiErrorType, message: string, statusCode = 400) {
    super(code, message);
    this.statusCode = statusCode;
  }
}

/**
 * A task function's failure as the state machine sees it. `name` is the function's `errorType`, because the engine
 * matches Retry and Catch `ErrorEquals` against the error's name, as Step Functions does for Lambda errors.
 */
export class TaskFunctionFailedError extends LocalStepFunctionsError {
  public override readonly name: string;

  public constructor(errorType: string, errorMessage: string) {
    // The message becomes the ASL `Cause`; Lambda reports it as this JSON document.
    super('LOCAL_SFN_TASK_FUNCTION_FAILED', JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

/**
 * A Task whose resource has no local function. It is neither retryable nor catchable (the engine reads these two
 * getters), so a missing mapping fails the execution loudly instead of flowing into a business Catch branch.
 */
export class UnmappedTaskResourceError extends LocalStepFunctionsError {
  public override readonly name = 'Local.UnmappedTaskResource';

  public constructor(message: string) {
    super('LOCAL_SFN_UNMAPPED_TASK_RESOURCE', message);
  }

  public get isRetryable(): boolean {
    return false;
  }

  public get isCatchable(): boolean {
    return false;
  }
}

const LAMBDA_INVOKE_RESOURCE = /^arn:aws[a-z-]*:states:::lambda:invoke(\..+)?$/;
const LAMBDA_FUNCTION_ARN = /^(arn:aws[a-z-]*:lambda:[^:]+:\d{12}:function:[^:]+)(:[^:]+)?$/;
// AWS also forbids control characters, checked by code point in isValidName.
const INVALID_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const MAX_INPUT_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/** AWS's limits on redrive: of an execution stopped in the last 14 days, started within a year, under 25,000 events. */
export const REDRIVE_LIMITS = {
  windowMs: 14 * DAY_MS,
  maxExecutionAgeMs: 365 * DAY_MS,
  maxHistoryEvents: 25_000,
  /** `RedriveExecution` answers a repeated client token idempotently for this long, for the last 10 tokens. */
  clientTokenTtlMs: 15 * 60 * 1000,
  clientTokensKept: 10,
} as const;

const PROTOCOL: JsonTargetProtocol = {
  targetPrefix: 'AWSStepFunctions.',
  contentType: 'application/x-amz-json-1.0',
  maxRequestBytes: MAX_REQUEST_BYTES,
  internalErrorType: 'InternalFailure',
  apiError: StepFunctionsApiError,
};

interface TaskState {
  readonly resource: string;
}

interface CompiledStateMachine {
  readonly arn: string;
  readonly name: string;
  readonly definitionText: string;
  readonly machine: StateMachine;
  readonly taskStates: ReadonlyMap<string, TaskState>;
  readonly retryStates: readonly string[];
  readonly functions: FunctionResolver;
  readonly creationDate: Date;
  readonly type: StateMachineType;
}

interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  readonly detailsKey?: string;
  readonly details?: Record<string, unknown>;
}

interface ExecutionRecord {
  readonly sequence: number;
  readonly executionArn: string;
  readonly stateMachine: CompiledStateMachine;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  output?: string;
  error?: string;
  cause?: string;
  stopDate?: Date;
  /** Also the number of the current run: a run started before the latest redrive may no longer touch the record. */
  redriveCount: number;
  redriveDate?: Date;
  /** Client tokens of successful redrives, newest last, kept for idempotent repeats. */
  readonly redriveTokens: { readonly token: string; readonly usedAt: Date; readonly redriveDate: Date }[];
  readonly history: HistoryEvent[];
  abort: () => void;
  settled: Promise<void>;
}

/** One run of an execution: the first, or the one a redrive started. */
interface ExecutionRun {
  readonly record: ExecutionRecord;
  /** The record's `redriveCount` when the run started. */
  readonly number: number;
}

/** Resolves a Task resource or a `lambda:invoke` FunctionName to a local function, qualifiers ignored. */
class FunctionResolver {
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

/**
 * Starts the local Step Functions endpoint on 127.0.0.1.
 *
 * Every declared definition is validated up front (with the engine's `asl-validator`), so a broken definition
 * fails the local runtime at boot rather than at the first order. Throws {@link InvalidStateMachineDeclarationError}.
 */
export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<LocalStepFunctions> {
  const machines = new Map<string, CompiledStateMachine>();
  for (const declaration of options.stateMachines) {
    const compiled = compileStateMachine(declaration, options);
    if (machines.has(compiled.arn)) {
      throw new InvalidStateMachineDeclarationError(`State machine ${declaration.name} is declared twice`);
    }
    machines.set(compiled.arn, compiled);
  }

  const service = new StepFunctionsService(machines, options);
  const server = await startLoopbackServer(
    jsonTargetHandler(PROTOCOL, (operation, body) => service.dispatch(operation, body)),
    options.port,
  );

  return {
    url: server.url,
    stateMachineArns: Object.fromEntries(
      [...machines.values()].map((machine) => [machine.name, machine.arn]),
    ),
    executions: () => service.summaries(),
    stop: async () => {
      await service.shutdown();
      await server.close();
    },
  };
}

function compileStateMachine(
  declaration: LocalStateMachineDeclaration,
  options: LocalStepFunctionsOptions,
): CompiledStateMachine {
  const { name } = declaration;
  if (!isValidName(name)) {
    throw new InvalidStateMachineDeclarationError(`Invalid state machine name: '${name}'`);
  }
  // asl-validator fills in defaults (QueryLanguage) in place: DescribeStateMachine returns the text as declared.
  const definitionText = JSON.stringify(declaration.definition);
  // The declaration comes from a parsed JSON file; asl-validator in the StateMachine constructor checks its shape.
  const definition = structuredClone(declaration.definition) as StateMachineDefinition;
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
  const taskStates = new Map<string, TaskState>();
  const retryStates = new Set<string>();
  collectStates(name, definition.States, taskStates, retryStates);
  return {
    arn: `arn:aws:states:${options.region}:${options.accountId}:stateMachine:${name}`,
    name,
    definitionText,
    machine,
    taskStates,
    retryStates: [...retryStates],
    functions: new FunctionResolver(declaration.taskFunctions),
    creationDate: new Date(),
    type: declaration.type ?? 'STANDARD',
  };
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

const startExecutionInput = z.object({
  stateMachineArn: z.string(),
  name: z.string().optional(),
  input: z.string().optional(),
  traceHeader: z.string().optional(),
});
const executionArnInput = z.object({ executionArn: z.string() });
const stopExecutionInput = z.object({
  executionArn: z.string(),
  error: z.string().max(256).optional(),
  cause: z.string().max(32_768).optional(),
});
const listExecutionsInput = z.object({
  stateMachineArn: z.string(),
  statusFilter: z
    .enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'])
    .optional(),
  redriveFilter: z.enum(['REDRIVEN', 'NOT_REDRIVEN']).optional(),
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
});
const redriveExecutionInput = z.object({
  executionArn: z.string(),
  clientToken: z.string().min(1).max(64).optional(),
});
const historyInput = z.object({
  executionArn: z.string(),
  maxResults: z.number().int().min(0).max(1000).optional(),
  reverseOrder: z.boolean().optional(),
  nextToken: z.string().optional(),
  includeExecutionData: z.boolean().optional(),
});
const describeStateMachineInput = z.object({ stateMachineArn: z.string() });
const listStateMachinesInput = z.object({
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
});

class StepFunctionsService {
  private readonly executionsByArn = new Map<string, ExecutionRecord>();
  private sequence = 0;
  private stopping = false;
  private readonly now: () => Date;

  public constructor(
    private readonly machines: ReadonlyMap<string, CompiledStateMachine>,
    private readonly options: LocalStepFunctionsOptions,
  ) {
    this.now = options.clock ?? (() => new Date());
  }

  public dispatch(operation: string, body: unknown): JsonObject {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(parse(startExecutionInput, body));
      case 'DescribeExecution':
        return this.describeExecution(parse(executionArnInput, body));
      case 'StopExecution':
        return this.stopExecution(parse(stopExecutionInput, body));
      case 'RedriveExecution':
        return this.redriveExecution(parse(redriveExecutionInput, body));
      case 'ListExecutions':
        return this.listExecutions(parse(listExecutionsInput, body));
      case 'GetExecutionHistory':
        return this.getExecutionHistory(parse(historyInput, body));
      case 'DescribeStateMachine':
        return this.describeStateMachine(parse(describeStateMachineInput, body));
      case 'ListStateMachines':
        return this.listStateMachines(parse(listStateMachinesInput, body));
      default:
        throw new StepFunctionsApiError(
          'UnknownOperationException',
          `The local Step Functions endpoint does not support ${operation}`,
        );
    }
  }

  public summaries(): LocalExecutionSummary[] {
    return this.newestFirst([...this.executionsByArn.values()]).map((record) => ({
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachine.arn,
      name: record.name,
      status: record.status,
      input: record.input,
      ...(record.output !== undefined && { output: record.output }),
      ...(record.error !== undefined && { error: record.error }),
      ...(record.cause !== undefined && { cause: record.cause }),
      startDate: record.startDate.toISOString(),
      ...(record.stopDate !== undefined && { stopDate: record.stopDate.toISOString() }),
      redriveCount: record.redriveCount,
      ...(record.redriveDate !== undefined && { redriveDate: record.redriveDate.toISOString() }),
    }));
  }

  public async shutdown(): Promise<void> {
    this.stopping = true;
    const running = [...this.executionsByArn.values()].filter((record) => record.status === 'RUNNING');
    for (const record of running) record.abort();
    await Promise.allSettled(running.map((record) => record.settled));
  }

  private startExecution(input: z.infer<typeof startExecutionInput>): JsonObject {
    if (this.stopping)
      throw new StepFunctionsApiError('InternalFailure', 'The endpoint is shutting down', 500);
    const machine = this.machine(input.stateMachineArn);
    const name = input.name ?? randomUUID();
    if (!isValidName(name)) {
      throw new StepFunctionsApiError('InvalidName', `Invalid Name: '${name}'`);
    }
    const rawInput = input.input ?? '{}';
    const parsedInput = parseExecutionInput(rawInput);
    const executionArn = `arn:aws:states:${this.options.region}:${this.options.accountId}:execution:${machine.name}:${name}`;

    const existing = this.executionsByArn.get(executionArn);
    if (existing !== undefined) {
      // Standard workflows: a retried call for the same running execution is idempotent; anything else is a clash.
      if (existing.status === 'RUNNING' && existing.input === rawInput) {
        return { executionArn, startDate: epochSeconds(existing.startDate) };
      }
      throw new StepFunctionsApiError(
        'ExecutionAlreadyExists',
        `Execution Already Exists: '${executionArn}'`,
      );
    }

    const record: ExecutionRecord = {
      sequence: ++this.sequence,
      executionArn,
      stateMachine: machine,
      name,
      input: rawInput,
      startDate: this.now(),
      status: 'RUNNING',
      redriveCount: 0,
      redriveTokens: [],
      history: [],
      abort: () => {},
      settled: Promise.resolve(),
    };
    this.executionsByArn.set(executionArn, record);
    this.run(record, parsedInput);
    return { executionArn, startDate: epochSeconds(record.startDate) };
  }

  /**
   * AWS's `RedriveExecution`, except that the execution runs again from its first state (see the module
   * documentation). A repeated `clientToken` answers with the redrive it started, without redriving again.
   */
  private redriveExecution(input: z.infer<typeof redriveExecutionInput>): JsonObject {
    if (this.stopping)
      throw new StepFunctionsApiError('InternalFailure', 'The endpoint is shutting down', 500);
    const record = this.execution(input.executionArn);
    const now = this.now();
    const repeated = record.redriveTokens.find(
      (used) =>
        used.token === input.clientToken &&
        now.getTime() - used.usedAt.getTime() <= REDRIVE_LIMITS.clientTokenTtlMs,
    );
    if (repeated !== undefined) return { redriveDate: epochSeconds(repeated.redriveDate) };
    const reason = this.notRedrivableReason(record, now);
    if (reason !== undefined) throw new StepFunctionsApiError('ExecutionNotRedrivable', reason);

    record.redriveCount += 1;
    record.redriveDate = now;
    record.status = 'RUNNING';
    delete record.output;
    delete record.error;
    delete record.cause;
    delete record.stopDate;
    this.append(record, 'ExecutionRedriven', 'executionRedrivenEventDetails', {
      redriveCount: record.redriveCount,
    });
    if (input.clientToken !== undefined) {
      record.redriveTokens.push({ token: input.clientToken, usedAt: now, redriveDate: now });
      record.redriveTokens.splice(0, record.redriveTokens.length - REDRIVE_LIMITS.clientTokensKept);
    }
    // The input was validated when the execution started.
    this.run(record, JSON.parse(record.input) as JsonValue);
    return { redriveDate: epochSeconds(now) };
  }

  /** Why `RedriveExecution` would refuse the execution now, in AWS's `redriveStatusReason` words; else undefined. */
  private notRedrivableReason(record: ExecutionRecord, now: Date): string | undefined {
    if (record.stateMachine.type === 'EXPRESS') {
      return 'Execution of an EXPRESS state machine cannot be redriven';
    }
    if (record.status === 'RUNNING' || record.status === 'SUCCEEDED') {
      return `Execution is ${record.status} and cannot be redriven`;
    }
    if (now.getTime() - record.startDate.getTime() > REDRIVE_LIMITS.maxExecutionAgeMs) {
      return 'Execution has exceeded the max execution time';
    }
    if (now.getTime() - (record.stopDate ?? now).getTime() > REDRIVE_LIMITS.windowMs) {
      return 'Execution redrivable period exceeded';
    }
    if (record.history.length >= REDRIVE_LIMITS.maxHistoryEvents) {
      return 'Execution history event limit exceeded';
    }
    return undefined;
  }

  private run(record: ExecutionRecord, input: JsonValue): void {
    const machine = record.stateMachine;
    const run: ExecutionRun = { record, number: record.redriveCount };
    const handlers: TaskHandlers = {};
    for (const [stateName, task] of machine.taskStates) {
      handlers[stateName] = (taskInput) => this.runTask(run, stateName, task.resource, taskInput);
    }
    const retryIntervalMs = this.options.retryIntervalMs;
    const retryIntervalOverrides =
      retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(machine.retryStates.map((stateName) => [stateName, retryIntervalMs]));
    const execution = machine.machine.run(input, {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(retryIntervalOverrides !== undefined && { retryIntervalOverrides }),
      },
      context: {
        Execution: {
          Id: record.executionArn,
          Name: record.name,
          RoleArn: this.roleArn(machine),
          // AWS sets both on a redriven execution; the engine itself sets Input and StartTime (the latter to now).
          RedriveCount: record.redriveCount,
          ...(record.redriveDate !== undefined && { RedriveTime: record.redriveDate.toISOString() }),
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    record.abort = execution.abort;
    const recorded = this.recordHistory(run, execution.eventLogs);
    record.settled = Promise.allSettled([execution.result, recorded]).then(([result]) => {
      this.finish(run, result);
    });
  }

  /** A run superseded by a redrive (its tasks may still finish after an abort) must not touch the record. */
  private isCurrent(run: ExecutionRun): boolean {
    return run.record.redriveCount === run.number;
  }

  /** Settles the record only once its history is drained, so a SUCCEEDED status always comes with its events. */
  private finish(run: ExecutionRun, result: PromiseSettledResult<JsonValue>): void {
    const { record } = run;
    if (!this.isCurrent(run) || record.status !== 'RUNNING') return;
    record.stopDate = this.now();
    if (result.status === 'fulfilled') {
      record.status = 'SUCCEEDED';
      record.output = JSON.stringify(result.value);
      return;
    }
    const reason: unknown = result.reason;
    if (reason instanceof ExecutionAbortedError) {
      record.status = 'ABORTED';
    } else if (reason instanceof ExecutionTimeoutError) {
      record.status = 'TIMED_OUT';
      record.error = 'States.Timeout';
    } else {
      record.status = 'FAILED';
      const failure =
        reason instanceof ExecutionError && reason.cause instanceof Error ? reason.cause : reason;
      record.error = failure instanceof Error ? failure.name : 'States.Runtime';
      record.cause = failure instanceof Error ? failure.message : String(failure);
    }
  }

  private async runTask(run: ExecutionRun, stateName: string, resource: string, input: JsonValue) {
    const { record } = run;
    // The engine calls this synchronously right after queueing its StateEntered event; yielding one macrotask lets
    // the history recorder take that event first, so the task's own events follow it as in AWS.
    await new Promise((resolve) => setImmediate(resolve));
    const integration = LAMBDA_INVOKE_RESOURCE.exec(resource);
    if (integration !== null) {
      if (integration[1] !== undefined) {
        throw new UnmappedTaskResourceError(
          `Task state '${stateName}': the ${integration[1].slice(1)} pattern of ${resource} is not supported locally`,
        );
      }
      return await this.invokeIntegration(run, stateName, input);
    }
    const functionName = record.stateMachine.functions.resolve(resource);
    if (functionName === undefined) {
      throw new UnmappedTaskResourceError(
        `Task state '${stateName}' has Resource ${resource}, which is not mapped to a local function ` +
          `(add it to taskFunctions of state machine ${record.stateMachine.name})`,
      );
    }
    this.appendRun(run, 'LambdaFunctionScheduled', 'lambdaFunctionScheduledEventDetails', {
      resource,
      input: JSON.stringify(input),
      inputDetails: { truncated: false },
    });
    this.appendRun(run, 'LambdaFunctionStarted');
    try {
      const output = await this.invoke(functionName, input);
      this.appendRun(run, 'LambdaFunctionSucceeded', 'lambdaFunctionSucceededEventDetails', {
        output: JSON.stringify(output),
        outputDetails: { truncated: false },
      });
      return output;
    } catch (error) {
      if (error instanceof TaskFunctionFailedError) {
        this.appendRun(run, 'LambdaFunctionFailed', 'lambdaFunctionFailedEventDetails', {
          error: error.name,
          cause: error.message,
        });
      }
      throw error;
    }
  }

  /** `arn:aws:states:::lambda:invoke`: Parameters name the function and its Payload; the result wraps the payload. */
  private async invokeIntegration(
    run: ExecutionRun,
    stateName: string,
    input: JsonValue,
  ): Promise<JsonValue> {
    const { record } = run;
    const parameters = isJsonObject(input) ? input : {};
    const requested = parameters.FunctionName;
    const functionName =
      typeof requested === 'string' ? record.stateMachine.functions.resolve(requested) : undefined;
    if (functionName === undefined) {
      throw new UnmappedTaskResourceError(
        `Task state '${stateName}' invokes FunctionName ${JSON.stringify(requested)}, which is not mapped to a ` +
          `local function (add it to taskFunctions of state machine ${record.stateMachine.name})`,
      );
    }
    const details = { resourceType: 'lambda', resource: 'invoke' };
    this.appendRun(run, 'TaskScheduled', 'taskScheduledEventDetails', {
      ...details,
      region: this.options.region,
      parameters: JSON.stringify(parameters),
    });
    this.appendRun(run, 'TaskStarted', 'taskStartedEventDetails', details);
    try {
      const payload = await this.invoke(functionName, parameters.Payload ?? {});
      const output: JsonValue = { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      this.appendRun(run, 'TaskSucceeded', 'taskSucceededEventDetails', {
        ...details,
        output: JSON.stringify(output),
        outputDetails: { truncated: false },
      });
      return output;
    } catch (error) {
      if (error instanceof TaskFunctionFailedError) {
        this.appendRun(run, 'TaskFailed', 'taskFailedEventDetails', {
          ...details,
          error: error.name,
          cause: error.message,
        });
      }
      throw error;
    }
  }

  private async invoke(functionName: string, event: JsonValue): Promise<JsonValue> {
    let result: unknown;
    try {
      result = await this.options.invoker.invoke(functionName, event);
    } catch (error) {
      if (error instanceof FunctionInvocationError) {
        throw new TaskFunctionFailedError(error.errorType, error.errorMessage);
      }
      // Lambda's name for a function that died without reporting an error (crash, timeout of the environment).
      throw new TaskFunctionFailedError(
        'Lambda.Unknown',
        error instanceof Error ? error.message : String(error),
      );
    }
    // A round trip through JSON gives the state machine what Lambda would return: no undefined, no Date objects.
    return JSON.parse(JSON.stringify(result ?? null)) as JsonValue;
  }

  private async recordHistory(run: ExecutionRun, events: AsyncGenerator<LibraryEvent>): Promise<void> {
    const caught = new Set<string>();
    for await (const event of events) {
      this.recordEvent(run, event, caught);
    }
  }

  /** Maps the engine's event log to the AWS history event types; engine-only events (retried, caught) are dropped. */
  private recordEvent(run: ExecutionRun, event: LibraryEvent, caught: Set<string>): void {
    const { record } = run;
    const at = new Date(event.timestamp);
    switch (event.type) {
      case 'ExecutionStarted':
        // A redriven execution continues its history after ExecutionRedriven; it does not start again.
        if (run.number > 0) return;
        this.appendRun(
          run,
          'ExecutionStarted',
          'executionStartedEventDetails',
          {
            input: record.input,
            inputDetails: { truncated: false },
            roleArn: this.roleArn(record.stateMachine),
          },
          at,
        );
        return;
      case 'ExecutionSucceeded':
        this.appendRun(
          run,
          'ExecutionSucceeded',
          'executionSucceededEventDetails',
          { output: JSON.stringify(event.output), outputDetails: { truncated: false } },
          at,
        );
        return;
      case 'ExecutionFailed':
        this.appendRun(
          run,
          'ExecutionFailed',
          'executionFailedEventDetails',
          {
            error: event.Error,
            cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause),
          },
          at,
        );
        return;
      case 'ExecutionTimeout':
        this.appendRun(
          run,
          'ExecutionTimedOut',
          'executionTimedOutEventDetails',
          { error: 'States.Timeout' },
          at,
        );
        return;
      case 'ExecutionAborted':
        // StopExecution records its own ExecutionAborted event with the caller's error and cause.
        return;
      case 'StateEntered':
        this.options.meter?.count('StepFunctions:StateTransition');
        this.appendRun(
          run,
          `${event.state.type}StateEntered`,
          'stateEnteredEventDetails',
          {
            name: event.state.name,
            input: JSON.stringify(event.state.input),
            inputDetails: { truncated: false },
          },
          at,
        );
        return;
      case 'StateExited': {
        caught.delete(stateKey(event.state.name, event.index));
        this.appendRun(
          run,
          `${event.state.type}StateExited`,
          'stateExitedEventDetails',
          {
            name: event.state.name,
            output: JSON.stringify(event.state.output ?? null),
            outputDetails: { truncated: false },
          },
          at,
        );
        return;
      }
      case 'StateFailed':
        if (event.state.type === 'Map' || event.state.type === 'Parallel') {
          this.appendRun(run, `${event.state.type}StateFailed`, undefined, undefined, at);
        }
        return;
      case 'StateCaught':
        caught.add(stateKey(event.state.name, event.index));
        return;
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        this.appendRun(
          run,
          event.type,
          `${event.type.charAt(0).toLowerCase()}${event.type.slice(1)}EventDetails`,
          { name: event.parentState.name, index: event.index },
          at,
        );
        return;
      default:
        return;
    }
  }

  /** {@link append} for events of a run, which are dropped once a redrive has superseded the run. */
  private appendRun(
    run: ExecutionRun,
    type: string,
    detailsKey?: string,
    details?: Record<string, unknown>,
    timestamp?: Date,
  ): void {
    if (this.isCurrent(run)) this.append(run.record, type, detailsKey, details, timestamp);
  }

  private append(
    record: ExecutionRecord,
    type: string,
    detailsKey?: string,
    details?: Record<string, unknown>,
    timestamp = this.now(),
  ): void {
    // Late events of an execution that was stopped (a task finishing after the abort) do not belong to its history.
    if (record.status !== 'RUNNING') return;
    const id = record.history.length + 1;
    record.history.push({
      id,
      previousEventId: id - 1,
      timestamp,
      type,
      ...(detailsKey !== undefined && details !== undefined && { detailsKey, details }),
    });
  }

  private describeExecution(input: z.infer<typeof executionArnInput>): JsonObject {
    const record = this.execution(input.executionArn);
    return {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachine.arn,
      name: record.name,
      status: record.status,
      startDate: epochSeconds(record.startDate),
      ...(record.stopDate !== undefined && { stopDate: epochSeconds(record.stopDate) }),
      input: record.input,
      inputDetails: { included: true },
      ...(record.output !== undefined && { output: record.output, outputDetails: { included: true } }),
      ...(record.error !== undefined && { error: record.error }),
      ...(record.cause !== undefined && { cause: record.cause }),
      ...this.redriveFields(record),
    };
  }

  /** What DescribeExecution says about redrive: AWS returns these for executions of STANDARD machines only. */
  private redriveFields(record: ExecutionRecord): JsonObject {
    if (record.stateMachine.type === 'EXPRESS') return {};
    const reason = this.notRedrivableReason(record, this.now());
    return {
      redriveCount: record.redriveCount,
      ...(record.redriveDate !== undefined && { redriveDate: epochSeconds(record.redriveDate) }),
      redriveStatus: reason === undefined ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
      ...(reason !== undefined && { redriveStatusReason: reason }),
    };
  }

  private stopExecution(input: z.infer<typeof stopExecutionInput>): JsonObject {
    const record = this.execution(input.executionArn);
    if (record.status === 'RUNNING') {
      this.append(record, 'ExecutionAborted', 'executionAbortedEventDetails', {
        ...(input.error !== undefined && { error: input.error }),
        ...(input.cause !== undefined && { cause: input.cause }),
      });
      record.status = 'ABORTED';
      record.stopDate = this.now();
      if (input.error !== undefined) record.error = input.error;
      if (input.cause !== undefined) record.cause = input.cause;
      record.abort();
    }
    return { stopDate: epochSeconds(record.stopDate ?? this.now()) };
  }

  private listExecutions(input: z.infer<typeof listExecutionsInput>): JsonObject {
    const machine = this.machine(input.stateMachineArn);
    if (input.statusFilter === 'PENDING_REDRIVE') {
      // AWS: PENDING_REDRIVE applies to the child executions of a Map Run only.
      throw new StepFunctionsApiError(
        'ValidationException',
        'statusFilter PENDING_REDRIVE needs a mapRunArn, not a stateMachineArn',
      );
    }
    const after = input.nextToken === undefined ? undefined : decodeToken(input.nextToken);
    const redriven = input.redriveFilter === undefined ? undefined : input.redriveFilter === 'REDRIVEN';
    const matching = this.newestFirst(
      [...this.executionsByArn.values()].filter(
        (record) =>
          record.stateMachine === machine &&
          (input.statusFilter === undefined || record.status === input.statusFilter) &&
          (redriven === undefined || record.redriveCount > 0 === redriven) &&
          (after === undefined || record.sequence < after),
      ),
    );
    const page = matching.slice(0, pageSize(input.maxResults));
    const last = page.at(-1);
    return {
      executions: page.map((record) => ({
        executionArn: record.executionArn,
        stateMachineArn: machine.arn,
        name: record.name,
        status: record.status,
        startDate: epochSeconds(record.startDate),
        ...(record.stopDate !== undefined && { stopDate: epochSeconds(record.stopDate) }),
        redriveCount: record.redriveCount,
        ...(record.redriveDate !== undefined && { redriveDate: epochSeconds(record.redriveDate) }),
      })),
      ...(last !== undefined && matching.length > page.length && { nextToken: encodeToken(last.sequence) }),
    };
  }

  private getExecutionHistory(input: z.infer<typeof historyInput>): JsonObject {
    const record = this.execution(input.executionArn);
    const ordered = input.reverseOrder === true ? [...record.history].reverse() : record.history;
    const offset = input.nextToken === undefined ? 0 : decodeToken(input.nextToken);
    const size = pageSize(input.maxResults);
    const page = ordered.slice(offset, offset + size);
    const includeData = input.includeExecutionData !== false;
    return {
      events: page.map((event) => ({
        id: event.id,
        previousEventId: event.previousEventId,
        timestamp: epochSeconds(event.timestamp),
        type: event.type,
        ...(event.detailsKey !== undefined &&
          event.details !== undefined && {
            [event.detailsKey]: includeData ? event.details : withoutData(event.details),
          }),
      })),
      ...(offset + size < ordered.length && { nextToken: encodeToken(offset + size) }),
    };
  }

  private describeStateMachine(input: z.infer<typeof describeStateMachineInput>): JsonObject {
    const machine = this.machine(input.stateMachineArn);
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definitionText,
      roleArn: this.roleArn(machine),
      type: machine.type,
      creationDate: epochSeconds(machine.creationDate),
    };
  }

  private listStateMachines(input: z.infer<typeof listStateMachinesInput>): JsonObject {
    const all = [...this.machines.values()].sort((a, b) => a.name.localeCompare(b.name));
    const offset = input.nextToken === undefined ? 0 : decodeToken(input.nextToken);
    const size = pageSize(input.maxResults);
    return {
      stateMachines: all.slice(offset, offset + size).map((machine) => ({
        stateMachineArn: machine.arn,
        name: machine.name,
        type: machine.type,
        creationDate: epochSeconds(machine.creationDate),
      })),
      ...(offset + size < all.length && { nextToken: encodeToken(offset + size) }),
    };
  }

  private machine(stateMachineArn: string): CompiledStateMachine {
    if (!stateMachineArn.startsWith('arn:aws')) {
      throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    }
    const machine = this.machines.get(stateMachineArn);
    if (machine === undefined) {
      throw new StepFunctionsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    }
    return machine;
  }

  private execution(executionArn: string): ExecutionRecord {
    if (!executionArn.startsWith('arn:aws')) {
      throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const record = this.executionsByArn.get(executionArn);
    if (record === undefined) {
      throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return record;
  }

  private roleArn(machine: CompiledStateMachine): string {
    return `arn:aws:iam::${this.options.accountId}:role/local-${machine.name}`;
  }

  private newestFirst(records: ExecutionRecord[]): ExecutionRecord[] {
    return records.sort((a, b) => b.sequence - a.sequence);
  }
}

function isValidName(name: string): boolean {
  if (name.length === 0 || name.length > 80 || INVALID_NAME_CHARACTERS.test(name)) return false;
  for (const character of name) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint <= 0x1f || (codePoint >= 0x7f && codePoint <= 0x9f)) return false;
  }
  return true;
}

function stateKey(name: string, index: number | undefined): string {
  return `${name}#${index ?? ''}`;
}

function parseExecutionInput(raw: string): JsonValue {
  if (Buffer.byteLength(raw, 'utf8') > MAX_INPUT_BYTES) {
    throw new StepFunctionsApiError('InvalidExecutionInput', 'Input exceeds the 256 KiB limit');
  }
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    throw new StepFunctionsApiError(
      'InvalidExecutionInput',
      `Invalid State Machine Execution Input: '${raw}'`,
    );
  }
}

function isJsonObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutData(details: Record<string, unknown>): Record<string, unknown> {
  const { input: _input, output: _output, parameters: _parameters, ...rest } = details;
  return rest;
}

function pageSize(maxResults: number | undefined): number {
  return maxResults === undefined || maxResults === 0 ? 100 : maxResults;
}

function encodeToken(position: number): string {
  return Buffer.from(JSON.stringify({ position }), 'utf8').toString('base64url');
}

function decodeToken(token: string): number {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const position = z.object({ position: z.number().int().nonnegative() }).parse(decoded).position;
    return position;
  } catch {
    throw new StepFunctionsApiError('InvalidToken', `Invalid Token: '${token}'`);
  }
}

function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  return validateInput(schema, body, (message) => new StepFunctionsApiError('ValidationException', message));
}
