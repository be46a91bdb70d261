import { beforeAll, describe, expect, it } from 'vitest';
import { ORDER_STATUSES, OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource } from '../../functions/domain/payment';
import {
  countOrders,
  InvalidOrderCursorError,
  InvalidOrderQueryError,
  type ListOrdersContext,
  listOrders,
  type OrderQuery,
  OrdersErrorCode,
  OrdersUsageError,
  runOrdersCommand,
} from '../../lib/ops/orders';
import { createTestTables, putOrderBeforeIssue21, type TestTables } from '../support/dynamodb';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import {
  ManualClock,
  orderIds,
  orderServiceOn,
  paymentServiceOn,
  secondsAfter,
} from '../support/payment-window';

/**
 * `lib/ops/orders.ts` on DynamoDB Local: listing orders by customer, status and time through a bounded Scan,
 * page after page, and the overview's counts, over a table holding orders of every kind the system writes (with
 * their payments, refunds and the old item shape) besides other items.
 */

/** The instant the listing and the counts are judged at; the orders below are placed before it. */
const NOW = new Date('2026-12-07T12:00:20.000Z');
const HOUR_SECONDS = 3600;

let tables: TestTables;
let context: ListOrdersContext;
const clock = new ManualClock(NOW);
const provider = new InMemoryPaymentProvider({ now: () => clock.now(), paymentIdFor: (id) => `pi_${id}` });
const newOrderId = orderIds('01OPSORDERS');

interface Placed {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly createdAt: string;
}
/** Every order in the table, as placed and moved below. */
const placed: Placed[] = [];
let stuckRefund: { orderId: string; paymentId: string; since: string };
const reconciled: { orderId: string; paymentId: string }[] = [];
const OLD_ORDER_ID = '01OPSORDERSOLDSHAPE0000001';
const OLD_CREATED_AT = '2026-12-07T11:50:00.000Z';

async function place(customerId: string, secondsBeforeNow: number): Promise<string> {
  clock.set(secondsAfter(NOW, -secondsBeforeNow));
  const orders = orderServiceOn(tables, { clock, paymentTimeoutSeconds: 600, newOrderId });
  const { order } = await orders.placeOrder({
    customerId,
    currency: 'EUR',
    items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }],
  });
  placed.push({ orderId: order.orderId, customerId, status: order.status, createdAt: order.createdAt });
  return order.orderId;
}

function moved(orderId: string, status: OrderStatus): void {
  const index = placed.findIndex((order) => order.orderId === orderId);
  const order = placed[index];
  if (order === undefined) throw new Error(`no order ${orderId} was placed`);
  placed[index] = { ...order, status };
}

/** Pays the order's intent, the fact learnt by `source`. */
async function pay(orderId: string, customerId: string, source: PaymentFactSource): Promise<string> {
  const payments = paymentServiceOn(tables, clock, { provider });
  const { intent } = await payments.preparePayment(orderId, customerId);
  await payments.handleProviderEvent(provider.pay(intent.paymentId), source);
  return intent.paymentId;
}

