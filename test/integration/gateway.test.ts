import { request } from 'node:http';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, openGateway, startGateway } from '../../lib/local/aws/gateway';
import { createLocalIssuer, type LocalIssuer } from '../../lib/local/aws/local-issuer';
import { FunctionInvocationError, type FunctionInvoker } from '../../lib/local/invoker';

const received: { functionName: string; event: APIGatewayProxyEventV2 }[] = [];

const invoker: FunctionInvoker = {
  invoke: async (functionName, event) => {
    received.push({ functionName, event: event as APIGatewayProxyEventV2 });
    if (functionName === 'fails') throw new FunctionInvocationError('fails', 'Boom', 'boom');
    if (functionName === 'plain') return { hello: 'world' };
    return { statusCode: 202, headers: { 'x-handled-by': functionName }, body: 'ok', cookies: ['a=1'] };
  },
};

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({
    port: 0,
    accountId: '000000000000',
    invoker,
    routes: [
      { method: 'GET', path: '/orders/{orderId}', functionName: 'get-order', authorization: 'none' },
      { method: 'GET', path: '/orders/special', functionName: 'special', authorization: 'none' },
      { method: 'POST', path: '/orders', functionName: 'fails', authorization: 'none' },
      { method: 'GET', path: '/plain', functionName: 'plain', authorization: 'none' },
    ],
    localRoutes: [
      {
        method: 'POST',
        path: '/_local/echo',
        handle: async ({ body }) => ({ statusCode: 200, body: { echoed: body } }),
      },
    ],
  });
});

afterAll(async () => {
  await gateway.stop();
});

function lastEvent(): APIGatewayProxyEventV2 {
  const last = received.at(-1);
  if (last === undefined) throw new Error('no function was invoked');
  return last.event;
}

