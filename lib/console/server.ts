import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isOrderStatus, type OrderStatus } from '../../functions/domain/order-status';
import { DlqCommandError, DlqCommandErrorCode } from '../ops/dlq';
import { OrdersError } from '../ops/orders';
import { ALL_FAILED_SAGAS, SagasCommandError } from '../ops/sagas';
import type { ConsoleBackend, OrderQuery, SagaStatusFilter } from './backend';
import { ConsoleErrorCode, ConsoleRequestError } from './errors';
import {
  deadLetterQueuePage,
  deadLettersPage,
  redriveConfirmationPage,
  redriveResultPage,
} from './pages/dead-letters';
import { errorPage } from './pages/error';
import { type ConsolePage, layout } from './pages/layout';
import { orderPage } from './pages/order';
import { ordersPage } from './pages/orders';
import { overviewPage } from './pages/overview';
import { SAGA_STATUS_FILTERS, sagaRedrivePage, sagasPage } from './pages/sagas';
import { type Asset, matchRoute, type OrderFilter, type Route } from './routes';

/**
 * The operations console over HTTP: every path under `/console`, answered with whole server-rendered pages.
 * It reads and acts only through a {@link ConsoleBackend}; this module adds routing, input checks, the CSRF
 * defence, security headers and the action log.
 *
 * CSRF: a state-changing request is a POST that must carry (1) an `Origin` header equal to the console's own
 * origin, `http://` + the `Host` header, and (2) a form field `csrf` equal to the `console_csrf` cookie, compared
 * in constant time. The cookie is random, set on any page answer to a browser that lacks it, `HttpOnly` and
 * `SameSite=Strict`, so another site can neither read it nor make the browser send it. Either check alone would
 * do against a browser; both together survive a browser that omits `Origin` or a cookie leaked by a sibling app.
 * Requests whose `Host` is not a loopback name are refused outright: a DNS-rebinding page would otherwise be
 * "same origin" with the console under its own host name and pass both checks.
 */

export interface ConsoleHandlerOptions {
  readonly backend: ConsoleBackend;
  /** Who acts, for the action log: the local user, or the AWS caller identity. */
  readonly operator: () => Promise<string>;
  /** Receives one JSON line per action (and per failure the console could not answer sensibly). */
  readonly log: (line: string) => void;
  /** The clock ages are measured with. Default: the system clock. */
  readonly now?: () => Date;
}

/** Answers one request completely, never rejecting; `body` is the request body, already read. */
export type ConsoleHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  body: Buffer,
) => Promise<void>;

const CSRF_COOKIE = 'console_csrf';
const CSRF_FIELD = 'csrf';
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const ORDERS_PER_PAGE = 50;
/** As many as `ops dlq show` shows by default. */
const MESSAGES_SHOWN = 100;
const MAX_TEXT_INPUT = 200;
const MAX_CURSOR = 4096;
const MAX_FORM_BYTES = 16 * 1024;
/** SQS's rule for queue names. */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/;
/** Step Functions' limit on execution names. */
const MAX_EXECUTION_NAME = 80;
const DEFAULT_SAGA_STATUS: SagaStatusFilter = 'FAILED';
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: under it a browser sends `Origin: null` with a form POST, which the CSRF check refuses.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const ASSETS: Readonly<Record<Asset, { readonly type: string; readonly text: string }>> = {
  'console.css': { type: 'text/css; charset=utf-8', text: readAsset('console.css') },
  'console.js': { type: 'text/javascript; charset=utf-8', text: readAsset('console.js') },
};

function readAsset(name: Asset): string {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
}

interface Answer {
  readonly status: number;
  readonly page: ConsolePage;
}

/** Every route but the static assets: the ones answered with a page. */
type PageRoute = Exclude<Route, { readonly page: 'asset' }>;

interface Exchange {
  readonly url: URL;
  readonly form: URLSearchParams;
  /** The token forms carry: the browser's cookie, or the one this answer sets. */
  readonly csrfToken: string;
}

