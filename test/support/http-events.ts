import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * A payload format 2.0 event as API Gateway would send it, for calling HTTP handlers directly. With `customer`,
 * the event carries what the JWT authorizer passes for a token whose `sub` is that customer.
 */
export function httpEvent(options: {
  readonly method: string;
  readonly path: string;
  readonly routeKey: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly pathParameters?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
  readonly customer?: string;
}): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  return {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: options.path,
    rawQueryString: '',
    headers,
    ...(options.pathParameters === undefined ? {} : { pathParameters: options.pathParameters }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: options.method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: `test-${Math.random().toString(36).slice(2)}`,
      routeKey: options.routeKey,
      ...(options.customer === undefined
        ? {}
        : {
            authorizer: {
              principalId: '',
              integrationLatency: 0,
              jwt: { claims: { sub: options.customer, iss: 'https://issuer.test' }, scopes: [] },
            },
          }),
      stage: '$default',
      time: '28/Nov/2026:10:00:00 +0000',
      timeEpoch: Date.parse('2026-11-28T10:00:00Z'),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}
