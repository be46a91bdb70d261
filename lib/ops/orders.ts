import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import {
  ENTITY,
  embeddedPaymentsOf,
  type Item,
  keys,
  toOrder,
  toPayment,
} from '../../functions/adapters/dynamodb-table';
import type { Order } from '../../functions/domain/order';
import { ORDER_STATUSES, OrderStatus } from '../../functions/domain/order-status';
import { type Payment, PaymentFactSource, PaymentStatus } from '../../functions/domain/payment';
import { describeIssues, type FieldIssue, parseJsonWith, parseWith } from '../../functions/domain/validation';
import { takeOption } from './options';

/**
 * Orders for operators: `orders list` pages through the orders table by customer, status and creation time, and
 * {@link countOrders} gives the console's overview its figures. The table has no index by customer or status
 * (one would cost write units on every order, see docs/decisions.md), so both read it with a Scan bounded by a
 * budget of items read; a page or a count therefore costs at most that budget, whatever the table's size, and
 * says when it stopped short. An exact order id is one read of its item instead.
 */

export interface OrdersContext {
  /** A client for the orders table's region and endpoint. */
  readonly dynamodb: DynamoDBClient;
  /** The orders table: the stack output `OrdersTableName`, locally `orders`. */
  readonly tableName: string;
}

export interface OrderQuery {
  /** An exact order id: the page holds that order alone. */
  readonly orderId?: string;
  readonly customerId?: string;
  readonly status?: OrderStatus;
  /** ISO 8601; orders created at or after. */
  readonly createdFrom?: string;
  /** ISO 8601; orders created before. */
  readonly createdTo?: string;
  /** The `next` of the page before. */
  readonly cursor?: string;
  readonly limit: number;
}

