import { Client } from '@smithy/core/client';
import { HttpResponse } from '@smithy/core/protocols';
import { seededRandom } from '../../seeded-random';
import { LocalServerError } from '../http';
import { transactionWriteUnits } from './transaction-capacity';

/**
 * What the local runtime hangs on every AWS SDK client inside an execution environment, before the handler
 * module loads: a meter that counts every API request per service and operation (and the DynamoDB capacity
 * it consumed), and, when configured, a fault injector. Handlers know nothing of it: it is installed by
 * patching the Smithy `Client` all SDK v3 clients share, so the same handler code runs here and in Lambda.
 */

/** Kinds of fault injected into SDK calls. */
export const FaultKind = {
  /** Answered 400 `ThrottlingException` (DynamoDB: `ProvisionedThroughputExceededException`), nothing done. */
  THROTTLING: 'throttling',
  /** Answered 500 `InternalServerError`, nothing done. */
  SERVER_ERROR: 'server-error',
  /** No answer: the SDK sees a `TimeoutError`; half of them were applied by the service all the same. */
  TIMEOUT: 'timeout',
  /** A write goes through, then the invocation dies before it can do anything else. */
  CRASH_AFTER_WRITE: 'crash-after-write',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];
export const FAULT_KINDS: readonly FaultKind[] = Object.values(FaultKind);

export interface FaultOptions {
  /** Fraction (0..1) of SDK requests that get a fault, its kind drawn evenly from `kinds`. */
  readonly rate: number;
  /** Seed of the draws; each execution environment derives its own sequence from it. */
  readonly seed: number;
  /** Default: every kind. */
  readonly kinds?: readonly FaultKind[];
  /** How long a request that is never answered takes to time out. Default 200 ms. */
  readonly timeoutMs?: number;
}

/** Requests and DynamoDB capacity, per `Service:Operation`. */
export interface OperationUsage {
  requests: number;
  readCapacityUnits: number;
  writeCapacityUnits: number;
}
export type Usage = Record<string, OperationUsage>;

/**
 * Thrown into the handler once an injected crash has struck; the execution environment reports the invocation
 * as failed whatever the handler does with it, as a process that died would.
 */
export class InjectedCrashError extends LocalServerError {
  public override readonly name = 'InjectedCrashError';

  public constructor(operation: string) {
    super('INJECTED_CRASH', `injected crash after ${operation}: the execution environment died`);
  }
}

/** Adds `other` into `total`. */
export function addUsage(total: Usage, other: Usage): void {
  for (const [key, value] of Object.entries(other)) {
    const entry = total[key] ?? { requests: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };
    total[key] = entry;
    entry.requests += value.requests;
    entry.readCapacityUnits += value.readCapacityUnits;
    entry.writeCapacityUnits += value.writeCapacityUnits;
  }
}

/** Counts requests into a {@link Usage}; one per execution environment and one for the runtime's own clients. */
export class UsageMeter {
  private usage: Usage = {};

  public count(key: string, requests = 1, capacity: { read?: number; write?: number } = {}): void {
    addUsage(this.usage, {
      [key]: { requests, readCapacityUnits: capacity.read ?? 0, writeCapacityUnits: capacity.write ?? 0 },
    });
  }

  public add(usage: Usage): void {
    addUsage(this.usage, usage);
  }

  public snapshot(): Usage {
    const copy: Usage = {};
    addUsage(copy, this.usage);
    return copy;
  }

  /** The usage so far, and a fresh start. */
  public take(): Usage {
    const taken = this.usage;
    this.usage = {};
    return taken;
  }
}

/** A stable 32-bit hash, to derive one seed per execution environment. */
export function hashSeed(...parts: readonly (string | number)[]): number {
  let hash = 2166136261;
  for (const char of parts.join('|')) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
  }
  return hash >>> 0;
}

const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
]);
const DYNAMODB_WRITES = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);
/** Operations that change something: a crash after one of them leaves a half-done invocation behind. */
const WRITE_OPERATION = /^(Put|Update|Delete|Create|Send|Start|Stop|Transact|BatchWrite|Change|Tag|Untag)/;

