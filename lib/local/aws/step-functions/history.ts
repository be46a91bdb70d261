import type { UsageMeter } from '../../runtime/sdk-instrumentation';
import type { EngineEvent } from './engine-types';
import { type ExecutionRecord, type ExecutionRun, isCurrent } from './executions';

/** Appends AWS history events to execution records, numbered as `GetExecutionHistory` reports them. */
export class HistoryWriter {
  public constructor(private readonly now: () => Date) {}

  public append(
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

  /** {@link append} for events of a run, which are dropped once a redrive has superseded the run. */
  public appendRun(
    run: ExecutionRun,
    type: string,
    detailsKey?: string,
    details?: Record<string, unknown>,
    timestamp?: Date,
  ): void {
    if (isCurrent(run)) this.append(run.record, type, detailsKey, details, timestamp);
  }
}

/**
 * Drains the engine's event log of one run into the record's history, mapped to the AWS history event types;
 * engine-only events (retried, caught) are dropped.
 */
export async function recordHistory(
  history: HistoryWriter,
  run: ExecutionRun,
  events: AsyncGenerator<EngineEvent>,
  meter: UsageMeter | undefined,
): Promise<void> {
  for await (const event of events) {
    if (!recordExecutionEvent(history, run, event)) recordStateEvent(history, run, event, meter);
  }
}

/** The execution-level events; false for any other event. */
function recordExecutionEvent(history: HistoryWriter, run: ExecutionRun, event: EngineEvent): boolean {
  const at = new Date(event.timestamp);
  switch (event.type) {
    case 'ExecutionStarted':
      // A redriven execution continues its history after ExecutionRedriven; it does not start again.
      if (run.number > 0) return true;
      history.appendRun(
        run,
        'ExecutionStarted',
        'executionStartedEventDetails',
        {
          input: run.record.input,
          inputDetails: { truncated: false },
          roleArn: run.record.stateMachine.roleArn,
        },
        at,
      );
      return true;
    case 'ExecutionSucceeded':
      history.appendRun(
        run,
        'ExecutionSucceeded',
        'executionSucceededEventDetails',
        { output: JSON.stringify(event.output), outputDetails: { truncated: false } },
        at,
      );
      return true;
    case 'ExecutionFailed':
      history.appendRun(
        run,
        'ExecutionFailed',
        'executionFailedEventDetails',
        {
          error: event.Error,
          cause: typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause),
        },
        at,
      );
      return true;
    case 'ExecutionTimeout':
      history.appendRun(
        run,
        'ExecutionTimedOut',
        'executionTimedOutEventDetails',
        { error: 'States.Timeout' },
        at,
      );
      return true;
    case 'ExecutionAborted':
      // StopExecution records its own ExecutionAborted event with the caller's error and cause.
      return true;
    default:
      return false;
  }
}

/** The events of states and Map iterations. */
function recordStateEvent(
  history: HistoryWriter,
  run: ExecutionRun,
  event: EngineEvent,
  meter: UsageMeter | undefined,
): void {
  const at = new Date(event.timestamp);
  switch (event.type) {
    case 'StateEntered':
      meter?.count('StepFunctions:StateTransition');
      history.appendRun(
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
    case 'StateExited':
      history.appendRun(
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
    case 'StateFailed':
      if (event.state.type === 'Map' || event.state.type === 'Parallel') {
        history.appendRun(run, `${event.state.type}StateFailed`, undefined, undefined, at);
      }
      return;
    case 'MapIterationStarted':
    case 'MapIterationSucceeded':
    case 'MapIterationFailed':
      history.appendRun(
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
