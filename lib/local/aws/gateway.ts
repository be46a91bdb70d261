import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ConsoleHandler } from '../../console/server';
import type { HttpMethod, RouteAuthorization } from '../../model';
import { LocalServerError, readBodyBytes, startLoopbackServer, writeJson } from '../http';
import type { FunctionInvoker } from '../invoker';
import type { JwtAuthorizer, JwtAuthorizerContext } from './jwt-authorizer';

export interface GatewayRoute {
  readonly method: HttpMethod;
  /** API Gateway route path with `{name}` parameters, e.g. `/orders/{orderId}`. */
  readonly path: string;
  readonly functionName: string;
  /** `customer` routes are refused with API Gateway's 401 unless the gateway's authorizer accepts the token. */
  readonly authorization: RouteAuthorization;
}

export interface LocalRouteResponse {
  readonly statusCode: number;
  readonly body: unknown;
}

/** A route of the local runtime's own (inspection of local fakes), always under `/_local/`. */
export interface LocalRoute {
  readonly method: HttpMethod;
  readonly path: `/_local/${string}`;
  readonly handle: (request: {
    readonly body: unknown;
    readonly query: URLSearchParams;
  }) => Promise<LocalRouteResponse>;
}

/** What the gateway serves, once its port is open. */
export interface GatewayRoutesOptions {
  readonly routes: readonly GatewayRoute[];
  readonly localRoutes?: readonly LocalRoute[];
  readonly invoker: FunctionInvoker;
  /** Verifies the bearer token of `customer` routes; required when there are any. */
  readonly authorizer?: JwtAuthorizer;
  readonly accountId: string;
  /** Called with each function failure, which API Gateway turns into a bare 500. */
  readonly onFunctionError?: (route: GatewayRoute, error: unknown) => void;
  /**
   * The operations console, served at `/console` and under `/console/` ahead of the routes. It exists only
   * locally (and in `npm run console`): API Gateway never serves it.
   */
  readonly console?: ConsoleHandler;
}

export interface GatewayOptions extends GatewayRoutesOptions {
  /** 0 picks a free port. */
  readonly port: number;
}

export interface Gateway {
  readonly url: string;
  stop(): Promise<void>;
}

/** A gateway bound to its port that answers 503 until it is given its routes. */
export interface OpenGateway extends Gateway {
  serve(options: GatewayRoutesOptions): void;
}

/** A `customer` route was declared, but the gateway has no authorizer to check its tokens. */
export class GatewayAuthorizerMissingError extends LocalServerError {
  public override readonly name = 'GatewayAuthorizerMissingError';

  public constructor(guarded: readonly GatewayRoute[]) {
    const routes = guarded.map((route) => `${route.method} ${route.path}`).join(', ');
    super('LOCAL_GATEWAY_AUTHORIZER_MISSING', `routes ${routes} need an authorizer`);
  }
}

/** API Gateway's own payload limit for HTTP APIs. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

const TEXT_CONTENT_TYPE =
  /^(text\/|application\/(?:[\w.+-]+\+)?(?:json|xml)|application\/x-www-form-urlencoded|application\/javascript)/i;

interface CompiledRoute {
  readonly route: GatewayRoute;
  readonly segments: readonly string[];
  readonly literalCount: number;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

/** A path whose percent-encoding is broken (`%`, `%ZZ`, bytes that are not UTF-8) names nothing. */
function isWellEncoded(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch (error) {
    if (error instanceof URIError) return false;
    throw error;
  }
}

function compile(route: GatewayRoute): CompiledRoute {
  const segments = splitPath(route.path);
  return { route, segments, literalCount: segments.filter((segment) => !segment.startsWith('{')).length };
}