interface CallContext {
  readonly clientName?: string;
  readonly commandName?: string;
  readonly __smithy_context?: { readonly operation?: string };
}

function serviceOf(context: CallContext): string {
  return (context.clientName ?? 'Unknown').replace(/Client$/, '');
}

function operationOf(context: CallContext): string {
  return context.__smithy_context?.operation ?? (context.commandName ?? 'Unknown').replace(/Command$/, '');
}

interface ConsumedCapacity {
  readonly CapacityUnits?: number;
}

function capacityUnits(output: unknown): number {
  if (typeof output !== 'object' || output === null || !('ConsumedCapacity' in output)) return 0;
  const consumed = (output as { ConsumedCapacity?: ConsumedCapacity | readonly ConsumedCapacity[] })
    .ConsumedCapacity;
  const list = Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed];
  return list.reduce((sum: number, entry: ConsumedCapacity) => sum + (entry.CapacityUnits ?? 0), 0);
}

/** The serialized body of an HTTP request on its way out: text, or the bytes the JSON protocols encode. */
function requestBodyText(request: unknown): string | undefined {
  const body = (request as { body?: unknown } | undefined)?.body;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array)
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return undefined;
}

/** The error answer a service gives for a fault, in the JSON protocols every client here speaks. */
function faultResponse(service: string, kind: 'throttling' | 'server-error'): HttpResponse {
  const throttled = kind === 'throttling';
  const type = throttled
    ? service === 'DynamoDB'
      ? 'ProvisionedThroughputExceededException'
      : 'ThrottlingException'
    : service === 'Scheduler'
      ? 'InternalServerException'
      : 'InternalServerError';
  const message = throttled ? 'Rate exceeded (injected fault)' : 'Internal error (injected fault)';
  return new HttpResponse({
    statusCode: throttled ? (service === 'Scheduler' ? 429 : 400) : 500,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-errortype': type,
      'x-amzn-requestid': `injected-${Date.now().toString(36)}`,
    },
    body: new TextEncoder().encode(JSON.stringify({ __type: type, message })),
  });
}

function timeoutError(timeoutMs: number): Error {
  // What the SDK's Node HTTP handler throws when its requestTimeout passes; the SDK retries it as transient.
  const error = new Error(`Connection timed out after ${timeoutMs} ms (injected fault)`);
  error.name = 'TimeoutError';
  return error;
}

export interface Instrumentation {
  /** Usage since the last call. */
  takeUsage(): Usage;
  /** Whether an injected crash struck since the last call (and clears it). */
  takeCrash(): InjectedCrashError | undefined;
}

type Next = (args: { input: Record<string, unknown>; request?: unknown }) => Promise<{
  output?: unknown;
  response?: unknown;
}>;
type Middleware = (next: Next, context: CallContext) => Next;
interface Stack {
  add(middleware: Middleware, options: { step: string; name: string; priority?: string }): void;
}

let installed: Instrumentation | undefined;

/**
 * Patches every SDK v3 client of this thread (they all extend one Smithy `Client`) so that its first `send`
 * adds the meter and, with `faults`, the injector to its middleware stack. Call once, before the handler module
 * is imported; a second call returns the first installation.
 */
