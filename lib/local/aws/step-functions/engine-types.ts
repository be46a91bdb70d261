import type { RunOptions, StateMachine } from 'aws-local-stepfunctions';

/** The types of `aws-local-stepfunctions` this endpoint builds on, named once. */
export type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
export type TaskHandler = TaskHandlers[string];
/** A JSON value as the engine passes it between states. */
export type JsonValue = Parameters<TaskHandler>[0];
/** One entry of the engine's event log, which the history recorder maps to AWS history events. */
export type EngineEvent =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export function isJsonObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
