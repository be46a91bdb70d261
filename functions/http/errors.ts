/** Failures of the HTTP envelope itself, before a request reaches the domain. */
export const HttpErrorCode = {
  MALFORMED_JSON: 'MALFORMED_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  CUSTOMER_MISMATCH: 'CUSTOMER_MISMATCH',
} as const;

export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

export abstract class HttpRequestError extends Error {
  public abstract readonly code: HttpErrorCode;
  public abstract readonly statusCode: number;
}

export class MalformedJsonError extends HttpRequestError {
  public override readonly name = 'MalformedJsonError';
  public readonly code = HttpErrorCode.MALFORMED_JSON;
  public readonly statusCode = 400;

  public constructor(options?: ErrorOptions) {
    super('the request body is not valid JSON', options);
  }
}

export class PayloadTooLargeError extends HttpRequestError {
  public override readonly name = 'PayloadTooLargeError';
  public readonly code = HttpErrorCode.PAYLOAD_TOO_LARGE;
  public readonly statusCode = 413;

  public constructor(limitBytes: number, actualBytes: number) {
    super(`the request body has ${actualBytes} bytes; at most ${limitBytes} are accepted`);
  }
}

export class UnsupportedMediaTypeError extends HttpRequestError {
  public override readonly name = 'UnsupportedMediaTypeError';
  public readonly code = HttpErrorCode.UNSUPPORTED_MEDIA_TYPE;
  public readonly statusCode = 415;

  public constructor(contentType: string | undefined) {
    super(`content type ${contentType ?? '(none)'} is not accepted; send application/json`);
  }
}

/**
 * A customer route reached without a verified token's subject. The JWT authorizer lets no such request through,
 * so this means the route was deployed without it: refuse rather than act for nobody.
 */
export class UnauthenticatedError extends HttpRequestError {
  public override readonly name = 'UnauthenticatedError';
  public readonly code = HttpErrorCode.UNAUTHENTICATED;
  public readonly statusCode = 401;

  public constructor() {
    super('the request carries no verified customer identity');
  }
}

/** A body names a customer other than the token's subject: a customer acts only for themselves. */
export class CustomerMismatchError extends HttpRequestError {
  public override readonly name = 'CustomerMismatchError';
  public readonly code = HttpErrorCode.CUSTOMER_MISMATCH;
  public readonly statusCode = 403;

  public constructor() {
    super('customerId must be the authenticated customer; it may be left out');
  }
}