export function installSdkInstrumentation(faults?: FaultOptions): Instrumentation {
  if (installed !== undefined) return installed;
  const meter = new UsageMeter();
  const random = seededRandom(faults?.seed ?? 0);
  const kinds = faults?.kinds ?? FAULT_KINDS;
  const timeoutMs = faults?.timeoutMs ?? 200;
  let crash: InjectedCrashError | undefined;
  const instrumented = new WeakSet<object>();
  // Per call: what DynamoDB would bill for a transaction, read from the request on the wire (see
  // transaction-capacity.ts), for the outer meter to set against what DynamoDB Local reports.
  const transactionUnits = new WeakMap<CallContext, number>();

  const draw = (): FaultKind | undefined => {
    if (faults === undefined || faults.rate <= 0 || kinds.length === 0) return undefined;
    if (random() >= faults.rate) return undefined;
    return kinds[Math.floor(random() * kinds.length)];
  };

  // Outermost: DynamoDB reports the capacity it consumed, once per call (retries included in its answer).
  const capacityMeter: Middleware = (next, context) => async (args) => {
    const service = serviceOf(context);
    const operation = operationOf(context);
    if (service === 'EventBridge' && operation === 'PutEvents') {
      // EventBridge bills per event, not per request.
      const entries = (args.input.Entries as readonly unknown[] | undefined)?.length ?? 0;
      meter.count('EventBridge:PutEvents(entries)', entries);
    }
    if (service !== 'DynamoDB' || !CAPACITY_OPERATIONS.has(operation)) return await next(args);
    const result = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
    const units = Math.max(capacityUnits(result.output), transactionUnits.get(context) ?? 0);
    meter.count(
      `${service}:${operation}`,
      0,
      DYNAMODB_WRITES.has(operation) ? { write: units } : { read: units },
    );
    return result;
  };

  // Innermost, next to the wire: every attempt is a request, and a fault replaces or loses the answer.
  const wire: Middleware = (next, context) => async (args) => {
    const service = serviceOf(context);
    const operation = operationOf(context);
    if (crash !== undefined) throw crash;
    meter.count(`${service}:${operation}`);
    if (service === 'DynamoDB' && operation === 'TransactWriteItems') {
      const body = requestBodyText(args.request);
      if (body !== undefined) transactionUnits.set(context, transactionWriteUnits(body));
    }
    const fault = draw();
    // Recorded beside the requests (under a service name no price list knows), so a run can show what it endured;
    // a crash only when it strikes, which is on writes.
    if (fault !== undefined && fault !== FaultKind.CRASH_AFTER_WRITE) meter.count(`LocalFault:${fault}`);
    if (fault === FaultKind.THROTTLING || fault === FaultKind.SERVER_ERROR) {
      return { response: faultResponse(service, fault) };
    }
    if (fault === FaultKind.TIMEOUT) {
      if (random() < 0.5) await next(args).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, timeoutMs));
      throw timeoutError(timeoutMs);
    }
    const result = await next(args);
    if (fault === FaultKind.CRASH_AFTER_WRITE && WRITE_OPERATION.test(operation)) {
      meter.count(`LocalFault:${fault}`);
      crash = new InjectedCrashError(`${service}:${operation}`);
      throw crash;
    }
    return result;
  };

  const prototype = Client.prototype as unknown as {
    send: (this: { middlewareStack: Stack }, ...args: unknown[]) => unknown;
  };
  const originalSend = prototype.send;
  prototype.send = function send(this: { middlewareStack: Stack }, ...args: unknown[]) {
    // A DocumentClient shares its wrapped client's stack: instrument each stack once.
    if (!instrumented.has(this.middlewareStack)) {
      instrumented.add(this.middlewareStack);
      this.middlewareStack.add(capacityMeter, {
        step: 'initialize',
        name: 'localCapacityMeter',
        priority: 'high',
      });
      this.middlewareStack.add(wire, { step: 'deserialize', name: 'localWire', priority: 'low' });
    }
    return originalSend.apply(this, args);
  };

  installed = {
    takeUsage: () => meter.take(),
    takeCrash: () => {
      const struck = crash;
      crash = undefined;
      return struck;
    },
  };
  return installed;
}

/**
 * Meters one client of the runtime's own (the event source runners' SQS and stream clients), which stands in for
 * requests that Lambda's event source mappings make in AWS. No faults: those are injected into functions only.
 */
export function meterClient(client: { middlewareStack: unknown }, meter: UsageMeter): void {
  (client.middlewareStack as Stack).add(
    (next, context) => async (args) => {
      const key = `${serviceOf(context)}:${operationOf(context)}`;
      const result = await next(args);
      // Idle polling is a fixed cost per queue and hour, not per order: the cost report keeps it apart.
      const messages = (result.output as { Messages?: readonly unknown[] } | undefined)?.Messages;
      meter.count(key === 'SQS:ReceiveMessage' && (messages?.length ?? 0) === 0 ? `${key}(empty)` : key);
      return result;
    },
    { step: 'initialize', name: 'localRuntimeMeter', priority: 'high' },
  );
}
