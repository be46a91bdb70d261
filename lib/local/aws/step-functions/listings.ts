import { z } from 'zod';
import { epochSeconds } from '../aws-protocol-server';
import { operation } from './context';
import { StepFunctionsApiError } from './errors';

/** The read-only operations: listing executions and their history, describing and listing state machines. */

const pageInput = {
  maxResults: z.number().int().min(0).max(1000).optional(),
  nextToken: z.string().optional(),
};
const listExecutionsInput = z.object({
  stateMachineArn: z.string(),
  statusFilter: z
    .enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'])
    .optional(),
  redriveFilter: z.enum(['REDRIVEN', 'NOT_REDRIVEN']).optional(),
  ...pageInput,
});
const historyInput = z.object({
  executionArn: z.string(),
  maxResults: pageInput.maxResults,
  reverseOrder: z.boolean().optional(),
  nextToken: pageInput.nextToken,
  includeExecutionData: z.boolean().optional(),
});
const describeStateMachineInput = z.object({ stateMachineArn: z.string() });
const listStateMachinesInput = z.object(pageInput);

export const listExecutions = operation(listExecutionsInput, (input, context) => {
  const machine = context.machines.get(input.stateMachineArn);
  if (input.statusFilter === 'PENDING_REDRIVE') {
    // AWS: PENDING_REDRIVE applies to the child executions of a Map Run only.
    throw new StepFunctionsApiError(
      'ValidationException',
      'statusFilter PENDING_REDRIVE needs a mapRunArn, not a stateMachineArn',
    );
  }
  const after = input.nextToken === undefined ? undefined : decodeToken(input.nextToken);
  const redriven = input.redriveFilter === undefined ? undefined : input.redriveFilter === 'REDRIVEN';
  const matching = context.executions.newestFirst(
    (record) =>
      record.stateMachine === machine &&
      (input.statusFilter === undefined || record.status === input.statusFilter) &&
      (redriven === undefined || record.redriveCount > 0 === redriven) &&
      (after === undefined || record.sequence < after),
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
});

export const getExecutionHistory = operation(historyInput, (input, context) => {
  const record = context.executions.get(input.executionArn);
  const ordered = input.reverseOrder === true ? [...record.history].reverse() : record.history;
  const includeData = input.includeExecutionData !== false;
  const { items, nextToken } = offsetPage(ordered, input);
  return {
    events: items.map((event) => ({
      id: event.id,
      previousEventId: event.previousEventId,
      timestamp: epochSeconds(event.timestamp),
      type: event.type,
      ...(event.detailsKey !== undefined &&
        event.details !== undefined && {
          [event.detailsKey]: includeData ? event.details : withoutData(event.details),
        }),
    })),
    ...(nextToken !== undefined && { nextToken }),
  };
});

export const describeStateMachine = operation(describeStateMachineInput, (input, context) => {
  const machine = context.machines.get(input.stateMachineArn);
  return {
    stateMachineArn: machine.arn,
    name: machine.name,
    status: 'ACTIVE',
    definition: machine.definitionText,
    roleArn: machine.roleArn,
    type: machine.type,
    creationDate: epochSeconds(machine.creationDate),
  };
});

export const listStateMachines = operation(listStateMachinesInput, (input, context) => {
  const all = context.machines.all().sort((a, b) => a.name.localeCompare(b.name));
  const { items, nextToken } = offsetPage(all, input);
  return {
    stateMachines: items.map((machine) => ({
      stateMachineArn: machine.arn,
      name: machine.name,
      type: machine.type,
      creationDate: epochSeconds(machine.creationDate),
    })),
    ...(nextToken !== undefined && { nextToken }),
  };
});

/** One page of `all`, whose token is the offset of the next page. */
function offsetPage<T>(
  all: readonly T[],
  input: { readonly maxResults?: number | undefined; readonly nextToken?: string | undefined },
): { items: T[]; nextToken?: string } {
  const offset = input.nextToken === undefined ? 0 : decodeToken(input.nextToken);
  const size = pageSize(input.maxResults);
  return {
    items: all.slice(offset, offset + size),
    ...(offset + size < all.length && { nextToken: encodeToken(offset + size) }),
  };
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
    return z.object({ position: z.number().int().nonnegative() }).parse(decoded).position;
  } catch {
    throw new StepFunctionsApiError('InvalidToken', `Invalid Token: '${token}'`);
  }
}