describe('local HTTP gateway', () => {
  it('builds a payload format 2.0 event with path parameters, lower-case headers and query', async () => {
    const response = await fetch(`${gateway.url}/orders/ABC%20D?x=1&x=2&y=3`, {
      headers: { 'X-Custom': 'yes', Cookie: 'session=1; theme=dark' },
    });

    expect(response.status).toBe(202);
    expect(response.headers.get('x-handled-by')).toBe('get-order');
    expect(response.headers.get('set-cookie')).toBe('a=1');
    expect(await response.text()).toBe('ok');
    const event = lastEvent();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /orders/{orderId}',
      rawPath: '/orders/ABC%20D',
      rawQueryString: 'x=1&x=2&y=3',
      pathParameters: { orderId: 'ABC D' },
      queryStringParameters: { x: '1,2', y: '3' },
      cookies: ['session=1', 'theme=dark'],
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/orders/ABC%20D' }, stage: '$default' },
    });
    expect(event.headers['x-custom']).toBe('yes');
    expect(event.headers.cookie).toBeUndefined();
  });

  it('prefers a literal route over a parameterised one', async () => {
    await fetch(`${gateway.url}/orders/special`);

    expect(received.at(-1)?.functionName).toBe('special');
  });

  it('passes JSON bodies as text and other bodies base64-encoded', async () => {
    await fetch(`${gateway.url}/orders/A`, { method: 'GET' });
    const textResponse = await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    const textEvent = lastEvent();
    await fetch(`${gateway.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([1, 2, 3]),
    });
    const binaryEvent = lastEvent();

    expect(textResponse.status).toBe(500);
    expect(textEvent).toMatchObject({ body: '{"a":1}', isBase64Encoded: false });
    expect(binaryEvent).toMatchObject({
      body: Buffer.from([1, 2, 3]).toString('base64'),
      isBase64Encoded: true,
    });
  });

  it('answers a failing function with a bare 500 as API Gateway does', async () => {
    const response = await fetch(`${gateway.url}/orders`, { method: 'POST' });

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('serialises a result without statusCode as a 200 JSON body', async () => {
    const response = await fetch(`${gateway.url}/plain`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ hello: 'world' });
  });

  it('answers 404 for unknown routes and wrong methods without invoking anything', async () => {
    const before = received.length;

    const unknown = await fetch(`${gateway.url}/nowhere`);
    const wrongMethod = await fetch(`${gateway.url}/plain`, { method: 'DELETE' });

    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ message: 'Not Found' });
    expect(wrongMethod.status).toBe(404);
    expect(received.length).toBe(before);
  });

  it.each([
    '/orders/%',
    '/orders/%E0%A4%A',
    '/orders/%ZZ',
    '/orders/%C0%AE',
    '/orders/%ED%A0%80',
    '/nowhere/%',
  ])("answers the malformed path %s with API Gateway's 400 and invokes nothing", async (path) => {
    const before = received.length;

    const response = await fetch(`${gateway.url}${path}`);

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: 'Bad Request' });
    expect(received.length).toBe(before);
  });

  it('answers a request target that is no URL with the same 400', async () => {
    const before = received.length;
    const { port } = new URL(gateway.url);

    // fetch cannot send such a target; node:http sends the path as given.
    const answer = await new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
      const outgoing = request({ host: '127.0.0.1', port, path: 'http://[' }, (incoming) => {
        let body = '';
        incoming.on('data', (chunk: Buffer) => {
          body += chunk.toString('utf8');
        });
        incoming.on('end', () => resolve({ status: incoming.statusCode, body }));
      });
      outgoing.on('error', reject);
      outgoing.end();
    });

    expect(answer).toEqual({ status: 400, body: '{"message":"Bad Request"}' });
    expect(received.length).toBe(before);
  });

  it('serves /_local/ routes of the runtime itself', async () => {
    const response = await fetch(`${gateway.url}/_local/echo`, { method: 'POST', body: '{"x":1}' });
    const missing = await fetch(`${gateway.url}/_local/missing`);

    expect(await response.json()).toEqual({ echoed: { x: 1 } });
    expect(missing.status).toBe(404);
  });
});

describe('local HTTP gateway on customer routes', () => {
  let issuer: LocalIssuer;
  let guarded: Gateway;

  beforeAll(async () => {
    const open = await openGateway(0);
    guarded = open;
    issuer = await createLocalIssuer({ gatewayUrl: open.url, tokenLifetimeSeconds: 60 });
    open.serve({
      accountId: '000000000000',
      invoker,
      authorizer: issuer.authorizer,
      routes: [
        { method: 'GET', path: '/mine/{id}', functionName: 'mine', authorization: 'customer' },
        { method: 'GET', path: '/open', functionName: 'open', authorization: 'none' },
      ],
      localRoutes: issuer.localRoutes(),
    });
  });

  afterAll(async () => {
    await guarded.stop();
  });

  it('passes the verified claims where the JWT authorizer puts them, scalars as strings', async () => {
    const token = await issuer.tokenFor('customer-9');

    const response = await fetch(`${guarded.url}/mine/1`, { headers: { authorization: `Bearer ${token}` } });

    expect(response.status).toBe(202);
    expect(lastEvent().requestContext).toMatchObject({
      authorizer: {
        jwt: {
          claims: {
            sub: 'customer-9',
            iss: `${guarded.url}/_local/auth`,
            aud: issuer.audience,
            exp: expect.stringMatching(/^\d+$/),
          },
        },
      },
    });
  });

  it("refuses a missing or foreign token with API Gateway's 401 and never invokes the function", async () => {
    const invocations = received.length;
    const foreign = await createLocalIssuer({ gatewayUrl: guarded.url });

    const missing = await fetch(`${guarded.url}/mine/1`);
    const wrongKey = await fetch(`${guarded.url}/mine/1`, {
      headers: { authorization: `Bearer ${await foreign.tokenFor('customer-9')}` },
    });

    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(missing.headers.get('apigw-requestid')).toBeTruthy();
    expect(await missing.json()).toEqual({ message: 'Unauthorized' });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.headers.get('www-authenticate')).toMatch(/^Bearer scope="" error="invalid_token"/);
    expect(received.length).toBe(invocations);
  });

  it('answers a malformed path with 400 before it asks for a token', async () => {
    const invocations = received.length;

    const response = await fetch(`${guarded.url}/mine/%E0%A4%A`);

    expect(response.status).toBe(400);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({ message: 'Bad Request' });
    expect(received.length).toBe(invocations);
  });

  it('lets anyone reach a route declared for nobody, with no authorizer context', async () => {
    const response = await fetch(`${guarded.url}/open`);

    expect(response.status).toBe(202);
    expect(lastEvent().requestContext).not.toHaveProperty('authorizer');
  });

  it('will not start with customer routes and no authorizer', async () => {
    await expect(
      startGateway({
        port: 0,
        accountId: '000000000000',
        invoker,
        routes: [{ method: 'GET', path: '/mine', functionName: 'mine', authorization: 'customer' }],
      }),
    ).rejects.toThrow(/need an authorizer/);
  });
});

describe('a gateway opened before its routes are known', () => {
  it('answers 503 on its final URL until it is served, then routes there', async () => {
    // Prepare
    const open = await openGateway(0);
    try {
      const before = await fetch(`${open.url}/plain`);

      // Act
      open.serve({
        accountId: '000000000000',
        invoker,
        routes: [{ method: 'GET', path: '/plain', functionName: 'plain', authorization: 'none' }],
      });
      const after = await fetch(`${open.url}/plain`);

      // Assess
      expect(before.status).toBe(503);
      expect(await before.json()).toEqual({ message: 'Service Unavailable' });
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual({ hello: 'world' });
    } finally {
      await open.stop();
    }
  });
});
