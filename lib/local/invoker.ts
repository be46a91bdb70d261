/**
 * How the local stand-ins (gateway, event-source runners, Step Functions, Scheduler) call a declared function.
 * The local runtime implements it with one worker thread per concurrent invocation, as Lambda runs one
 * invocation per execution environment at a time.
 */
export interface FunctionInvoker {
  /** Resolves with the handler's result; rejects with {@link FunctionInvocationError} when the handler throws. */
  invoke(functionName: string, event: unknown): Promise<unknown>;
}

/** A handler's failure as Lambda reports it: the error's name as `errorType`, its message as `errorMessage`. */
export class FunctionInvocationError extends Error {
  public override readonly name = 'FunctionInvocationError';
  public readonly functionName: string;
  public readonly errorType: string;
  public readonly errorMessage: string;

  public constructor(functionName: string, errorType: string, errorMessage: string, options?: ErrorOptions) {
    super(`${functionName} failed with ${errorType}: ${errorMessage}`, options);
    this.functionName = functionName;
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}
