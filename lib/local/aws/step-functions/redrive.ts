import { z } from 'zod';
import type { JsonObject } from '../../http';
import { epochSeconds } from '../aws-protocol-server';
import { operation } from './context';
import type { JsonValue } from './engine-types';
import { StepFunctionsApiError } from './errors';
import type { ExecutionRecord } from './executions';

/*
 * `RedriveExecution` follows AWS's rules (which executions may be redriven, `redriveCount`, `redriveDate`,
 * `redriveStatus`, the `ExecutionRedriven` history event, client tokens) with one difference: the engine cannot
 * resume an execution mid-flow, so a redriven execution runs again from its first state, with the same input,
 * under the same execution ARN. AWS instead resumes at the state that failed and keeps the results of the states
 * that succeeded. The two agree for a workflow whose tasks are idempotent, as every saga task is through its
 * ledger; a workflow whose tasks are not must not rely on local redrive.
 */

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

const redriveExecutionInput = z.object({
  executionArn: z.string(),
  clientToken: z.string().min(1).max(64).optional(),
});

/**
 * AWS's `RedriveExecution`, except that the execution runs again from its first state (see above). A repeated
 * `clientToken` answers with the redrive it started, without redriving again.
 */
export const redriveExecution = operation(redriveExecutionInput, (input, context) => {
  context.assertAcceptingRuns();
  const record = context.executions.get(input.executionArn);
  const now = context.now();
  const repeated = record.redriveTokens.find(
    (used) =>
      used.token === input.clientToken &&
      now.getTime() - used.usedAt.getTime() <= REDRIVE_LIMITS.clientTokenTtlMs,
  );
  if (repeated !== undefined) return { redriveDate: epochSeconds(repeated.redriveDate) };
  const reason = notRedrivableReason(record, now);
  if (reason !== undefined) throw new StepFunctionsApiError('ExecutionNotRedrivable', reason);

  record.redriveCount += 1;
  record.redriveDate = now;
  record.status = 'RUNNING';
  delete record.output;
  delete record.error;
  delete record.cause;
  delete record.stopDate;
  context.history.append(record, 'ExecutionRedriven', 'executionRedrivenEventDetails', {
    redriveCount: record.redriveCount,
  });
  if (input.clientToken !== undefined) {
    record.redriveTokens.push({ token: input.clientToken, usedAt: now, redriveDate: now });
    record.redriveTokens.splice(0, record.redriveTokens.length - REDRIVE_LIMITS.clientTokensKept);
  }
  // The input was validated when the execution started.
  context.runner.start(record, JSON.parse(record.input) as JsonValue);
  return { redriveDate: epochSeconds(now) };
});

/** What DescribeExecution says about redrive: AWS returns these for executions of STANDARD machines only. */
export function redriveFields(record: ExecutionRecord, now: Date): JsonObject {
  if (record.stateMachine.type === 'EXPRESS') return {};
  const reason = notRedrivableReason(record, now);
  return {
    redriveCount: record.redriveCount,
    ...(record.redriveDate !== undefined && { redriveDate: epochSeconds(record.redriveDate) }),
    redriveStatus: reason === undefined ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
    ...(reason !== undefined && { redriveStatusReason: reason }),
  };
}

/** Why `RedriveExecution` would refuse the execution now, in AWS's `redriveStatusReason` words; else undefined. */
function notRedrivableReason(record: ExecutionRecord, now: Date): string | undefined {
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
