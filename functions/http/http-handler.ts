import { correlationPaths } from '@aws-lambda-powertools/logger/correlationId';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { logger } from '../composition-root';
import { httpProblemDetails } from './problem-details';

export type HttpRoute = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Wraps a route function in the middleware every HTTP handler shares: Lambda context and the request id as
 * correlation id on every log line, and errors answered as problem details.
 */
export function httpHandler(route: HttpRoute) {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Error, Context>(route)
    .use(
      injectLambdaContext(logger, { resetKeys: true, correlationIdPath: correlationPaths.API_GATEWAY_HTTP }),
    )
    .use(httpProblemDetails({ logger }));
}
