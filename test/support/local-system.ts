import { signatureHeader } from '../../functions/domain/webhook-signature';
import {
  type LocalSystem,
  type LocalSystemOptions,
  startLocalSystem,
} from '../../lib/local/runtime/local-system';
import { LOGISTICS_WEBHOOK_SECRET } from '../../lib/model';
import { type CustomerEndpoint, fetchAs } from './auth';

/** The whole local system as the end-to-end tests run it: on a free port, functions silent, then `options`. */
export async function startTestSystem(options: LocalSystemOptions = {}): Promise<LocalSystem> {
  return await startLocalSystem({ port: 0, functionLogLevel: 'SILENT', ...options });
}

/** The orders table and the fulfilment state machine, named where `npm run ops -- --local <url>` reads them. */
export async function opsNamesOf(
  system: Pick<LocalSystem, 'url'>,
): Promise<{ readonly tableName: string; readonly stateMachineArn: string }> {
  const endpoints = (await (await fetch(`${system.url}/_local/endpoints`)).json()) as {
    tableNames: Record<string, string>;
    stateMachineArns: Record<string, string>;
  };
  return {
    tableName: endpoints.tableNames.orders ?? '',
    stateMachineArn: endpoints.stateMachineArns.fulfillment ?? '',
  };
}

/** An order as `GET /orders/{orderId}` answers it (the fields the tests read). */
export interface OrderView {
  readonly orderId: string;
  readonly status: string;
  readonly totalAmount: number;
  readonly currency: string;
  readonly paymentDeadline: string;
  readonly updatedAt: string;
  readonly history: readonly { readonly status: string; readonly at: string }[];
  readonly payments: readonly {
    readonly paymentId: string;
    readonly status: string;
    readonly amount: number;
    readonly currency: string;
  }[];
}

export interface HttpAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly contentType: string | null;
  /** The parsed JSON body; null when the body is empty. */
  readonly body: T;
}

/** `method path` as `customer`, with `body` sent as JSON when given; answers with the parsed body. */
export async function requestAs<T = Record<string, unknown>>(
  system: CustomerEndpoint,
  customer: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<HttpAnswer<T>> {
  const response = await fetchAs(system, customer, path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (text.length > 0 ? JSON.parse(text) : null) as T,
  };
}

/** Places an order of `quantity` boxes at `unitPrice` for `customer`; throws unless it was created. */
export async function placeBoxOrder(
  system: CustomerEndpoint,
  customer: string,
  quantity: number,
  unitPrice: number,
): Promise<OrderView> {
  const order = { customerId: customer, currency: 'EUR', items: [{ sku: 'BOX', quantity, unitPrice }] };
  const placed = await requestAs<OrderView>(system, customer, 'POST', '/orders', JSON.stringify(order));
  if (placed.status !== 201) throw new Error(`placing an order answered ${placed.status}`);
  return placed.body;
}

/** The carrier reporting `status` for the order, signed as it signs: the logistics webhook must take it (202). */
export async function reportLogisticsStatus(
  system: LocalSystem,
  report: { readonly orderId: string; readonly status: string; readonly eventId: string },
): Promise<void> {
  const body = JSON.stringify({ ...report, occurredAt: new Date().toISOString() });
  const secret = system.secrets[LOGISTICS_WEBHOOK_SECRET] ?? '';
  const response = await fetch(`${system.url}/webhooks/logistics`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'logistics-signature': signatureHeader(secret, body, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  if (response.status !== 202) throw new Error(`the logistics webhook answered ${response.status}`);
}
