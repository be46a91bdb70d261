import { AppError, ErrorCode } from '../domain/errors';

/**
 * Failures of the HTTP envelope itself, before a request reaches the domain; their statuses are in the problem
 * table. The same request is refused the same way, so none is retryable.
 */
export abstract class EnvelopeError extends AppError {
  public readonly retryable = false;
}

export class MalformedJsonError extends EnvelopeError {
  public override readonly name = 'MalformedJsonError';
  public readonly code = ErrorCode.MALFORMED_JSON;

  public constructor(options?: ErrorOptions) {
    super('the request body is not valid JSON', options);
  }
}

export class PayloadTooLargeError extends EnvelopeError {
  public override readonly name = 'PayloadTooLargeError';
  public readonly code = ErrorCode.PAYLOAD_TOO_LARGE;

  public constructor(limitBytes: number, actualBytes: number) {
    super(`the request body has ${actualBytes} bytes; at most ${limitBytes} are accepted`);
  }
}

export class UnsupportedMediaTypeError extends EnvelopeError {
  public override readonly name = 'UnsupportedMediaTypeError';
  public readonly code = ErrorCode.UNSUPPORTED_MEDIA_TYPE;

  public constructor(contentType: string | undefined) {
    super(`content type ${contentType ?? '(none)'} is not accepted; send application/json`);
  }
}

/**
 * A customer route reached without a verified token's subject. The JWT authorizer lets no such request through,
 * so this means the route was deployed without it: refuse rather than act for nobody.
 */
export class UnauthenticatedError extends EnvelopeError {
  public override readonly name = 'UnauthenticatedError';
  public readonly code = ErrorCode.UNAUTHENTICATED;

  public constructor() {
    super('the request carries no verified customer identity');
  }
}

/** A body names a customer other than the token's subject: a customer acts only for themselves. */
export class CustomerMismatchError extends EnvelopeError {
  public override readonly name = 'CustomerMismatchError';
  public readonly code = ErrorCode.CUSTOMER_MISMATCH;

  public constructor() {
    super('customerId must be the authenticated customer; it may be left out');
  }
}
