import type { z } from 'zod';
import type { JsonObject } from '../../http';
import { validateInput } from '../aws-protocol-server';
import { StepFunctionsApiError } from './errors';
import type { ExecutionStore } from './executions';
import type { HistoryWriter } from './history';
import type { ExecutionRunner } from './runner';
import type { StateMachineRegistry } from './state-machines';

/** What the API operations work on: the endpoint's state and its runner. */
export interface StepFunctionsContext {
  readonly region: string;
  readonly accountId: string;
  readonly machines: StateMachineRegistry;
  readonly executions: ExecutionStore;
  readonly history: HistoryWriter;
  readonly runner: ExecutionRunner;
  readonly now: () => Date;
  /** Refuses to start or redrive an execution once the endpoint is shutting down. */
  assertAcceptingRuns(): void;
}

/** One API operation: its request body, unchecked, and the endpoint's state in; its answer out. */
export type Operation = (body: unknown, context: StepFunctionsContext) => JsonObject;

/** An operation whose body is checked against `schema` first, as AWS validates a request before acting on it. */
export function operation<T>(
  schema: z.ZodType<T>,
  handle: (input: T, context: StepFunctionsContext) => JsonObject,
): Operation {
  return (body, context) =>
    handle(
      validateInput(schema, body, (message) => new StepFunctionsApiError('ValidationException', message)),
      context,
    );
}
