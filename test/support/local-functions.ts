import { FunctionInvocationError, type FunctionInvoker } from '../../lib/local/invoker';
import { eventually } from './eventually';

/**
 * Stand-ins for the worker-thread function host in tests of the local AWS stand-ins, which need only something
 * that runs a named async function, and the polling those tests wait for an asynchronous delivery with.
 */

/** One call a {@link RecordingInvoker} received. */
export interface InvocationCall {
  readonly functionName: string;
  readonly event: unknown;
  /** `Date.now()` when the call arrived, for tests of timing (schedules, retries). */
  readonly at: number;
}

/**
 * Runs plain async functions as Lambda would report them: a throw becomes a {@link FunctionInvocationError}, as
 * the real host's errors do, and every call is recorded.
 */
export class RecordingInvoker implements FunctionInvoker {
  public readonly calls: InvocationCall[] = [];

  public constructor(private readonly functions: Record<string, (event: unknown) => Promise<unknown>>) {}

  public async invoke(functionName: string, event: unknown): Promise<unknown> {
    this.calls.push({ functionName, event, at: Date.now() });
    const fn = this.functions[functionName];
    if (fn === undefined) throw new Error(`no function ${functionName}`);
    try {
      return await fn(event);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      throw new FunctionInvocationError(functionName, failure.name, failure.message);
    }
  }

  public callsOf(functionName: string): InvocationCall[] {
    return this.calls.filter((call) => call.functionName === functionName);
  }
}

/**
 * One async function per function name, typed by the event a runner delivers. A handler's error is passed on
 * unchanged, unlike {@link RecordingInvoker}: the event-source runners treat any rejection as a failed batch.
 */
export function invokerFor<E>(
  handlers: Readonly<Record<string, (event: E) => Promise<unknown>>>,
): FunctionInvoker {
  return {
    invoke: async (functionName, event) => {
      const handler = handlers[functionName];
      if (handler === undefined) {
        throw new Error(`no handler for ${functionName}`);
      }
      return await handler(event as E);
    },
  };
}

/** Polls `condition` until it holds; throws once `timeoutMs` has passed without it. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  await eventually(async () => ((await condition()) ? true : undefined), timeoutMs);
}
