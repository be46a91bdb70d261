import { LocalServerError } from '../../http';
import { AwsApiError } from '../aws-protocol-server';

/** Error types of the Scheduler API that this endpoint answers with; the SDK maps each to its exception class. */
export type SchedulerApiErrorType =
  | 'ValidationException'
  | 'ResourceNotFoundException'
  | 'ConflictException'
  | 'InternalServerException'
  | 'UnknownOperationException';

const STATUS_OF: Readonly<Record<SchedulerApiErrorType, number>> = {
  ValidationException: 400,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  InternalServerException: 500,
  UnknownOperationException: 400,
};

/** An API call the endpoint refuses, answered with the AWS error shape of the same `code`. */
export class SchedulerApiError extends AwsApiError {
  public override readonly name = 'SchedulerApiError';

  public constructor(code: SchedulerApiErrorType, message: string) {
    super(code, message, STATUS_OF[code]);
  }
}

/** An option the scheduler was started with that it cannot honour. */
export class InvalidSchedulerOptionError extends LocalServerError {
  public override readonly name = 'InvalidSchedulerOptionError';

  public constructor(message: string) {
    super('LOCAL_SCHEDULER_INVALID_OPTION', message);
  }
}

/** The dead-letter queue named by an ARN could not be reached. */
export class DeadLetterSendError extends LocalServerError {
  public override readonly name = 'DeadLetterSendError';

  public constructor(message: string, options?: ErrorOptions) {
    super('LOCAL_SCHEDULER_DEAD_LETTER_SEND_FAILED', message, options);
  }
}

/** The `ValidationException` most checks answer with. */
export function invalid(message: string): SchedulerApiError {
  return new SchedulerApiError('ValidationException', message);
}
