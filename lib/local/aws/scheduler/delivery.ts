import { randomUUID } from 'node:crypto';
import { FunctionInvocationError } from '../../invoker';
import type { LocalSchedulerOptions } from './options';
import { type ExhaustedCondition, nextRetry, retryPolicy } from './retry-policy';
import type { StopSignal } from './stop-signal';
import type { ScheduleStore, StoredSchedule } from './store';

/*
 * One deliberate difference from AWS: AWS invokes a Lambda target asynchronously, so a handler's error is retried
 * by Lambda's own async retries, not by the schedule's RetryPolicy. Locally the two layers are folded into one: a
 * handler that throws counts as a failed delivery, is retried per the schedule's RetryPolicy, and ends in its
 * dead-letter queue.
 */

/** One attempt to invoke a schedule's target. */
export interface ScheduleInvocationRecord {
  readonly scheduleArn: string;
  readonly scheduleName: string;
  readonly groupName: string;
  readonly functionName: string;
  readonly executionId: string;
  readonly scheduledTime: string;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly outcome: 'SUCCEEDED' | 'FAILED';
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

export interface DeadLetterRecord {
  readonly scheduleArn: string;
  readonly queueArn: string;
  readonly executionId: string;
  readonly scheduledTime: string;
  readonly at: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** False when sending to the queue failed; `sendError` says why. */
  readonly delivered: boolean;
  readonly sendError?: string;
}

/** Why a target invocation failed, as Lambda names it. */
interface Failure {
  readonly code: string;
  readonly message: string;
}

/** One firing of a schedule on its way to the target. */
interface Firing {
  readonly schedule: StoredSchedule;
  readonly scheduledTime: number;
  readonly executionId: string;
}

/** Invokes schedule targets with the schedule's retry policy and dead-letter queue, and keeps what happened. */
export class TargetDelivery {
  public readonly invocations: ScheduleInvocationRecord[] = [];
  public readonly deadLetters: DeadLetterRecord[] = [];

  public constructor(
    private readonly options: LocalSchedulerOptions,
    private readonly stop: StopSignal,
    private readonly store: ScheduleStore,
  ) {}

  /** Invokes the target, retrying per RetryPolicy, then dead-letters; a completed DELETE schedule is then removed. */
  public async deliver(schedule: StoredSchedule, scheduledTime: number): Promise<void> {
    const { Target: target } = schedule.request;
    const policy = retryPolicy(target.RetryPolicy, this.options);
    const firing: Firing = { schedule, scheduledTime, executionId: randomUUID() };
    const payload: unknown = target.Input === undefined ? {} : JSON.parse(target.Input);

    for (let attempt = 1; ; attempt++) {
      const startedAt = new Date();
      const failure = await this.invoke(schedule.functionName, payload);
      this.recordAttempt(firing, attempt, startedAt, failure);
      if (this.stop.stopped) return;
      if (failure === undefined) break;

      const { delayMs, exhausted } = nextRetry(policy, attempt, scheduledTime);
      if (exhausted !== undefined) {
        await this.deadLetter(firing, attempt - 1, exhausted, failure);
        break;
      }
      if (!(await this.stop.sleep(delayMs))) return;
    }
    this.removeIfCompleted(schedule);
  }

  private async invoke(functionName: string, payload: unknown): Promise<Failure | undefined> {
    try {
      await this.options.invoker.invoke(functionName, payload);
      return undefined;
    } catch (error) {
      if (error instanceof FunctionInvocationError)
        return { code: error.errorType, message: error.errorMessage };
      return {
        code: error instanceof Error ? error.name : 'Error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
  }

  private recordAttempt(
    firing: Firing,
    attempt: number,
    startedAt: Date,
    failure: Failure | undefined,
  ): void {
    const { schedule } = firing;
    this.invocations.push({
      scheduleArn: schedule.arn,
      scheduleName: schedule.name,
      groupName: schedule.groupName,
      functionName: schedule.functionName,
      executionId: firing.executionId,
      scheduledTime: new Date(firing.scheduledTime).toISOString(),
      attempt,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      outcome: failure === undefined ? 'SUCCEEDED' : 'FAILED',
      ...(failure !== undefined && { errorCode: failure.code, errorMessage: failure.message }),
    });
    this.trim(this.invocations);
  }

  private async deadLetter(
    firing: Firing,
    retryAttempts: number,
    exhaustedCondition: ExhaustedCondition,
    failure: Failure,
  ): Promise<void> {
    const target = firing.schedule.request.Target;
    const queueArn = target.DeadLetterConfig?.Arn;
    const sender = this.options.deadLetters;
    if (queueArn === undefined || sender === undefined) return;
    const scheduledTime = new Date(firing.scheduledTime).toISOString();
    // The attribute names EventBridge Scheduler puts on its dead-letter messages.
    const attributes: Record<string, string> = {
      ERROR_CODE: failure.code,
      ERROR_MESSAGE: failure.message,
      EXECUTION_ID: firing.executionId,
      EXHAUSTED_RETRY_CONDITION: exhaustedCondition,
      IS_PAYLOAD_TRUNCATED: 'false',
      RETRY_ATTEMPTS: String(retryAttempts),
      SCHEDULED_TIME: scheduledTime,
      SCHEDULE_ARN: firing.schedule.arn,
      TARGET_ARN: target.Arn,
    };
    const base = {
      scheduleArn: firing.schedule.arn,
      queueArn,
      executionId: firing.executionId,
      scheduledTime,
    };
    try {
      await sender.sendToDeadLetterQueue(queueArn, target.Input ?? '{}', attributes);
      this.deadLetters.push({ ...base, attributes, at: new Date().toISOString(), delivered: true });
    } catch (error) {
      this.deadLetters.push({
        ...base,
        attributes,
        at: new Date().toISOString(),
        delivered: false,
        sendError: error instanceof Error ? error.message : String(error),
      });
    }
    this.trim(this.deadLetters);
  }

  /** ActionAfterCompletion DELETE: the schedule goes once its last invocation, retries included, is over. */
  private removeIfCompleted(schedule: StoredSchedule): void {
    if (this.stop.stopped || !schedule.completed || schedule.request.ActionAfterCompletion !== 'DELETE')
      return;
    this.store.removeIfCurrent(schedule);
  }

  private trim(records: unknown[]): void {
    const max = this.options.maxInvocationRecords ?? 1000;
    if (records.length > max) records.splice(0, records.length - max);
  }
}
