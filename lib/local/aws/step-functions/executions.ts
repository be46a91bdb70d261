import { StepFunctionsApiError } from './errors';
import type { CompiledStateMachine } from './state-machines';

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

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: Date;
  readonly type: string;
  readonly detailsKey?: string;
  readonly details?: Record<string, unknown>;
}

export interface ExecutionRecord {
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
export interface ExecutionRun {
  readonly record: ExecutionRecord;
  /** The record's `redriveCount` when the run started. */
  readonly number: number;
}

/** A run superseded by a redrive (its tasks may still finish after an abort) must not touch the record. */
export function isCurrent(run: ExecutionRun): boolean {
  return run.record.redriveCount === run.number;
}

/** Every execution since the endpoint started, by ARN and in start order. */
export class ExecutionStore {
  private readonly byArn = new Map<string, ExecutionRecord>();
  private sequence = 0;

  /** A new RUNNING record; the runner attaches its `abort` and `settled` when it starts the execution. */
  public add(
    stateMachine: CompiledStateMachine,
    executionArn: string,
    name: string,
    input: string,
    startDate: Date,
  ): ExecutionRecord {
    const record: ExecutionRecord = {
      sequence: ++this.sequence,
      executionArn,
      stateMachine,
      name,
      input,
      startDate,
      status: 'RUNNING',
      redriveCount: 0,
      redriveTokens: [],
      history: [],
      abort: () => {},
      settled: Promise.resolve(),
    };
    this.byArn.set(executionArn, record);
    return record;
  }

  public find(executionArn: string): ExecutionRecord | undefined {
    return this.byArn.get(executionArn);
  }

  /** The execution a caller names; an unknown or malformed ARN is answered with the API's error. */
  public get(executionArn: string): ExecutionRecord {
    if (!executionArn.startsWith('arn:aws')) {
      throw new StepFunctionsApiError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const record = this.byArn.get(executionArn);
    if (record === undefined) {
      throw new StepFunctionsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    }
    return record;
  }

  public newestFirst(matches: (record: ExecutionRecord) => boolean = () => true): ExecutionRecord[] {
    return [...this.byArn.values()].filter(matches).sort((a, b) => b.sequence - a.sequence);
  }

  public running(): ExecutionRecord[] {
    return [...this.byArn.values()].filter((record) => record.status === 'RUNNING');
  }

  public summaries(): LocalExecutionSummary[] {
    return this.newestFirst().map((record) => ({
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
}