function match(
  compiled: CompiledRoute,
  method: string,
  pathSegments: readonly string[],
): Record<string, string> | undefined {
  if (compiled.route.method !== method || compiled.segments.length !== pathSegments.length) return undefined;
  const parameters: Record<string, string> = {};
  for (const [index, segment] of compiled.segments.entries()) {
    const actual = pathSegments[index] ?? '';
    if (segment.startsWith('{') && segment.endsWith('}')) {
      parameters[segment.slice(1, -1)] = decodeURIComponent(actual);
    } else if (segment !== actual) {
      return undefined;
    }
  }
  return parameters;
}

class PayloadTooLargeError extends Error {}

function isConsolePath(pathname: string): boolean {
  return pathname === '/console' || pathname.startsWith('/console/');
}

function apiGatewayTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => value.toString().padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

function headersOf(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

function toEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  compiled: CompiledRoute,
  pathParameters: Record<string, string>,
  accountId: string,
  requestId: string,
  authorizer: JwtAuthorizerContext | undefined,
): APIGatewayProxyEventV2 {
  const headers = headersOf(request);
  const routeKey = `${compiled.route.method} ${compiled.route.path}`;
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const cookies = request.headers.cookie?.split(';').map((cookie) => cookie.trim());
  const isText = TEXT_CONTENT_TYPE.test(headers['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies === undefined ? {} : { cookies }),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId,
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: compiled.route.method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey,
      // Where API Gateway puts a JWT authorizer's verdict; the event type of aws-lambda keeps it elsewhere.
      ...(authorizer === undefined ? {} : { authorizer }),
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

function isStructured(result: unknown): result is APIGatewayProxyStructuredResultV2 {
  return typeof result === 'object' && result !== null && 'statusCode' in result;
}

/**
 * Payload format 2.0's response rules: a result with `statusCode` is used as given; any other value is
 * serialized as a 200 JSON body, which is what API Gateway infers.
 */
function writeResult(response: ServerResponse, result: unknown, requestId: string): void {
  response.setHeader('apigw-requestid', requestId);
  if (!isStructured(result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result);
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    response.setHeader(name, String(value));
  }
  if (result.cookies !== undefined) {
    response.setHeader('set-cookie', result.cookies);
  }
  const body = result.body === undefined ? '' : result.body;
  response
    .writeHead(result.statusCode ?? 200)
    .end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

/** The routes of one served configuration, compiled once, most specific first. */
interface Served {
  readonly options: GatewayRoutesOptions;
  readonly compiled: readonly CompiledRoute[];
}

function served(options: GatewayRoutesOptions): Served {
  const guarded = options.routes.filter((route) => route.authorization === 'customer');
  if (guarded.length > 0 && options.authorizer === undefined)
    throw new GatewayAuthorizerMissingError(guarded);
  const compiled = options.routes.map(compile).sort((left, right) => right.literalCount - left.literalCount);
  return { options, compiled };
}

async function answerLocalRoute(
  { options }: Served,
  method: string,
  url: URL,
  body: Buffer,
  response: ServerResponse,
): Promise<void> {
  const local = options.localRoutes?.find((route) => route.method === method && route.path === url.pathname);
  if (local === undefined) {
    writeJson(response, 404, { message: 'Not Found' });
    return;
  }
  let parsed: unknown;
  try {
    parsed = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    writeJson(response, 400, { message: 'the body of a /_local/ request must be JSON' });
    return;
  }
  const answer = await local.handle({ body: parsed, query: url.searchParams });
  writeJson(response, answer.statusCode, answer.body);
}

/** API Gateway's JWT authorizer: the claims of an accepted token, or undefined once the 401 is answered. */
async function authorize(
  { options }: Served,
  candidate: CompiledRoute,
  request: IncomingMessage,
  response: ServerResponse,
  requestId: string,
): Promise<{ readonly context: JwtAuthorizerContext | undefined } | undefined> {
  if (candidate.route.authorization !== 'customer') return { context: undefined };
  // Fails closed: without an authorizer (which serve refuses anyway) nobody is a customer.
  const decision = (await options.authorizer?.authorize(request.headers.authorization)) ?? {
    allowed: false,
    challenge: 'Bearer',
  };
  if (decision.allowed) return { context: decision.context };
  response.setHeader('apigw-requestid', requestId);
  response.setHeader('www-authenticate', decision.challenge);
  writeJson(response, 401, { message: 'Unauthorized' });
  return undefined;
}

async function answerRoute(
  gateway: Served,
  candidate: CompiledRoute,
  parameters: Record<string, string>,
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  response: ServerResponse,
): Promise<void> {
  const { options } = gateway;
  const requestId = randomUUID();
  const authorized = await authorize(gateway, candidate, request, response, requestId);
  if (authorized === undefined) return;
  const event = toEvent(
    request,
    url,
    body,
    candidate,
    parameters,
    options.accountId,
    requestId,
    authorized.context,
  );
  try {
    writeResult(response, await options.invoker.invoke(candidate.route.functionName, event), requestId);
  } catch (error) {
    options.onFunctionError?.(candidate.route, error);
    response.setHeader('apigw-requestid', requestId);
    writeJson(response, 500, { message: 'Internal Server Error' });
  }
}

async function handle(gateway: Served, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = URL.parse(request.url ?? '/', 'http://localhost');
  // API Gateway refuses such a request itself, before routing or authorizing it, with this body.
  if (url === null || !splitPath(url.pathname).every(isWellEncoded)) {
    writeJson(response, 400, { message: 'Bad Request' });
    return;
  }
  const method = (request.method ?? 'GET').toUpperCase();
  let body: Buffer;
  try {
    body = await readBodyBytes(request, MAX_PAYLOAD_BYTES, () => new PayloadTooLargeError());
  } catch (error) {
    if (!(error instanceof PayloadTooLargeError)) throw error;
    writeJson(response, 413, { message: 'Request Entity Too Large' });
    return;
  }
  const consoleHandler = gateway.options.console;
  if (consoleHandler !== undefined && isConsolePath(url.pathname)) {
    await consoleHandler(request, response, body);
    return;
  }
  if (url.pathname.startsWith('/_local/')) {
    await answerLocalRoute(gateway, method, url, body, response);
    return;
  }
  const pathSegments = splitPath(url.pathname);
  for (const candidate of gateway.compiled) {
    const parameters = match(candidate, method, pathSegments);
    if (parameters === undefined) continue;
    await answerRoute(gateway, candidate, parameters, request, url, body, response);
    return;
  }
  writeJson(response, 404, { message: 'Not Found' });
}

/**
 * Binds the gateway's port before anything else is started, so every part can be configured with its final
 * URL; until {@link OpenGateway.serve} gives it its routes it answers 503, as API Gateway does for a stage
 * being deployed.
 */
export async function openGateway(port: number): Promise<OpenGateway> {
  let current: Served | undefined;
  const server = await startLoopbackServer(
    async (request, response) => {
      if (current === undefined) {
        request.resume();
        writeJson(response, 503, { message: 'Service Unavailable' });
        return;
      }
      await handle(current, request, response);
    },
    port,
    (error, response) => {
      if (!response.headersSent) {
        writeJson(response, 500, { message: 'Internal Server Error', detail: String(error) });
      } else {
        response.destroy();
      }
    },
  );
  return {
    url: server.url,
    serve: (options) => {
      current = served(options);
    },
    stop: () => server.close(),
  };
}

/**
 * A local HTTP API: it turns requests into API Gateway payload format 2.0 events for the declared routes and
 * answers as API Gateway would (`{"message":"Bad Request"}` for a malformed path, `{"message":"Not Found"}`
 * for no route, a bare 500 when the function fails, `{"message":"Unauthorized"}` with a `WWW-Authenticate`
 * challenge when a `customer` route's JWT is refused, the function then never invoked). An accepted token's
 * claims reach the function at `requestContext.authorizer.jwt.claims`, as from an HTTP API JWT authorizer.
 * Routes under `/_local/` belong to the local runtime and exist only here, as does the console under `/console`.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const routes = served(options);
  const gateway = await openGateway(options.port);
  gateway.serve(routes.options);
  return gateway;
}
