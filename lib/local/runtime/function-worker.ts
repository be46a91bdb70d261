/**
 * One Lambda execution environment: a worker thread that imports one handler file once (its cold start) and
 * then runs one invocation at a time, like the Lambda runtime does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { InvocationRequest, WorkerSettings } from './function-protocol';
import { installOutputMeter, outputUsage } from './output-meter';
import { addUsage, installSdkInstrumentation } from './sdk-instrumentation';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const settings = workerData as WorkerSettings;
const port = parentPort;
if (port === null) {
  throw new Error('function-worker must run in a worker thread');
}

// Before the handler module loads, so that every AWS client it builds is metered (and faulted, if configured),
// and what its cold start writes is counted too (Lambda ships init output to CloudWatch Logs like any other).
const instrumentation = installSdkInstrumentation(settings.faults);
const output = installOutputMeter({
  discard: settings.discardOutput === true,
  label: `[${settings.functionName}]`,
});

const handlerModule = (await import(settings.entryUrl)) as { handler?: unknown };
const handler = handlerModule.handler;
if (typeof handler !== 'function') {
  throw new TypeError(`${settings.entryUrl} has no exported function named handler`);
}

function unsupported(name: string): never {
  throw new Error(`context.${name} is not supported: return a value or a promise from the handler`);
}

function contextFor(request: InvocationRequest): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: settings.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: settings.functionArn,
    memoryLimitInMB: String(settings.memoryMb),
    awsRequestId: request.requestId,
    logGroupName: `/aws/lambda/${settings.functionName}`,
    logStreamName: `local/${settings.functionName}/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, request.deadlineEpochMs - Date.now()),
    done: () => unsupported('done'),
    fail: () => unsupported('fail'),
    succeed: () => unsupported('succeed'),
  };
}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string };

port.on('message', async (request: InvocationRequest) => {
  let outcome: Outcome;
  try {
    const value = await (handler as Handler)(request.event, contextFor(request));
    // Lambda returns the JSON serialization of the result, so a Date becomes a string here as it does there.
    outcome = { ok: true, value: value === undefined ? null : JSON.parse(JSON.stringify(value)) };
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    outcome = { ok: false, errorType: failure.name, errorMessage: failure.message };
  }
  // An injected crash fails the invocation whatever the handler made of it: a dead process answers nothing.
  const crash = instrumentation.takeCrash();
  if (crash !== undefined) {
    outcome = { ok: false, errorType: 'Runtime.ExitError', errorMessage: crash.message };
  }
  const usage = instrumentation.takeUsage();
  addUsage(usage, outputUsage(output.take()));
  port.postMessage({ id: request.id, usage, ...outcome });
});

port.postMessage({ ready: true });
