/**
 * One Lambda execution environment: a worker thread that imports one handler file once (its cold start) and
 * then runs one invocation at a time, like the Lambda runtime does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { InvocationRequest, InvocationResponse, WorkerSettings } from './function-protocol';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const settings = workerData as WorkerSettings;
const port = parentPort;
if (port === null) {
  throw new Error('function-worker must run in a worker thread');
}

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

port.on('message', async (request: InvocationRequest) => {
  let response: InvocationResponse;
  try {
    const value = await (handler as Handler)(request.event, contextFor(request));
    // Lambda returns the JSON serialization of the result, so a Date becomes a string here as it does there.
    response = {
      id: request.id,
      ok: true,
      value: value === undefined ? null : JSON.parse(JSON.stringify(value)),
    };
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    response = { id: request.id, ok: false, errorType: failure.name, errorMessage: failure.message };
  }
  port.postMessage(response);
});

port.postMessage({ ready: true });
