import type { IncomingMessage, ServerResponse } from 'node:http';
import { type JsonObject, parseJsonBody, readBody, startLoopbackServer } from '../../http';
import { sendJson } from '../aws-protocol-server';
import { type DeadLetterRecord, type ScheduleInvocationRecord, TargetDelivery } from './delivery';
import { InvalidSchedulerOptionError, invalid, SchedulerApiError } from './errors';
import type { LocalSchedulerOptions } from './options';
import { route } from './routes';
import type { SchedulerContext } from './schedule-operations';
import { StopSignal } from './stop-signal';
import { type ScheduleState, ScheduleStore, scheduleState } from './store';
import { ScheduleTimers } from './timers';

/**
 * A local stand-in for the EventBridge Scheduler API subset the system uses. It speaks the REST-JSON protocol of
 * `@aws-sdk/client-scheduler`, so handlers reach it through `AWS_ENDPOINT_URL_SCHEDULER` alone, and fires
 * `at()` and `rate()` schedules to the second with the retry policy, dead-letter queue and
 * ActionAfterCompletion semantics of the real service (one deliberate difference: see `delivery.ts`).
 */

export interface LocalScheduleSummary {
  readonly arn: string;
  readonly name: string;
  readonly groupName: string;
  readonly expression: string;
  readonly state: ScheduleState;
  readonly targetArn: string;
  readonly functionName: string;
  /** ISO time of the next invocation; absent when disabled or completed. */
  readonly nextInvocation?: string;
}

export interface LocalSchedulerSnapshot {
  readonly schedules: readonly LocalScheduleSummary[];
  readonly invocations: readonly ScheduleInvocationRecord[];
  readonly deadLetters: readonly DeadLetterRecord[];
}

export interface LocalScheduler {
  /** Base URL for `AWS_ENDPOINT_URL_SCHEDULER` or a client's `endpoint`. */
  readonly url: string;
  /** For the `/_local/` inspection route: schedules, recent invocations and dead letters. */
  inspect(): LocalSchedulerSnapshot;
  /** Cancels timers and pending retries and closes the server; an invocation already running is not awaited. */
  stop(): Promise<void>;
}

const MAX_REQUEST_BYTES = 1024 * 1024;

/** Starts the local EventBridge Scheduler endpoint on 127.0.0.1, with the `default` schedule group in place. */
export async function startLocalScheduler(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const stopSignal = new StopSignal();
  const store = new ScheduleStore(options.region, options.accountId);
  const delivery = new TargetDelivery(options, stopSignal, store);
  const timers = new ScheduleTimers(stopSignal, rateOverrides(options), (schedule, scheduledTime) => {
    void delivery.deliver(schedule, scheduledTime);
  });
  const context: SchedulerContext = {
    store,
    timers,
    // A Map, not the record, so that names such as `constructor` cannot resolve to Object.prototype members.
    functions: new Map(Object.entries(options.targetFunctions)),
    canDeadLetter: options.deadLetters !== undefined,
  };
  const server = await startLoopbackServer(
    (request, response) => handleRequest(context, request, response),
    options.port,
  );
  return {
    url: server.url,
    inspect: () => inspect(store, delivery),
    stop: async () => {
      stopSignal.stop();
      for (const schedule of store.schedules.values()) timers.disarm(schedule);
      await server.close();
    },
  };
}

function rateOverrides(options: LocalSchedulerOptions): ReadonlyMap<string, number> {
  const overrides = new Map(Object.entries(options.rateOverridesSeconds ?? {}));
  for (const [name, seconds] of overrides) {
    if (!(seconds > 0)) {
      throw new InvalidSchedulerOptionError(`rate override for ${name} must be > 0 s`);
    }
  }
  return overrides;
}

function inspect(store: ScheduleStore, delivery: TargetDelivery): LocalSchedulerSnapshot {
  return {
    schedules: [...store.schedules.values()].map((schedule) => ({
      arn: schedule.arn,
      name: schedule.name,
      groupName: schedule.groupName,
      expression: schedule.request.ScheduleExpression,
      state: scheduleState(schedule),
      targetArn: schedule.request.Target.Arn,
      functionName: schedule.functionName,
      ...(schedule.nextFireAt !== undefined && {
        nextInvocation: new Date(schedule.nextFireAt).toISOString(),
      }),
    })),
    invocations: [...delivery.invocations],
    deadLetters: [...delivery.deadLetters],
  };
}

async function handleRequest(context: SchedulerContext, request: IncomingMessage, response: ServerResponse) {
  try {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const text = await readBody(request, MAX_REQUEST_BYTES, () => invalid('The request body is too large'));
    const body = parseJsonBody(text, () => invalid('The request body is not valid JSON'));
    const answer = route(request.method ?? 'GET', url.pathname, url.searchParams, body, context);
    sendRestJson(response, 200, answer);
  } catch (error) {
    if (error instanceof SchedulerApiError) {
      sendRestJson(response, error.statusCode, { Message: error.message }, error.code);
      return;
    }
    sendRestJson(
      response,
      500,
      { Message: error instanceof Error ? error.message : String(error) },
      'InternalServerException',
    );
  }
}

/** REST-JSON names an error in the `x-amzn-errortype` header, not in the body as the JSON-target protocols do. */
function sendRestJson(
  response: ServerResponse,
  statusCode: number,
  body: JsonObject,
  errorType?: string,
): void {
  sendJson(
    response,
    statusCode,
    body,
    'application/json',
    errorType === undefined ? undefined : { 'x-amzn-errortype': errorType },
  );
}
