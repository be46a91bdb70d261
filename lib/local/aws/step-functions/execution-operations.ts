import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { epochSeconds } from '../aws-protocol-server';
import { operation } from './context';
import type { JsonValue } from './engine-types';
import { StepFunctionsApiError } from './errors';
import { redriveFields } from './redrive';
import { isValidName } from './state-machines';

const MAX_INPUT_BYTES = 256 * 1024;

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

export const startExecution = operation(startExecutionInput, (input, context) => {
  context.assertAcceptingRuns();
  const machine = context.machines.get(input.stateMachineArn);
  const name = input.name ?? randomUUID();
  if (!isValidName(name)) {
    throw new StepFunctionsApiError('InvalidName', `Invalid Name: '${name}'`);
  }
  const rawInput = input.input ?? '{}';
  const parsedInput = parseExecutionInput(rawInput);
  const executionArn = `arn:aws:states:${context.region}:${context.accountId}:execution:${machine.name}:${name}`;

  const existing = context.executions.find(executionArn);
  if (existing !== undefined) {
    // Standard workflows: a retried call for the same running execution is idempotent; anything else is a clash.
    if (existing.status === 'RUNNING' && existing.input === rawInput) {
      return { executionArn, startDate: epochSeconds(existing.startDate) };
    }
    throw new StepFunctionsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
  }

  const record = context.executions.add(machine, executionArn, name, rawInput, context.now());
  context.runner.start(record, parsedInput);
  return { executionArn, startDate: epochSeconds(record.startDate) };
});

export const describeExecution = operation(executionArnInput, (input, context) => {
  const record = context.executions.get(input.executionArn);
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
    ...redriveFields(record, context.now()),
  };
});

export const stopExecution = operation(stopExecutionInput, (input, context) => {
  const record = context.executions.get(input.executionArn);
  if (record.status === 'RUNNING') {
    context.history.append(record, 'ExecutionAborted', 'executionAbortedEventDetails', {
      ...(input.error !== undefined && { error: input.error }),
      ...(input.cause !== undefined && { cause: input.cause }),
    });
    record.status = 'ABORTED';
    record.stopDate = context.now();
    if (input.error !== undefined) record.error = input.error;
    if (input.cause !== undefined) record.cause = input.cause;
    record.abort();
  }
  return { stopDate: epochSeconds(record.stopDate ?? context.now()) };
});

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
