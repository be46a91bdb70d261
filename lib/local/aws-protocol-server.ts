import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { z } from 'zod';

/**
 * The HTTP plumbing the local AWS stand-ins (EventBridge, Step Functions, Scheduler, the Cognito user pool) share:
 * the loopback server, reading a size-limited body, answering JSON with the headers the SDK expects, and the whole
 * request cycle of the `X-Amz-Target` JSON protocols (AWS JSON 1.0 and 1.1). The loopback server also carries the
 * fake payment provider and the logistics simulators.
 *
 * Each stand-in keeps its own error classes and codes; the helpers here only ever raise errors a stand-in hands
 * them (its error class, or a factory), so what reaches a client is what that stand-in would answer on its own.
 */

/** A JSON request or response body. */
export type JsonObject = Record<string, unknown>;

/** The parts of a stand-in's API error that go on the wire. */
export interface AwsApiErrorShape extends Error {
  readonly code: string;
  readonly statusCode: number;
}

/** The codes a {@link jsonTargetHandler} itself refuses a request with, before the stand-in sees it. */
export type JsonTargetRefusalCode =
  | 'UnknownOperationException'
  | 'SerializationException'
  | 'ValidationException';

/** How one stand-in speaks an `X-Amz-Target` JSON protocol. */
export interface JsonTargetProtocol {
  /** The target prefix, dot included, e.g. `AWSEvents.`; the rest of the header is the operation name. */
  readonly targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`: the protocol version the service's SDK client speaks. */
  readonly contentType: string;
  readonly maxRequestBytes: number;
  /** The `__type` answered for an unexpected failure, which differs per service (`InternalFailure`, ...). */
  readonly internalErrorType: string;
  /**
   * The stand-in's API error class: refusals made here are built with it, and what it throws of that class is
   * answered with its code and status. Any other error is answered as a 500 `internalErrorType`.
   */
  readonly apiError: new (
    code: JsonTargetRefusalCode,
    message: string,
  ) => AwsApiErrorShape;
}

/** Runs one operation; throws (or rejects with) the stand-in's API error to refuse it. */
export type JsonTargetDispatch = (operation: string, body: unknown) => JsonObject | Promise<JsonObject>;

/**
 * Answers one HTTP request completely; never rejects unless it is served with an `onError` (see
 * {@link startLoopbackServer}), as the server does not await it.
 */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * The request handler of an `X-Amz-Target` JSON protocol: each request is a POST whose target names the operation
 * and whose body is its JSON input. Refusals become `{ __type, message }` with the error's status, the shape the
 * SDK parses into its exception classes.
 */
export function jsonTargetHandler(
  protocol: JsonTargetProtocol,
  dispatch: JsonTargetDispatch,
): RequestHandler {
  return (request, response) => handleJsonTargetRequest(protocol, dispatch, request, response);
}

async function handleJsonTargetRequest(
  protocol: JsonTargetProtocol,
  dispatch: JsonTargetDispatch,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(protocol.targetPrefix)
        ? target.slice(protocol.targetPrefix.length)
        : '';
    if (request.method !== 'POST' || operation === '') {
      throw new protocol.apiError(
        'UnknownOperationException',
        `Expected a POST with X-Amz-Target ${protocol.targetPrefix}<Operation>`,
      );
    }
    const text = await readBody(
      request,
      protocol.maxRequestBytes,
      () => new protocol.apiError('ValidationException', 'The request body is too large'),
    );
    const body = parseJsonBody(
      text,
      () => new protocol.apiError('SerializationException', 'The request body is not valid JSON'),
    );
    sendJson(response, 200, await dispatch(operation, body), protocol.contentType);
  } catch (error) {
    if (error instanceof protocol.apiError) {
      sendJson(
        response,
        error.statusCode,
        { __type: error.code, message: error.message },
        protocol.contentType,
      );
      return;
    }
    sendJson(
      response,
      500,
      { __type: protocol.internalErrorType, message: error instanceof Error ? error.message : String(error) },
      protocol.contentType,
    );
  }
}

/**
 * The request body as UTF-8 text. Throws `tooLarge()` as soon as more than `maxBytes` have arrived, so an
 * oversized body is refused without being buffered whole.
 */
export async function readBody(
  request: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A request body parsed as JSON; an empty body counts as `{}`, an input with no members. */
export function parseJsonBody(text: string, invalid: () => Error): unknown {
  if (text.length === 0) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw invalid();
  }
}

/**
 * `body` checked against `schema`; a mismatch throws `invalid(message)` with AWS's wording of validation errors,
 * one `Value at '<path>' failed to satisfy constraint` per issue.
 */
export function validateInput<T>(
  schema: z.ZodType<T>,
  body: unknown,
  invalid: (message: string) => Error,
): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const detail = result.error.issues
      .map((issue) => `Value at '${issue.path.join('.')}' failed to satisfy constraint: ${issue.message}`)
      .join('; ');
    throw invalid(`${result.error.issues.length} validation error(s) detected: ${detail}`);
  }
  return result.data;
}

/**
 * Sends `body` as JSON with a fresh `x-amzn-requestid`, which the SDK reads into `$metadata.requestId`.
 * `extraHeaders` go after the standard ones, e.g. REST-JSON's `x-amzn-errortype`.
 */
export function sendJson(
  response: ServerResponse,
  statusCode: number,
  body: JsonObject,
  contentType: string,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  const payload = JSON.stringify(body);
  response.writeHead(statusCode, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
    ...extraHeaders,
  });
  response.end(payload);
}

/** A started stand-in server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, for an `AWS_ENDPOINT_URL_*` variable or a client's `endpoint`. */
  readonly url: string;
  /** Stops the server, dropping idle keep-alive connections too. */
  close(): Promise<void>;
}

/** Answers a request whose handler threw; the stand-ins that need it turn the error into their own 500. */
export type LoopbackErrorHandler = (error: unknown, response: ServerResponse) => void;

/**
 * Serves `handle` on 127.0.0.1 only, as the stand-ins are for this machine and never the network, at `port` or
 * a port the kernel picks when none is given (read back once bound, so there is no window for another process
 * to take it). A handler that can reject passes `onError` to answer what it threw; without one, `handle` must
 * never reject.
 */
export async function startLoopbackServer(
  handle: RequestHandler,
  port?: number,
  onError?: LoopbackErrorHandler,
): Promise<LoopbackServer> {
  const server = createServer((request, response) => {
    if (onError === undefined) {
      void handle(request, response);
      return;
    }
    handle(request, response).catch((error: unknown) => onError(error, response));
  });
  await listen(server, port ?? 0);
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new Error('a loopback server could not read its own port');
  }
  return { url: `http://127.0.0.1:${address.port}`, close: () => close(server) };
}

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function close(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error === undefined ? resolve() : reject(error)));
    // The SDK keeps sockets alive; without this, close() would wait for them to time out.
    server.closeAllConnections();
  });
}