beforeAll(async () => {
  tables = await createTestTables();
  context = { dynamodb: tables.client, tableName: tables.ordersTableName };
  // Two hours ago: paid after its cancellation, so its refund is owed since then, longer than an hour.
  const refunded = await place('alice', 2 * HOUR_SECONDS);
  const payments = paymentServiceOn(tables, clock, { provider });
  const { intent } = await payments.preparePayment(refunded, 'alice');
  await orderServiceOn(tables, { clock, paymentTimeoutSeconds: 600, newOrderId }).cancelOrder(
    refunded,
    'alice',
  );
  await payments.handleProviderEvent(provider.pay(intent.paymentId), PaymentFactSource.WEBHOOK);
  moved(refunded, OrderStatus.CANCELLED);
  stuckRefund = { orderId: refunded, paymentId: intent.paymentId, since: clock.now().toISOString() };
  // Within the last hour: at 30, 5 and 1 minutes before NOW, and NOW itself.
  for (const [customerId, secondsBefore] of [
    ['alice', 30 * 60],
    ['bob', 30 * 60],
    ['alice', 5 * 60],
    ['carol', 5 * 60 + 10],
    ['bob', 60],
    ['alice', 0],
  ] as const) {
    await place(customerId, secondsBefore);
  }
  // Bob's first and Carol's paid as the reconciliation found them, Alice's second by its webhook.
  for (const order of [placed[2], placed[4]]) {
    if (order === undefined) throw new Error('the orders were not placed');
    clock.set(secondsAfter(order.createdAt, 30));
    reconciled.push({
      orderId: order.orderId,
      paymentId: await pay(order.orderId, order.customerId, PaymentFactSource.RECONCILIATION),
    });
    moved(order.orderId, OrderStatus.PAID);
  }
  const alicesSecond = placed[3]?.orderId ?? '';
  await pay(alicesSecond, 'alice', PaymentFactSource.WEBHOOK);
  moved(alicesSecond, OrderStatus.PAID);
  await putOrderBeforeIssue21(tables, {
    orderId: OLD_ORDER_ID,
    customerId: 'carol',
    items: [{ sku: 'CUP', quantity: 1, unitPrice: 990 }],
    paymentDeadline: OLD_CREATED_AT,
    timeline: [
      { to: OrderStatus.PENDING_PAYMENT, at: OLD_CREATED_AT },
      { to: OrderStatus.CANCELLED, at: OLD_CREATED_AT },
    ],
  });
  placed.push({
    orderId: OLD_ORDER_ID,
    customerId: 'carol',
    status: OrderStatus.CANCELLED,
    createdAt: OLD_CREATED_AT,
  });
});

/** Every page of the query, from the first, with the pages' sizes. */
async function allPages(
  query: Omit<OrderQuery, 'cursor'>,
  scanBudget?: number,
): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await listOrders(
      { ...query, ...(cursor !== undefined && { cursor }) },
      { ...context, ...(scanBudget !== undefined && { scanBudget }) },
    );
    ids.push(...page.orders.map((order) => order.orderId));
    sizes.push(page.orders.length);
    cursor = page.next;
    if (sizes.length > 100) throw new Error('the listing never ends');
  } while (cursor !== undefined);
  return { ids, sizes };
}

const idsOf = (orders: readonly Placed[]) => orders.map((order) => order.orderId).sort();