export interface OrderSummary {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly totalAmount: number;
  readonly currency: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface OrderPage {
  /** Newest first within the page; pages follow the table's own order, not time. */
  readonly orders: readonly OrderSummary[];
  /** Opaque; undefined on the last page. */
  readonly next: string | undefined;
}

export interface ListOrdersContext extends OrdersContext {
  /**
   * Items one page reads at most (orders and the other items sharing the table), so that a page whose filter
   * matches little still answers soon; such a page may hold fewer than `limit` orders, even none, with a `next`.
   * Default {@link PAGE_SCAN_BUDGET}.
   */
  readonly scanBudget?: number;
}

export interface OrderCountsContext extends OrdersContext {
  /** The sweeper's `REFUND_STUCK_AFTER_SECONDS`: a refund owed longer than this is stuck. */
  readonly refundStuckAfterSeconds: number;
  /** The clock the last hour and stuck refunds are judged by. Default: the system clock. */
  readonly now?: () => Date;
  /** Items the count reads at most. Default {@link COUNT_SCAN_CAP}. */
  readonly scanCap?: number;
}

export interface PaymentRef {
  readonly orderId: string;
  readonly paymentId: string;
}

export interface OrderCounts {
  /** Orders per status, every status present (0 when none). */
  readonly ordersByStatus: Readonly<Record<OrderStatus, number>>;
  /** Orders created per minute over the last hour, oldest first; `minute` is ISO 8601 at the minute's start. */
  readonly ordersPerMinute: readonly { readonly minute: string; readonly count: number }[];
  /** How many orders the counts read, and whether that was the whole table (false: capped, counts are a floor). */
  readonly ordersCounted: number;
  readonly complete: boolean;
  /** Refunds owed longer than `refundStuckAfterSeconds`, oldest first, at most {@link STUCK_REFUNDS_SHOWN}. */
  readonly stuckRefunds: readonly (PaymentRef & { readonly since: string })[];
  /** Payments whose current fact the reconciliation found, among the items the counts read. */
  readonly paymentsFoundByReconciliation: readonly PaymentRef[];
}

/** Stable codes of the module's errors. */
export const OrdersErrorCode = {
  USAGE: 'ORDERS_USAGE',
  INVALID_QUERY: 'ORDERS_INVALID_QUERY',
  INVALID_CURSOR: 'ORDERS_INVALID_CURSOR',
} as const;

export type OrdersErrorCode = (typeof OrdersErrorCode)[keyof typeof OrdersErrorCode];

export abstract class OrdersError extends Error {
  public abstract readonly code: OrdersErrorCode;
}

export const ORDERS_USAGE =
  'usage: orders list [--status STATUS] [--customer CUSTOMER_ID] [--limit N] [--cursor NEXT] [--json]';

export class OrdersUsageError extends OrdersError {
  public override readonly name = 'OrdersUsageError';
  public readonly code = OrdersErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${ORDERS_USAGE}`);
  }
}

/** A query the listing cannot run (an unknown status, a time that is not ISO 8601, a limit out of range). */
export class InvalidOrderQueryError extends OrdersError {
  public override readonly name = 'InvalidOrderQueryError';
  public readonly code = OrdersErrorCode.INVALID_QUERY;

  public constructor(public readonly issues: readonly FieldIssue[]) {
    super(`invalid order query: ${describeIssues(issues)}`);
  }
}

/** A cursor that no page of this listing gave out (mistyped, cut short, or made up). */
export class InvalidOrderCursorError extends OrdersError {
  public override readonly name = 'InvalidOrderCursorError';
  public readonly code = OrdersErrorCode.INVALID_CURSOR;

  public constructor() {
    super('the cursor is not one this listing gave out; start again from the first page');
  }
}

/** About 1 MB of order items, a single Scan request's most: a page costs at most ~128 read units. */
export const PAGE_SCAN_BUDGET = 1000;
/** The overview's count reads at most this many items (see docs/decisions.md for what that costs). */
export const COUNT_SCAN_CAP = 10_000;
/** Stuck refunds the overview names, each read once for its time; their count is alarmed by the sweeper. */
export const STUCK_REFUNDS_SHOWN = 50;
export const MAX_ORDERS_PER_PAGE = 1000;
const DEFAULT_CLI_LIMIT = 50;
const MINUTE_MS = 60_000;
const MINUTES_COUNTED = 60;

const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);
const querySchema = z.object({
  orderId: z.optional(z.string().check(z.minLength(1))),
  customerId: z.optional(z.string().check(z.minLength(1))),
  status: z.optional(z.enum(OrderStatus)),
  createdFrom: z.optional(instant),
  createdTo: z.optional(instant),
  cursor: z.optional(z.string()),
  limit: z.number().check(z.int(), z.gte(1), z.lte(MAX_ORDERS_PER_PAGE)),
});
/** The table's primary key, which is all a Scan's `LastEvaluatedKey` holds. */
const cursorSchema = z.object({ PK: z.string(), SK: z.string() });
type ScanKey = z.output<typeof cursorSchema>;

/**
 * One page of orders matching `query`. The Scan's filter drops every other item type and the orders of other
 * customers and statuses on DynamoDB's side (it still bills what it read); the creation time is checked here,
 * on the time `toOrder` derives from the timeline, since orders written since issue 21 store none. The page ends
 * when it holds `query.limit` orders (its cursor is then the last order's key, so the next page starts right
 * after it) or when it has read the scan budget (the cursor is where the read stopped).
 *
 * @throws {@link InvalidOrderQueryError}, {@link InvalidOrderCursorError}; SDK errors as they come
 */
export async function listOrders(query: OrderQuery, context: ListOrdersContext): Promise<OrderPage> {
  const valid = parseWith(querySchema, query, (issues) => new InvalidOrderQueryError(issues));
  const documents = DynamoDBDocumentClient.from(context.dynamodb);
  const matches = (order: Order) => createdWithin(order, valid.createdFrom, valid.createdTo);
  if (valid.orderId !== undefined) {
    const { Item } = await documents.send(
      new GetCommand({ TableName: context.tableName, Key: keys.order(valid.orderId), ConsistentRead: true }),
    );
    const order = Item === undefined ? undefined : toOrder(Item);
    const found =
      order !== undefined &&
      matches(order) &&
      (valid.customerId === undefined || order.customerId === valid.customerId) &&
      (valid.status === undefined || order.status === valid.status);
    return { orders: found ? [summaryOf(order)] : [], next: undefined };
  }
  const budget = context.scanBudget ?? PAGE_SCAN_BUDGET;
  const filter = scanFilter([ENTITY.order], { customerId: valid.customerId, status: valid.status });
  const orders: Order[] = [];
  let startKey = valid.cursor === undefined ? undefined : decodeCursor(valid.cursor);
  let scanned = 0;
  let next: string | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: context.tableName,
        ...filter,
        Limit: budget - scanned,
        ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
      }),
    );
    scanned += page.ScannedCount ?? 0;
    const items = page.Items ?? [];
    for (const [index, item] of items.entries()) {
      const order = toOrder(item);
      if (!matches(order)) continue;
      orders.push(order);
      const lastOfTable = index === items.length - 1 && page.LastEvaluatedKey === undefined;
      if (orders.length === valid.limit && !lastOfTable) {
        return { orders: newestFirst(orders), next: encodeCursor(keyOf(item)) };
      }
    }
    startKey = page.LastEvaluatedKey === undefined ? undefined : keyOf(page.LastEvaluatedKey);
    next = encodeCursor(startKey);
  } while (startKey !== undefined && scanned < budget);
  return { orders: newestFirst(orders), next };
}

/**
 * The overview's figures: orders per status and per minute of the last hour, and payments the reconciliation
 * found, from one Scan of orders and payment items capped at `scanCap` items read; and the refunds stuck longer
 * than `refundStuckAfterSeconds`, through the sweeper's own query of the sparse refund-pending index.
 */
export async function countOrders(context: OrderCountsContext): Promise<OrderCounts> {
  const now = (context.now ?? (() => new Date()))();
  const documents = DynamoDBDocumentClient.from(context.dynamodb);
  const [scan, stuckRefunds] = await Promise.all([
    scanForCounts(documents, context.tableName, context.scanCap ?? COUNT_SCAN_CAP, now),
    findStuckRefunds(documents, context.tableName, now, context.refundStuckAfterSeconds),
  ]);
  return { ...scan, stuckRefunds };
}

async function scanForCounts(
  documents: DynamoDBDocumentClient,
  tableName: string,
  cap: number,
  now: Date,
): Promise<Omit<OrderCounts, 'stuckRefunds'>> {
  const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
    OrderStatus,
    number
  >;
  // The minute now is in is the last of the sixty, counted so far.
  const firstMinute = Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS - (MINUTES_COUNTED - 1) * MINUTE_MS;
  const perMinute = new Array<number>(MINUTES_COUNTED).fill(0);
  const foundByReconciliation: PaymentRef[] = [];
  const filter = scanFilter([ENTITY.order, ENTITY.payment], {});
  let ordersCounted = 0;
  let scanned = 0;
  let startKey: ScanKey | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        ...filter,
        Limit: cap - scanned,
        ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
      }),
    );
    scanned += page.ScannedCount ?? 0;
    for (const item of page.Items ?? []) {
      const payments: Payment[] =
        item.entityType === ENTITY.order ? embeddedPaymentsOf(item) : [toPayment(item)];
      foundByReconciliation.push(
        ...payments
          .filter((payment) => payment.recordedBy === PaymentFactSource.RECONCILIATION)
          .map(({ orderId, paymentId }) => ({ orderId, paymentId })),
      );
      if (item.entityType !== ENTITY.order) continue;
      const order = toOrder(item);
      ordersCounted += 1;
      ordersByStatus[order.status] += 1;
      const minute = Math.floor((Date.parse(order.createdAt) - firstMinute) / MINUTE_MS);
      if (minute >= 0 && minute < MINUTES_COUNTED) perMinute[minute] = (perMinute[minute] ?? 0) + 1;
    }
    startKey = page.LastEvaluatedKey === undefined ? undefined : keyOf(page.LastEvaluatedKey);
  } while (startKey !== undefined && scanned < cap);
  return {
    ordersByStatus,
    ordersPerMinute: perMinute.map((count, index) => ({
      minute: new Date(firstMinute + index * MINUTE_MS).toISOString(),
      count,
    })),
    ordersCounted,
    complete: startKey === undefined,
    paymentsFoundByReconciliation: foundByReconciliation,
  };
}

/**
 * The sweeper's count of stuck refunds (`findRefundsPendingSince`, over every shard of the refund-pending index),
 * each then read for the time it became owed, which the index holds but the count does not return. A refund
 * settled in between is left out.
 */
async function findStuckRefunds(
  documents: DynamoDBDocumentClient,
  tableName: string,
  now: Date,
  stuckAfterSeconds: number,
): Promise<OrderCounts['stuckRefunds']> {
  const payments = new DynamoDbPaymentRepository({ client: documents, tableName });
  const before = new Date(now.getTime() - stuckAfterSeconds * 1000);
  const { sample } = await payments.findRefundsPendingSince(before, STUCK_REFUNDS_SHOWN);
  const found = await Promise.all(sample.map((ref) => payments.get(ref.orderId, ref.paymentId)));
  return found
    .filter((payment): payment is Payment => payment?.status === PaymentStatus.REFUND_PENDING)
    .map(({ orderId, paymentId, updatedAt }) => ({ orderId, paymentId, since: updatedAt }));
}

/** The Scan's filter: items of these entity types, with these attribute values where given. */
function scanFilter(
  entityTypes: readonly string[],
  equal: { readonly customerId?: string | undefined; readonly status?: string | undefined },
): Pick<ScanCommandInput, 'FilterExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> {
  const names: Record<string, string> = { '#entityType': 'entityType' };
  const values: Record<string, string> = {};
  const types = entityTypes.map((entityType, index) => {
    values[`:entityType${index}`] = entityType;
    return `:entityType${index}`;
  });
  const conditions = [`#entityType IN (${types.join(', ')})`];
  for (const [attribute, value] of Object.entries(equal)) {
    if (value === undefined) continue;
    names[`#${attribute}`] = attribute;
    values[`:${attribute}`] = value;
    conditions.push(`#${attribute} = :${attribute}`);
  }
  return {
    FilterExpression: conditions.join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function createdWithin(order: Order, from: string | undefined, to: string | undefined): boolean {
  const created = Date.parse(order.createdAt);
  return (
    (from === undefined || created >= Date.parse(from)) && (to === undefined || created < Date.parse(to))
  );
}

function summaryOf(order: Order): OrderSummary {
  const { orderId, customerId, status, totalAmount, currency, createdAt, updatedAt } = order;
  return { orderId, customerId, status, totalAmount, currency, createdAt, updatedAt };
}

function newestFirst(orders: readonly Order[]): OrderSummary[] {
  return orders.map(summaryOf).sort((left, right) => right.createdAt.localeCompare(left.createdAt));
}

function keyOf(item: Item): ScanKey {
  return { PK: String(item.PK), SK: String(item.SK) };
}

function encodeCursor(key: ScanKey | undefined): string | undefined {
  return key === undefined ? undefined : Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): ScanKey {
  return parseJsonWith(
    cursorSchema,
    Buffer.from(cursor, 'base64url').toString('utf8'),
    () => new InvalidOrderCursorError(),
  );
}

/**
 * Runs `orders list ...` (a leading `orders` is accepted too): prints one line per order, or with `--json` the
 * orders and the cursor as one JSON document, and returns them. Unlike one page of {@link listOrders}, it reads
 * on until it has `--limit` orders (default 50) or the table ends, since a command that printed nothing while
 * later orders match would mislead; when it stops at the limit, it prints the cursor that goes on.
 *
 * @throws {@link OrdersUsageError} for bad arguments; {@link InvalidOrderCursorError}; SDK errors as they come
 */
export async function runOrdersCommand(
  args: readonly string[],
  context: ListOrdersContext & { readonly out: (line: string) => void },
): Promise<OrderPage> {
  const words = args[0] === 'orders' ? args.slice(1) : [...args];
  const json = words.includes('--json');
  const rest = words.filter((word) => word !== '--json');
  const status = takeOption(rest, '--status', usageError);
  const customerId = takeOption(rest, '--customer', usageError);
  const limitText = takeOption(rest, '--limit', usageError);
  let cursor = takeOption(rest, '--cursor', usageError);
  const [command, ...extra] = rest;
  if (command !== 'list')
    throw new OrdersUsageError(command === undefined ? 'no command' : `unknown command ${command}`);
  if (extra.length > 0) throw new OrdersUsageError(`unexpected arguments: ${extra.join(' ')}`);
  const statusValue = status === undefined ? undefined : parseStatus(status);
  const limit = limitText === undefined ? DEFAULT_CLI_LIMIT : parseLimit(limitText);
  const orders: OrderSummary[] = [];
  let next: string | undefined;
  do {
    const page = await listOrders(
      {
        limit: limit - orders.length,
        ...(statusValue !== undefined && { status: statusValue }),
        ...(customerId !== undefined && { customerId }),
        ...(cursor !== undefined && { cursor }),
      },
      context,
    );
    orders.push(...page.orders);
    next = page.next;
    cursor = next;
  } while (next !== undefined && orders.length < limit);
  if (json) {
    context.out(JSON.stringify({ orders, next: next ?? null }, null, 2));
  } else {
    if (orders.length === 0) context.out('no orders');
    for (const order of orders) {
      context.out(
        [
          order.orderId,
          order.status,
          `customer=${order.customerId}`,
          `total=${order.totalAmount} ${order.currency}`,
          `created=${order.createdAt}`,
          `updated=${order.updatedAt}`,
        ].join('\t'),
      );
    }
    if (next !== undefined) context.out(`more: --cursor ${next}`);
  }
  return { orders, next };
}

/** The error an option without its value is refused with. */
const usageError = (problem: string): Error => new OrdersUsageError(problem);

function parseStatus(value: string): OrderStatus {
  const status = ORDER_STATUSES.find((candidate) => candidate === value.toUpperCase());
  if (status === undefined)
    throw new OrdersUsageError(`--status must be one of ${ORDER_STATUSES.join(', ')}`);
  return status;
}

function parseLimit(value: string): number {
  if (!/^[1-9]\d*$/.test(value) || Number(value) > MAX_ORDERS_PER_PAGE) {
    throw new OrdersUsageError(`--limit needs a whole number from 1 to ${MAX_ORDERS_PER_PAGE}`);
  }
  return Number(value);
}