export function createConsoleHandler(options: ConsoleHandlerOptions): ConsoleHandler {
  const { backend, log } = options;
  const now = options.now ?? (() => new Date());

  const action = async <T extends object>(
    consoleAction: string,
    target: string,
    act: () => Promise<T>,
  ): Promise<T> => {
    const operator = await options.operator();
    const write = (outcome: object) => log(JSON.stringify({ consoleAction, operator, target, outcome }));
    try {
      const outcome = await act();
      write(outcome);
      return outcome;
    } catch (error) {
      write({ error: describeError(error).code, message: messageOf(error) });
      throw error;
    }
  };

  const render = async (route: PageRoute, exchange: Exchange): Promise<Answer> => {
    const { url, form, csrfToken } = exchange;
    const ok = (page: ConsolePage): Answer => ({ status: 200, page });
    switch (route.page) {
      case 'overview':
        return ok(overviewPage(await backend.overview(), now()));
      case 'orders': {
        const { filter, query } = orderSearch(url.searchParams);
        return ok(ordersPage(filter, await backend.listOrders(query)));
      }
      case 'order': {
        const orderId = boundedText('order id', route.orderId, MAX_TEXT_INPUT);
        const [story, definition] = await Promise.all([
          backend.orderStory(orderId),
          backend.sagaDefinition(),
        ]);
        if (story === undefined) {
          throw new ConsoleRequestError(
            ConsoleErrorCode.NOT_FOUND,
            `no order, saga or dead letter has the id ${orderId}`,
          );
        }
        return ok(orderPage(story, definition, csrfToken));
      }
      case 'dead-letters':
        return ok(deadLettersPage(await backend.deadLetterQueues(), now()));
      case 'dead-letter-queue':
        return ok(
          deadLetterQueuePage(
            await backend.deadLetterMessages(queueName(route.queue), MESSAGES_SHOWN),
            MESSAGES_SHOWN,
          ),
        );
      case 'redrive-confirmation': {
        const queue = queueName(route.queue);
        const max = redriveMax(url.searchParams.get('max'));
        // One message is enough to learn the queue's count and source (and its absence, as a 404).
        const { queue: view } = await backend.deadLetterMessages(queue, 1);
        return ok(redriveConfirmationPage(view, max, csrfToken));
      }
      case 'redrive': {
        const queue = queueName(route.queue);
        const max = redriveMax(form.get('max'));
        const result = await action('dlq-redrive', queue, async () => ({
          max: max ?? 'all',
          ...(await backend.redriveDeadLetters(queue, max)),
        }));
        return ok(redriveResultPage(result));
      }
      case 'sagas': {
        const status = sagaStatus(url.searchParams.get('status'));
        return ok(sagasPage(status, await backend.sagas(status), csrfToken));
      }
      case 'saga-redrive': {
        const name = boundedText('execution name', route.executionName, MAX_EXECUTION_NAME);
        // The CLI's bulk word: a page redrives the one execution its button names.
        if (name === ALL_FAILED_SAGAS) {
          throw new ConsoleRequestError(ConsoleErrorCode.BAD_REQUEST, `${name} names no single execution`);
        }
        const { outcomes } = await action('saga-redrive', name, async () => ({
          outcomes: await backend.redriveSaga(name),
        }));
        return ok(sagaRedrivePage(outcomes));
      }
    }
  };

  return async (request, response, body) => {
    const cookieToken = csrfCookieOf(request);
    const csrfToken = cookieToken ?? randomBytes(32).toString('base64url');
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
    const headers: Record<string, string> = { ...SECURITY_HEADERS };
    let answer: Answer;
    try {
      const host = loopbackHost(request);
      const url = new URL(request.url ?? '/', `http://${host}`);
      const routes = matchRoute(url.pathname);
      if (routes === undefined)
        throw new ConsoleRequestError(ConsoleErrorCode.NOT_FOUND, `no page at ${url.pathname}`);
      const route = method === 'GET' || method === 'POST' ? routes[method] : undefined;
      if (route === undefined) {
        headers.allow = Object.keys(routes).join(', ');
        throw new ConsoleRequestError(
          ConsoleErrorCode.METHOD_NOT_ALLOWED,
          `${method} is not allowed on ${url.pathname}`,
        );
      }
      if (route.page === 'asset') {
        const asset = ASSETS[route.asset];
        send(response, 200, asset.type, asset.text, headers);
        return;
      }
      const form = method === 'POST' ? checkedForm(request, host, body, cookieToken) : new URLSearchParams();
      answer = await render(route, { url, form, csrfToken });
    } catch (error) {
      const { status, code } = describeError(error);
      if (status >= 500) {
        log(JSON.stringify({ consoleError: code, message: messageOf(error), method, path: request.url }));
      }
      answer = { status, page: errorPage(status, code, messageOf(error)) };
    }
    if (cookieToken === undefined && method === 'GET') {
      headers['set-cookie'] = `${CSRF_COOKIE}=${csrfToken}; Path=/console; HttpOnly; SameSite=Strict`;
    }
    send(response, answer.status, 'text/html; charset=utf-8', layout(answer.page).toString(), headers);
  };
}

