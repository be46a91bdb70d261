import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * The HTTP toolkit every local server shares, AWS stand-ins and outside parties alike: the loopback server,
 * reading a size-limited body, JSON answers, and the error base whose `code` each local server's errors carry.
 * Each server keeps its own error wording on the wire; the helpers only raise errors a caller hands them.
 */

/** A JSON request or response body. */
export type JsonObject = Record<string, unknown>;

/** Base class of the local servers' errors; `code` is stable across releases. */
export class LocalServerError extends Error {
  public override readonly name: string = 'LocalServerError';
  public readonly code: string;

  public constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A status and a JSON body, as an outside party's API answers. */
export interface JsonAnswer {
  readonly statusCode: number;
  readonly body: unknown;
}

/** The `{"error": {"code", "message"}}` refusal the outside parties' APIs answer with, as Stripe's does. */
export function errorAnswer(statusCode: number, code: string, message?: string): JsonAnswer {
  return { statusCode, body: { error: message === undefined ? { code } : { code, message } } };
}

/** An outside party's answer to its own handler's failure: its 500 refusal, or a cut connection mid-answer. */
export const answerOutsidePartyFailure: LoopbackErrorHandler = (error, response) => {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const answer = errorAnswer(500, 'internal_error', String(error));
  writeJson(response, answer.statusCode, answer.body);
};

/**
 * The request body as bytes. Throws `tooLarge()` as soon as more than `maxBytes` have arrived, so an oversized
 * body is refused without being buffered whole.
 */
export async function readBodyBytes(
  request: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** The request body as UTF-8 text, refused as {@link readBodyBytes} refuses it. */
export async function readBody(
  request: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<string> {
  return (await readBodyBytes(request, maxBytes, tooLarge)).toString('utf8');
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

/** Sends `body` as `application/json` with its length; `headers` add to or replace the standard ones. */
export function writeJson(
  response: ServerResponse,
  statusCode: number,
  body: unknown,
  headers?: Readonly<Record<string, string>>,
): void {
  const payload = JSON.stringify(body);
  response
    .writeHead(statusCode, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload).toString(),
      ...headers,
    })
    .end(payload);
}

/**
 * Answers one HTTP request completely; never rejects unless it is served with an `onError` (see
 * {@link startLoopbackServer}), as the server does not await it.
 */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/** A started local server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, for an `AWS_ENDPOINT_URL_*` variable or a client's `endpoint`. */
  readonly url: string;
  /** Stops the server, dropping idle keep-alive connections too. */
  close(): Promise<void>;
}

/** Answers a request whose handler threw; the servers that need it turn the error into their own 500. */
export type LoopbackErrorHandler = (error: unknown, response: ServerResponse) => void;

/**
 * Serves `handle` on 127.0.0.1 only, as the local servers are for this machine and never the network, at `port`
 * or a port the kernel picks when none is given (read back once bound, so there is no window for another
 * process to take it). A handler that can reject passes `onError` to answer what it threw; without one, `handle`
 * must never reject.
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
    throw new LocalServerError(
      'LOCAL_SERVER_PORT_UNREADABLE',
      'a loopback server could not read its own port',
    );
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
