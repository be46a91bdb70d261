import { startLoopbackServer } from '../../http';
import type { FunctionInvoker } from '../../invoker';
import type { UsageMeter } from '../../runtime/sdk-instrumentation';
import { type JsonTargetProtocol, jsonTargetHandler } from '../aws-protocol-server';
import type { StepFunctionsContext } from './context';
import { StepFunctionsApiError } from './errors';
import { ExecutionStore, type LocalExecutionSummary } from './executions';
import { HistoryWriter } from './history';
import { dispatch } from './operations';
import { ExecutionRunner } from './runner';
import { type LocalStateMachineDeclaration, StateMachineRegistry } from './state-machines';

/**
 * A local stand-in for the Step Functions API subset the handlers and the operations tools use. It speaks the AWS
 * JSON 1.0 protocol, so the SDK reaches it through `AWS_ENDPOINT_URL_SFN` alone, and runs definitions with
 * `aws-local-stepfunctions`, whose every Task state is overridden to call a declared function through the
 * {@link FunctionInvoker}. `RedriveExecution` runs an execution again from its first state (see `redrive.ts`).
 */

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

const PROTOCOL: JsonTargetProtocol = {
  targetPrefix: 'AWSStepFunctions.',
  contentType: 'application/x-amz-json-1.0',
  maxRequestBytes: 2 * 1024 * 1024,
  internalErrorType: 'InternalFailure',
  apiError: StepFunctionsApiError,
};

/**
 * Starts the local Step Functions endpoint on 127.0.0.1. Every declared definition is validated first, so a
 * broken one fails the local runtime at boot. Throws {@link InvalidStateMachineDeclarationError}.
 */
export async function startLocalStepFunctions(
  options: LocalStepFunctionsOptions,
): Promise<LocalStepFunctions> {
  const context = createContext(options);
  const server = await startLoopbackServer(
    jsonTargetHandler(PROTOCOL, (operation, body) => dispatch(operation, body, context)),
    options.port,
  );
  return {
    url: server.url,
    stateMachineArns: Object.fromEntries(
      context.machines.all().map((machine) => [machine.name, machine.arn]),
    ),
    executions: () => context.executions.summaries(),
    stop: async () => {
      await context.shutdown();
      await server.close();
    },
  };
}

function createContext(
  options: LocalStepFunctionsOptions,
): StepFunctionsContext & { shutdown(): Promise<void> } {
  const machines = new StateMachineRegistry(options.stateMachines, options);
  const now = options.clock ?? (() => new Date());
  const executions = new ExecutionStore();
  const history = new HistoryWriter(now);
  let stopping = false;
  return {
    region: options.region,
    accountId: options.accountId,
    machines,
    executions,
    history,
    runner: new ExecutionRunner(options, history, now),
    now,
    assertAcceptingRuns: () => {
      if (stopping) throw new StepFunctionsApiError('InternalFailure', 'The endpoint is shutting down', 500);
    },
    shutdown: async () => {
      stopping = true;
      const running = executions.running();
      for (const record of running) record.abort();
      await Promise.allSettled(running.map((record) => record.settled));
    },
  };
}
