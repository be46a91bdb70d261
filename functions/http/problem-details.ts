import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PaymentProviderError } from '../adapters/http-payment-provider';
import {
  ConcurrentModificationError,
  DomainError,
  IdempotencyKeyReusedError,
  InvalidTransitionError,
  LeaseNotHeldError,
  OrderNotFoundError,
  OrderNotPayableError,
  PaymentInProgressError,
  ValidationError,
} from '../domain/errors';
import { InvalidSignatureError } from '../domain/webhook-signature';
import { HttpRequestError } from './errors';

/** RFC 9457 problem details, with our stable `code` as an extension member. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors?: readonly { readonly path: string; readonly message: string }[];
}

const INTERNAL_ERROR_CODE = 'INTERNAL_ERROR';

function problemType(code: string): string {
  return `urn:order-backbone:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

const CONFLICTS = [
  InvalidTransitionError,
  ConcurrentModificationError,
  OrderNotPayableError,
  PaymentInProgressError,
  LeaseNotHeldError,
] as const;

function statusOf(error: DomainError): number {
  if (error instanceof ValidationError) return 400;
  if (error instanceof OrderNotFoundError) return 404;
  if (CONFLICTS.some((type) => error instanceof type)) return 409;
  if (error instanceof IdempotencyKeyReusedError) return 422;
  return 400;
}

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

/** Maps any error to its problem document; errors we do not know become a 500 that reveals nothing inside. */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof InvalidSignatureError) {
    // Which part of the signature failed is for our logs, not for whoever sent it.
    return problemOf(401, error.code, `the request is not signed with a valid ${error.headerName}`);
  }
  if (error instanceof PaymentProviderError) {
    // The provider failed us, not the caller: 503 if a retry may work, else 502.
    return problemOf(
      error.retryable ? 503 : 502,
      error.code,
      'the payment provider could not be reached; retry',
    );
  }
  if (error instanceof HttpRequestError || error instanceof DomainError) {
    const status = error instanceof HttpRequestError ? error.statusCode : statusOf(error);
    return {
      type: problemType(error.code),
      title: TITLES[status] ?? 'Error',
      status,
      code: error.code,
      detail: error.message,
      ...(error instanceof ValidationError ? { errors: error.issues } : {}),
    };
  }
  return {
    type: problemType(INTERNAL_ERROR_CODE),
    title: TITLES[500] ?? 'Internal Server Error',
    status: 500,
    code: INTERNAL_ERROR_CODE,
    detail: 'the request could not be completed; it is safe to retry',
  };
}

function problemOf(status: number, code: string, detail: string): ProblemDetails {
  return { type: problemType(code), title: TITLES[status] ?? 'Error', status, code, detail };
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
