import type { OrderStatus } from '../../functions/domain/order-status';
import type { SagaStatusFilter } from './backend';
import { ConsoleErrorCode, ConsoleRequestError } from './errors';

/**
 * The console's URLs, both ways: the links pages write and the routes the server reads, kept in one module so
 * they cannot drift apart. Every variable part is percent-encoded on the way out and decoded on the way in.
 */

export const CONSOLE_PATH = '/console';
const ASSETS = `${CONSOLE_PATH}/assets`;

/** The orders list's filters, as its search form and its links carry them. */
export interface OrderFilter {
  readonly orderId?: string | undefined;
  readonly customerId?: string | undefined;
  readonly status?: OrderStatus | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly cursor?: string | undefined;
}

function withQuery(path: string, query: Readonly<Record<string, string | number | undefined>>): string {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') parameters.set(name, String(value));
  }
  const search = parameters.toString();
  return search === '' ? path : `${path}?${search}`;
}

const segment = encodeURIComponent;

export const consoleUrl = {
  overview: () => CONSOLE_PATH,
  orders: (filter: OrderFilter = {}) => withQuery(`${CONSOLE_PATH}/orders`, { ...filter }),
  order: (orderId: string) => `${CONSOLE_PATH}/orders/${segment(orderId)}`,
  deadLetters: () => `${CONSOLE_PATH}/dead-letters`,
  deadLetterQueue: (queue: string) => `${CONSOLE_PATH}/dead-letters/${segment(queue)}`,
  /** The confirmation page (GET) and the redrive itself (POST). */
  redrive: (queue: string, max?: number) =>
    withQuery(`${CONSOLE_PATH}/dead-letters/${segment(queue)}/redrive`, { max }),
  sagas: (status?: SagaStatusFilter) => withQuery(`${CONSOLE_PATH}/sagas`, { status }),
  sagaRedrive: (executionName: string) => `${CONSOLE_PATH}/sagas/${segment(executionName)}/redrive`,
  stylesheet: () => `${ASSETS}/console.css`,
  script: () => `${ASSETS}/console.js`,
} as const;

export type Asset = 'console.css' | 'console.js';

export type Route =
  | { readonly page: 'overview' }
  | { readonly page: 'orders' }
  | { readonly page: 'order'; readonly orderId: string }
  | { readonly page: 'dead-letters' }
  | { readonly page: 'dead-letter-queue'; readonly queue: string }
  | { readonly page: 'redrive-confirmation'; readonly queue: string }
  | { readonly page: 'redrive'; readonly queue: string }
  | { readonly page: 'sagas' }
  | { readonly page: 'saga-redrive'; readonly executionName: string }
  | { readonly page: 'asset'; readonly asset: Asset };

/** What the console serves at one path, by method (a redrive's path answers GET and POST differently). */
export interface PathRoutes {
  readonly GET?: Route;
  readonly POST?: Route;
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConsoleRequestError(
      ConsoleErrorCode.BAD_REQUEST,
      `the path part ${part} is not valid percent-encoding`,
    );
  }
}

/**
 * The routes at a path under `/console` (a trailing slash is ignored), or undefined when there are none.
 *
 * @throws {@link ConsoleRequestError} `CONSOLE_BAD_REQUEST` for a path part that is not valid percent-encoding
 */
export function matchRoute(pathname: string): PathRoutes | undefined {
  const parts = pathname.replace(/\/+$/, '').split('/').slice(1);
  if (parts[0] !== CONSOLE_PATH.slice(1)) return undefined;
  const [section, name, action, ...rest] = parts.slice(1).map(decoded);
  if (rest.length > 0) return undefined;
  switch (section) {
    case undefined:
      return { GET: { page: 'overview' } };
    case 'orders':
      if (action !== undefined) return undefined;
      return { GET: name === undefined ? { page: 'orders' } : { page: 'order', orderId: name } };
    case 'dead-letters':
      if (name === undefined) return { GET: { page: 'dead-letters' } };
      if (action === undefined) return { GET: { page: 'dead-letter-queue', queue: name } };
      return action === 'redrive'
        ? { GET: { page: 'redrive-confirmation', queue: name }, POST: { page: 'redrive', queue: name } }
        : undefined;
    case 'sagas':
      if (name === undefined) return action === undefined ? { GET: { page: 'sagas' } } : undefined;
      return action === 'redrive' ? { POST: { page: 'saga-redrive', executionName: name } } : undefined;
    case 'assets':
      return action === undefined && (name === 'console.css' || name === 'console.js')
        ? { GET: { page: 'asset', asset: name } }
        : undefined;
    default:
      return undefined;
  }
}
