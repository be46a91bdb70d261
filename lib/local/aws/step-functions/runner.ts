import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError } from 'aws-local-stepfunctions';
import type { FunctionInvoker } from '../../invoker';
import type { UsageMeter } from '../../runtime/sdk-instrumentation';
import type { JsonValue, TaskHandlers } from './engine-types';
import { type ExecutionRecord, type ExecutionRun, isCurrent } from './executions';
import { type HistoryWriter, recordHistory } from './history';
import { TaskRunner } from './tasks';

export interface ExecutionRunnerOptions {
  readonly invoker: FunctionInvoker;
  readonly region: string;
  readonly meter?: UsageMeter;
  readonly retryIntervalMs?: number;
}

/**
 * Runs executions in `aws-local-stepfunctions`, every Task state overridden to call its local function, and
 * settles each record once the engine is done and its history is drained.
 */
export class ExecutionRunner {
  private readonly tasks: TaskRunner;

  public constructor(
    private readonly options: ExecutionRunnerOptions,
    private readonly history: HistoryWriter,
    private readonly now: () => Date,
  ) {
    this.tasks = new TaskRunner(options.invoker, options.region, history);
  }

  /** Starts a run of the record (its first, or the one a redrive asked for) with its parsed input. */
  public start(record: ExecutionRecord, input: JsonValue): void {
    const machine = record.stateMachine;
    const run: ExecutionRun = { record, number: record.redriveCount };
    const handlers: TaskHandlers = {};
    for (const [stateName, task] of machine.taskStates) {
      handlers[stateName] = (taskInput) => this.tasks.runTask(run, stateName, task.resource, taskInput);
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
          RoleArn: machine.roleArn,
          // AWS sets both on a redriven execution; the engine itself sets Input and StartTime (the latter to now).
          RedriveCount: record.redriveCount,
          ...(record.redriveDate !== undefined && { RedriveTime: record.redriveDate.toISOString() }),
        },
        StateMachine: { Id: machine.arn, Name: machine.name },
      },
    });
    record.abort = execution.abort;
    const recorded = recordHistory(this.history, run, execution.eventLogs, this.options.meter);
    record.settled = Promise.allSettled([execution.result, recorded]).then(([result]) => {
      this.finish(run, result);
    });
  }

  /** Settles the record only once its history is drained, so a SUCCEEDED status always comes with its events. */
  private finish(run: ExecutionRun, result: PromiseSettledResult<JsonValue>): void {
    const { record } = run;
    if (!isCurrent(run) || record.status !== 'RUNNING') return;
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
}
