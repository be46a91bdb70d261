import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { logger } from '../composition-root';
import { observedHandler } from '../observability';
import { httpProblemDetails } from './problem-details';

export type HttpRoute = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * The correlation id of a request: the caller's `X-Correlation-Id` when it sends one (so a client can follow
 * its request through our logs), else API Gateway's request id. Header names arrive in lower case (format 2.0).
 */
const HTTP_CORRELATION_ID_PATH = 'headers."x-correlation-id" || requestContext.requestId';

/**
 * Wraps a route function in the middleware every HTTP handler shares: the observability stack with the
 * request's correlation id on every log line, and errors answered as problem details.
 */
export function httpHandler(route: HttpRoute) {
  return observedHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(route, {
    correlationIdPath: HTTP_CORRELATION_ID_PATH,
  }).use(httpProblemDetails({ logger }));
}
