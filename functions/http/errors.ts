import { AppError, ErrorCode } from '../domain/errors';

/** Failures of the HTTP envelope itself, before a request reaches the domain; their statuses are in the problem table. */
export class MalformedJsonError extends AppError {
  public override readonly name = 'MalformedJsonError';
  public readonly code = ErrorCode.MALFORMED_JSON;
  public readonly retryable = false;

  public constructor(options?: ErrorOptions) {
    super('the request body is not valid JSON', options);
  }
}

export class PayloadTooLargeError extends AppError {
  public override readonly name = 'PayloadTooLargeError';
  public readonly code = ErrorCode.PAYLOAD_TOO_LARGE;
  public readonly retryable = false;

  public constructor(limitBytes: number, actualBytes: number) {
    super(`the request body has ${actualBytes} bytes; at most ${limitBytes} are accepted`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  public override readonly name = 'UnsupportedMediaTypeError';
  public readonly code = ErrorCode.UNSUPPORTED_MEDIA_TYPE;
  public readonly retryable = false;

  public constructor(contentType: string | undefined) {
    super(`content type ${contentType ?? '(none)'} is not accepted; send application/json`);
  }
}

/**
 * A customer route reached without a verified token's subject. The JWT authorizer lets no such request through,
 * so this means the route was deployed without it: refuse rather than act for nobody.
 */
export class UnauthenticatedError extends AppError {
  public override readonly name = 'UnauthenticatedError';
  public readonly code = ErrorCode.UNAUTHENTICATED;
  public readonly retryable = false;

  public constructor() {
    super('the request carries no verified customer identity');
  }
}

/** A body names a customer other than the token's subject: a customer acts only for themselves. */
export class CustomerMismatchError extends AppError {
  public override readonly name = 'CustomerMismatchError';
  public readonly code = ErrorCode.CUSTOMER_MISMATCH;
  public readonly retryable = false;

  public constructor() {
    super('customerId must be the authenticated customer; it may be left out');
  }
}
