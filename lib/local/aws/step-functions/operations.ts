import type { JsonObject } from '../../http';
import type { Operation, StepFunctionsContext } from './context';
import { StepFunctionsApiError } from './errors';
import { describeExecution, startExecution, stopExecution } from './execution-operations';
import { describeStateMachine, getExecutionHistory, listExecutions, listStateMachines } from './listings';
import { redriveExecution } from './redrive';

/** Every operation the endpoint answers, by its `X-Amz-Target` name; a Map, so `constructor` is no operation. */
const OPERATIONS: ReadonlyMap<string, Operation> = new Map([
  ['StartExecution', startExecution],
  ['DescribeExecution', describeExecution],
  ['StopExecution', stopExecution],
  ['RedriveExecution', redriveExecution],
  ['ListExecutions', listExecutions],
  ['GetExecutionHistory', getExecutionHistory],
  ['DescribeStateMachine', describeStateMachine],
  ['ListStateMachines', listStateMachines],
]);

export function dispatch(operationName: string, body: unknown, context: StepFunctionsContext): JsonObject {
  const run = OPERATIONS.get(operationName);
  if (run === undefined) {
    throw new StepFunctionsApiError(
      'UnknownOperationException',
      `The local Step Functions endpoint does not support ${operationName}`,
    );
  }
  return run(body, context);
}