function send(
  response: ServerResponse,
  status: number,
  type: string,
  text: string,
  headers: Readonly<Record<string, string>>,
): void {
  response
    .writeHead(status, {
      ...headers,
      'content-type': type,
      'content-length': String(Buffer.byteLength(text)),
    })
    .end(text);
}

/** The request's `Host` if it names this machine's loopback interface, whatever the port. */
function loopbackHost(request: IncomingMessage): string {
  const host = request.headers.host?.toLowerCase() ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  if (name === undefined || !LOOPBACK_HOSTS.has(name)) {
    throw new ConsoleRequestError(
      ConsoleErrorCode.HOST_REFUSED,
      `the console answers only to loopback host names (localhost, 127.0.0.1, [::1]), not to ${host || 'no Host'}`,
    );
  }
  return host;
}

function csrfCookieOf(request: IncomingMessage): string | undefined {
  for (const pair of (request.headers.cookie ?? '').split(';')) {
    const [name, value] = pair.trim().split('=');
    if (name === CSRF_COOKIE && value !== undefined && TOKEN_PATTERN.test(value)) return value;
  }
  return undefined;
}

function sameToken(presented: string, expected: string): boolean {
  const left = Buffer.from(presented);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The POST's form, once the request has passed the CSRF checks (see the module documentation).
 *
 * @throws {@link ConsoleRequestError} `CONSOLE_CSRF_REFUSED`, or `CONSOLE_BAD_REQUEST` for a body that is no form
 */
function checkedForm(
  request: IncomingMessage,
  host: string,
  body: Buffer,
  cookieToken: string | undefined,
): URLSearchParams {
  const refuse = (why: string) => new ConsoleRequestError(ConsoleErrorCode.CSRF_REFUSED, why);
  const origin = request.headers.origin;
  if (origin === undefined)
    throw refuse('the request has no Origin header, so it cannot be told from a forged one');
  if (origin.toLowerCase() !== `http://${host}`) {
    throw refuse(`the request came from ${origin}, not from the console's own origin http://${host}`);
  }
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || body.length > MAX_FORM_BYTES) {
    throw new ConsoleRequestError(
      ConsoleErrorCode.BAD_REQUEST,
      `a console action takes a form (application/x-www-form-urlencoded) of at most ${MAX_FORM_BYTES} bytes`,
    );
  }
  const form = new URLSearchParams(body.toString('utf8'));
  const presented = form.get(CSRF_FIELD);
  if (presented === null || presented === '') throw refuse('the form carries no CSRF token');
  if (cookieToken === undefined)
    throw refuse(`the browser sent no ${CSRF_COOKIE} cookie to check the token against`);
  if (!sameToken(presented, cookieToken))
    throw refuse(`the form's CSRF token does not match the ${CSRF_COOKIE} cookie`);
  return form;
}