describe('listOrders', () => {
  it('lists every order exactly once across pages, by order count and by scan budget', async () => {
    // Act
    const byLimit = await allPages({ limit: 2 });
    const byBudget = await allPages({ limit: 50 }, 3);
    const whole = await listOrders({ limit: 50 }, context);

    // Assess
    expect(placed).toHaveLength(8);
    expect([...byLimit.ids].sort()).toEqual(idsOf(placed));
    expect(byLimit.sizes.slice(0, -1).every((size) => size === 2)).toBe(true);
    expect([...byBudget.ids].sort()).toEqual(idsOf(placed));
    // The table holds more items than orders (the refund's payment, the provider events' claims), and a page
    // reads at most 3 of them: more pages than 8 orders alone would need.
    expect(byBudget.sizes.length).toBeGreaterThan(3);
    expect(byBudget.sizes.every((size) => size <= 3)).toBe(true);
    expect(whole.next).toBeUndefined();
    expect(whole.orders.map((order) => order.createdAt)).toEqual(
      placed.map((order) => order.createdAt).sort((left, right) => right.localeCompare(left)),
    );
  });

  it('filters by customer, status and creation time, alone and together, across pages', async () => {
    // Prepare
    const from = secondsAfter(NOW, -10 * 60).toISOString();
    const to = secondsAfter(NOW, -30).toISOString();

    // Act
    const alice = await allPages({ customerId: 'alice', limit: 1 });
    const paid = await allPages({ status: OrderStatus.PAID, limit: 1 });
    const cancelled = await allPages({ status: OrderStatus.CANCELLED, limit: 1 }, 2);
    const recent = await allPages({ createdFrom: from, createdTo: to, limit: 2 });
    const bobPaid = await allPages({ customerId: 'bob', status: OrderStatus.PAID, limit: 5 });
    const nobody = await allPages({ customerId: 'dave', limit: 5 });

    // Assess
    expect(alice.ids.sort()).toEqual(idsOf(placed.filter((order) => order.customerId === 'alice')));
    expect(alice.ids).toHaveLength(4);
    expect(paid.ids.sort()).toEqual(idsOf(placed.filter((order) => order.status === OrderStatus.PAID)));
    expect(paid.ids).toHaveLength(3);
    expect(cancelled.ids.sort()).toEqual(idsOf(placed.filter((order) => order.status === 'CANCELLED')));
    expect(cancelled.ids).toContain(OLD_ORDER_ID);
    expect(recent.ids.sort()).toEqual(
      idsOf(placed.filter((order) => order.createdAt >= from && order.createdAt < to)),
    );
    expect(recent.ids).toHaveLength(3);
    expect(bobPaid.ids).toEqual([placed[2]?.orderId]);
    expect(nobody).toEqual({ ids: [], sizes: [0] });
  });

  it('finds an exact order id with one read, and only when the other filters agree', async () => {
    // Prepare
    const order = placed[3];
    if (order === undefined) throw new Error('the orders were not placed');

    // Act
    const found = await listOrders({ orderId: order.orderId, limit: 1 }, context);
    const otherCustomer = await listOrders({ orderId: order.orderId, customerId: 'bob', limit: 1 }, context);
    const unknown = await listOrders({ orderId: '01NOSUCHORDER0000000000000', limit: 1 }, context);

    // Assess
    expect(found).toEqual({
      orders: [
        {
          orderId: order.orderId,
          customerId: order.customerId,
          status: order.status,
          totalAmount: 1250,
          currency: 'EUR',
          createdAt: order.createdAt,
          updatedAt: expect.any(String),
        },
      ],
      next: undefined,
    });
    expect(otherCustomer.orders).toEqual([]);
    expect(unknown.orders).toEqual([]);
  });

  it('lists an order stored in the old shape with its timeline times', async () => {
    // Act
    const page = await listOrders({ orderId: OLD_ORDER_ID, limit: 1 }, context);

    // Assess
    expect(page.orders).toEqual([
      {
        orderId: OLD_ORDER_ID,
        customerId: 'carol',
        status: OrderStatus.CANCELLED,
        totalAmount: 990,
        currency: 'EUR',
        createdAt: OLD_CREATED_AT,
        updatedAt: OLD_CREATED_AT,
      },
    ]);
  });

  it('refuses a made-up cursor and a query it cannot run, with their codes', async () => {
    // Act
    const attempts = await Promise.allSettled([
      listOrders({ limit: 5, cursor: 'not-a-cursor' }, context),
      listOrders({ limit: 5, cursor: Buffer.from('{"PK":1}').toString('base64url') }, context),
      listOrders({ limit: 0 }, context),
      listOrders({ limit: 5, status: 'LOST' as OrderStatus }, context),
      listOrders({ limit: 5, createdFrom: 'yesterday' }, context),
    ]);

    // Assess
    const reasons = attempts.map((attempt) =>
      attempt.status === 'rejected' ? attempt.reason : attempt.value,
    );
    expect(reasons[0]).toBeInstanceOf(InvalidOrderCursorError);
    expect(reasons[1]).toMatchObject({ code: OrdersErrorCode.INVALID_CURSOR });
    for (const [reason, path] of [
      [reasons[2], 'limit'],
      [reasons[3], 'status'],
      [reasons[4], 'createdFrom'],
    ] as const) {
      expect(reason).toBeInstanceOf(InvalidOrderQueryError);
      expect(reason).toMatchObject({ code: OrdersErrorCode.INVALID_QUERY, issues: [{ path }] });
    }
  });
});

