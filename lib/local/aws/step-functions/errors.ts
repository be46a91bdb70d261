import { LocalServerError } from '../../http';
import { AwsApiError } from '../aws-protocol-server';

/** A state machine declaration that cannot run locally: invalid ASL, a bad name, or JSONata. */
export class InvalidStateMachineDeclarationError extends LocalServerError {
  public override readonly name = 'InvalidStateMachineDeclarationError';

  public constructor(message: string, options?: ErrorOptions) {
    super('LOCAL_SFN_INVALID_STATE_MACHINE', message, options);
  }
}

/** Error types of the Step Functions API that this endpoint answers with; the SDK maps each to its exception class. */
export type StepFunctionsApiErrorType =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidExecutionInput'
  | 'InvalidToken'
  | 'ExecutionNotRedrivable'
  | 'ValidationException'
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'InternalFailure';

/** An API call the endpoint refuses, answered with the AWS error shape of the same `code`. */
export class StepFunctionsApiError extends AwsApiError<StepFunctionsApiErrorType> {
  public override readonly name = 'StepFunctionsApiError';
}

/**
 * A task function's failure as the state machine sees it. `name` is the function's `errorType`, because the engine
 * matches Retry and Catch `ErrorEquals` against the error's name, as Step Functions does for Lambda errors.
 */
export class TaskFunctionFailedError extends LocalServerError {
  public override readonly name: string;

  public constructor(errorType: string, errorMessage: string) {
    // The message becomes the ASL `Cause`; Lambda reports it as this JSON document.
    super('LOCAL_SFN_TASK_FUNCTION_FAILED', JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

/**
 * A Task whose resource has no local function. It is neither retryable nor catchable (the engine reads these two
 * getters), so a missing mapping fails the execution loudly instead of flowing into a business Catch branch.
 */
export class UnmappedTaskResourceError extends LocalServerError {
  public override readonly name = 'Local.UnmappedTaskResource';

  public constructor(message: string) {
    super('LOCAL_SFN_UNMAPPED_TASK_RESOURCE', message);
  }

  public get isRetryable(): boolean {
    return false;
  }

  public get isCatchable(): boolean {
    return false;
  }
}
