import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { AppError, ErrorCode, ValidationError } from '../domain/errors';
import { InvalidSignatureError } from '../domain/webhook-signature';

/** RFC 9457 problem details, with our stable `code` as an extension member. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
}

export const INTERNAL_ERROR_CODE = 'INTERNAL_ERROR';

/**
 * The HTTP status of every code, so that a new code without one fails the type-check. A 500 is answered as
 * `INTERNAL_ERROR`, revealing nothing: those codes are our own faults, or never raised on an HTTP path.
 */
export const PROBLEM_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.VALIDATION_FAILED]: 400,
  [ErrorCode.MALFORMED_JSON]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.INVALID_SIGNATURE]: 401,
  [ErrorCode.CUSTOMER_MISMATCH]: 403,
  [ErrorCode.ORDER_NOT_FOUND]: 404,
  [ErrorCode.INVALID_TRANSITION]: 409,
  [ErrorCode.CONCURRENT_MODIFICATION]: 409,
  [ErrorCode.ORDER_NOT_PAYABLE]: 409,
  [ErrorCode.PAYMENT_IN_PROGRESS]: 409,
  [ErrorCode.LEASE_NOT_HELD]: 409,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]: 422,
  // The provider failed us, not the caller: 503 if a retry may work, else 502.
  [ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE]: 503,
  [ErrorCode.PAYMENT_PROVIDER_REJECTED]: 502,
  [ErrorCode.PAYMENT_PROVIDER_INVALID_RESPONSE]: 502,
  [ErrorCode.PAYMENT_DEADLINE_NOT_REACHED]: 500,
  [ErrorCode.PAYMENTS_UNRECONCILABLE]: 500,
  [ErrorCode.LOGISTICS_UNAVAILABLE]: 500,
  [ErrorCode.LOGISTICS_REJECTED]: 500,
  [ErrorCode.SAGA_STEP_COMPENSATED]: 500,
  [ErrorCode.SAGA_ACTION_REFUSED]: 500,
  [ErrorCode.SAGA_LEDGER_CONTENTION]: 500,
  [ErrorCode.FULFILLMENT_PAYMENT_NOT_FOUND]: 500,
  [ErrorCode.FULFILLMENT_CORRUPT_STEP_RESULT]: 500,
  [ErrorCode.INVALID_ORDER_EVENT]: 500,
  [ErrorCode.ORDER_NOT_PAID]: 500,
  [ErrorCode.INVALID_STATUS_EVENT]: 500,
  [ErrorCode.ORDER_NOT_YET_FULFILLED]: 500,
  [ErrorCode.MALFORMED_STREAM_ITEM]: 500,
  [ErrorCode.INVALID_DERIVED_EVENT]: 500,
  [ErrorCode.INVALID_STREAM_RECORD]: 500,
  [ErrorCode.EVENT_PUBLISH_FAILED]: 500,
  [ErrorCode.CONFIGURATION_INVALID]: 500,
};

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function problemType(code: string): string {
  return `urn:order-backbone:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

function problemOf(status: number, code: string, detail: string): ProblemDetails {
  return { type: problemType(code), title: TITLES[status] ?? 'Error', status, code, detail };
}

const PROVIDER_CODES: readonly ErrorCode[] = [
  ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE,
  ErrorCode.PAYMENT_PROVIDER_REJECTED,
  ErrorCode.PAYMENT_PROVIDER_INVALID_RESPONSE,
];

/** What the caller may read; the message of a signature or provider failure is for our logs only. */
function publicDetail(error: AppError): string {
  if (error instanceof InvalidSignatureError) {
    return `the request is not signed with a valid ${error.headerName}`;
  }
  return PROVIDER_CODES.includes(error.code)
    ? 'the payment provider could not be reached; retry'
    : error.message;
}

/** Maps any error to its problem document; errors we do not know become a 500 that reveals nothing inside. */
export function toProblem(error: unknown): ProblemDetails {
  const status = error instanceof AppError ? PROBLEM_STATUS[error.code] : 500;
  if (!(error instanceof AppError) || status === 500) {
    return problemOf(500, INTERNAL_ERROR_CODE, 'the request could not be completed; it is safe to retry');
  }
  return {
    ...problemOf(status, error.code, publicDetail(error)),
    ...(error instanceof ValidationError ? { errors: error.issues } : {}),
  };
}

export function problemResponse(problem: ProblemDetails): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  };
}

/**
 * A middy middleware that answers every error as `application/problem+json`. The caller's mistakes are logged
 * at info level (they are not our incidents); anything else is logged as an error and answered with a 500.
 */
export function httpProblemDetails(options: {
  readonly logger: Logger;
}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const problem = toProblem(request.error);
      if (request.error instanceof InvalidSignatureError) {
        options.logger.warn('webhook signature refused', { reason: request.error.reason });
      }
      if (problem.status >= 500) {
        options.logger.error('request failed', { error: request.error ?? undefined });
      } else {
        options.logger.info('request rejected', { code: problem.code, detail: problem.detail });
      }
      request.response = problemResponse(problem);
    },
  };
}