describe('countOrders', () => {
  it('counts orders per status and per minute, stuck refunds and payments the reconciliation found', async () => {
    // Act
    const counts = await countOrders({ ...context, refundStuckAfterSeconds: HOUR_SECONDS, now: () => NOW });

    // Assess
    expect(counts.ordersCounted).toBe(8);
    expect(counts.complete).toBe(true);
    const expected = Object.fromEntries(
      ORDER_STATUSES.map((status) => [status, placed.filter((order) => order.status === status).length]),
    );
    expect(counts.ordersByStatus).toEqual(expected);
    expect(counts.ordersByStatus).toMatchObject({ PENDING_PAYMENT: 3, PAID: 3, CANCELLED: 2, DELIVERED: 0 });
    expect(counts.ordersPerMinute).toHaveLength(60);
    expect(counts.ordersPerMinute[0]?.minute).toBe('2026-12-07T11:01:00.000Z');
    expect(counts.ordersPerMinute[59]?.minute).toBe('2026-12-07T12:00:00.000Z');
    const nonZero = counts.ordersPerMinute
      .filter((minute) => minute.count > 0)
      .map(({ minute, count }) => [minute.slice(11, 16), count]);
    // 11:30:20 twice, 11:50 (the old shape), 11:55:10 and 11:55:20, 11:59:20 and 12:00:20; 10:00:20 is older.
    expect(nonZero).toEqual([
      ['11:30', 2],
      ['11:50', 1],
      ['11:55', 2],
      ['11:59', 1],
      ['12:00', 1],
    ]);
    expect(counts.stuckRefunds).toEqual([stuckRefund]);
    expect(
      [...counts.paymentsFoundByReconciliation].sort((a, b) => a.orderId.localeCompare(b.orderId)),
    ).toEqual([...reconciled].sort((a, b) => a.orderId.localeCompare(b.orderId)));
  });

  it('stops at its cap and says the counts are a floor; a refund owed for less than the setting is not stuck', async () => {
    // Act
    const capped = await countOrders({
      ...context,
      refundStuckAfterSeconds: 3 * HOUR_SECONDS,
      now: () => NOW,
      scanCap: 3,
    });

    // Assess
    expect(capped.complete).toBe(false);
    expect(capped.ordersCounted).toBeLessThanOrEqual(3);
    expect(Object.values(capped.ordersByStatus).reduce((sum, count) => sum + count, 0)).toBe(
      capped.ordersCounted,
    );
    expect(capped.stuckRefunds).toEqual([]);
  });
});

describe('npm run ops -- orders list', () => {
  async function run(...args: string[]) {
    const lines: string[] = [];
    const page = await runOrdersCommand(args, { ...context, out: (line) => lines.push(line) });
    return { page, lines };
  }

  it('prints one line per order matching the options, reading on past pages that found none', async () => {
    // Act: a budget of 2 items per page, so the command must follow several cursors.
    const lines: string[] = [];
    const page = await runOrdersCommand(['orders', 'list', '--status', 'paid', '--customer', 'bob'], {
      ...context,
      scanBudget: 2,
      out: (line) => lines.push(line),
    });

    // Assess
    const bobs = placed[2];
    expect(page.orders.map((order) => order.orderId)).toEqual([bobs?.orderId]);
    expect(lines).toEqual([
      `${bobs?.orderId}\tPAID\tcustomer=bob\ttotal=1250 EUR\tcreated=${bobs?.createdAt}\tupdated=${page.orders[0]?.updatedAt}`,
    ]);
  });

  it('stops at --limit with the cursor that goes on, prints JSON, and refuses bad options as usage', async () => {
    // Act
    const first = await run('list', '--limit', '3', '--json');
    const rest = await run('list', '--limit', '50', '--cursor', first.page.next ?? '');
    const mistakes = await Promise.allSettled([
      run('list', '--status', 'LOST'),
      run('list', '--limit', '0'),
      run('count'),
      run('list', '--customer'),
    ]);

    // Assess
    expect(first.page.orders).toHaveLength(3);
    expect(JSON.parse(first.lines.join('\n'))).toEqual({ orders: first.page.orders, next: first.page.next });
    expect(rest.page.next).toBeUndefined();
    expect([...first.page.orders, ...rest.page.orders].map((order) => order.orderId).sort()).toEqual(
      idsOf(placed),
    );
    for (const mistake of mistakes) {
      expect(mistake.status).toBe('rejected');
      if (mistake.status === 'rejected') {
        expect(mistake.reason).toBeInstanceOf(OrdersUsageError);
        expect(mistake.reason).toMatchObject({ code: 'ORDERS_USAGE' });
      }
    }
  });
});