function badRequest(message: string): ConsoleRequestError {
  return new ConsoleRequestError(ConsoleErrorCode.BAD_REQUEST, message);
}

function boundedText(what: string, value: string, maxLength: number): string {
  if (value.length > maxLength || /\p{Cc}/u.test(value)) {
    throw badRequest(`the ${what} must be at most ${maxLength} characters with no control characters`);
  }
  return value;
}

function queueName(value: string): string {
  if (!QUEUE_NAME.test(value)) throw badRequest(`${value} is not a queue name`);
  return value;
}

/** `max` of a redrive: empty or absent for all, else a positive whole number (as `ops dlq --max` takes it). */
function redriveMax(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^[1-9]\d{0,6}$/.test(value))
    throw badRequest(`max must be empty (all) or a whole number from 1, not ${value}`);
  return Number(value);
}

function sagaStatus(value: string | null): SagaStatusFilter {
  if (value === null || value === '') return DEFAULT_SAGA_STATUS;
  const status = SAGA_STATUS_FILTERS.find((candidate) => candidate === value);
  if (status === undefined)
    throw badRequest(`status must be one of ${SAGA_STATUS_FILTERS.join(', ')}, not ${value}`);
  return status;
}

function orderStatus(value: string | undefined): OrderStatus | undefined {
  if (value === undefined || isOrderStatus(value)) return value;
  throw badRequest(`${value} is not an order status`);
}

/** An ISO 8601 time (a date alone is its midnight UTC), normalised; empty for none. */
function searchTime(what: string, value: string): string | undefined {
  if (value === '') return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time) || value.length > MAX_TEXT_INPUT) {
    throw badRequest(`${what} must be an ISO 8601 time such as 2026-12-07T12:00Z, not ${value}`);
  }
  return new Date(time).toISOString();
}

/** The orders search as the form sent it (for the form and the links) and as the backend takes it. */
function orderSearch(parameters: URLSearchParams): { filter: OrderFilter; query: OrderQuery } {
  const text = (name: string, maxLength = MAX_TEXT_INPUT) => {
    const value = (parameters.get(name) ?? '').trim();
    return value === '' ? undefined : boundedText(name, value, maxLength);
  };
  const filter: OrderFilter = {
    orderId: text('orderId'),
    customerId: text('customerId'),
    status: orderStatus(text('status')),
    from: text('from'),
    to: text('to'),
    cursor: text('cursor', MAX_CURSOR),
  };
  const createdFrom = searchTime('from', filter.from ?? '');
  const createdTo = searchTime('to', filter.to ?? '');
  const query: OrderQuery = {
    limit: ORDERS_PER_PAGE,
    ...(filter.orderId !== undefined && { orderId: filter.orderId }),
    ...(filter.customerId !== undefined && { customerId: filter.customerId }),
    ...(filter.status !== undefined && { status: filter.status }),
    ...(createdFrom !== undefined && { createdFrom }),
    ...(createdTo !== undefined && { createdTo }),
    ...(filter.cursor !== undefined && { cursor: filter.cursor }),
  };
  return { filter, query };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The status and code an error is answered with: the console's own, the ops commands' refusals, or a 500. */
function describeError(error: unknown): { status: number; code: string } {
  if (error instanceof ConsoleRequestError) return { status: error.status, code: error.code };
  if (error instanceof DlqCommandError) {
    const status =
      error.code === DlqCommandErrorCode.QUEUE_NOT_FOUND ||
      error.code === DlqCommandErrorCode.NO_DEAD_LETTER_QUEUE
        ? 404
        : error.code === DlqCommandErrorCode.SOURCE_UNKNOWN
          ? 409
          : 400;
    return { status, code: error.code };
  }
  if (error instanceof SagasCommandError || error instanceof OrdersError)
    return { status: 400, code: error.code };
  const code =
    error instanceof Error && 'code' in error && typeof error.code === 'string'
      ? error.code
      : error instanceof Error
        ? error.name
        : 'CONSOLE_INTERNAL';
  return { status: 500, code };
}
