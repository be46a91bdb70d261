import { describe, expect, it, vi } from 'vitest';
import { fingerprint } from '../../functions/domain/fingerprint';
import {
  ORDER_LIMITS,
  type OrderItem,
  type PlaceOrderCommand,
  transition,
} from '../../functions/domain/order';
import { customerIdempotencyKey } from '../../functions/domain/order-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { inMemoryOrderService, T0 } from '../support/in-memory/services';
import { sampleOrder, secondsAfter } from '../support/payment-window';

const TIMEOUT_SECONDS = 900;
const KEY_TTL_SECONDS = 3600;

function setup() {
  const { orders, ...world } = inMemoryOrderService('01ORDERSVC', {
    paymentTimeoutSeconds: TIMEOUT_SECONDS,
    idempotencyKeyTtlSeconds: KEY_TTL_SECONDS,
  });
  return { ...world, service: orders };
}

function lines(count: number, line: Partial<OrderItem> = {}): OrderItem[] {
  return Array.from({ length: count }, (_, index) => ({
    sku: `SKU-${index}`,
    quantity: 1,
    unitPrice: 1,
    ...line,
  }));
}

function withItems(items: OrderItem[]): PlaceOrderCommand {
  return { ...sampleOrder, items };
}

describe('OrderService.placeOrder', () => {
  it('stores an order of exactly the given items, awaiting payment until the timeout, with its timer', async () => {
    const { service, stores, timers } = setup();
    const items = [
      { sku: 'MUG', quantity: 2, unitPrice: 1250 },
      { sku: 'TEA', quantity: 1, unitPrice: 499 },
    ];

    const result = await service.placeOrder(withItems(items));

    const stored = await stores.orders.get(result.order.orderId);
    expect(result.created).toBe(true);
    expect(result.timerFailure).toBeUndefined();
    expect(stored?.order).toEqual(result.order);
    expect(stored?.order).toMatchObject({
      customerId: sampleOrder.customerId,
      currency: 'EUR',
      items,
      totalAmount: 2999,
      status: OrderStatus.PENDING_PAYMENT,
      version: 1,
      paymentDeadline: secondsAfter(T0, TIMEOUT_SECONDS).toISOString(),
    });
    expect(stored?.history).toHaveLength(1);
    expect(timers.scheduled.get(result.order.orderId)).toEqual(secondsAfter(T0, TIMEOUT_SECONDS));
  });

  it('keeps the order when its timer cannot be scheduled, and says why', async () => {
    const { service, stores, timers } = setup();
    timers.failure = new Error('scheduler unavailable');

    const result = await service.placeOrder(sampleOrder);

    expect(result).toMatchObject({ created: true, timerFailure: timers.failure });
    expect((await stores.orders.get(result.order.orderId))?.order.status).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('answers a repeated request under the same key with the first order, creating nothing', async () => {
    const { service, stores, timers } = setup();
    const first = await service.placeOrder(sampleOrder, 'key-1');

    const repeat = await service.placeOrder({ ...sampleOrder }, 'key-1');

    expect(repeat).toEqual({ order: first.order, created: false });
    expect(stores.table.orders.size).toBe(1);
    expect(timers.scheduled.size).toBe(1);
  });

  it('writes the order of a key whose request stopped before writing it, under the key`s order id', async () => {
    // What a request leaves when it dies between claiming the key and writing the order.
    const { service, stores, timers } = setup();
    stores.table.idempotencyKeys.set(customerIdempotencyKey(sampleOrder.customerId, 'key-1'), {
      orderId: '01STOPPED',
      requestFingerprint: fingerprint(sampleOrder),
      expiresAt: secondsAfter(T0, KEY_TTL_SECONDS),
    });

    const completed = await service.placeOrder(sampleOrder, 'key-1');
    const repeat = await service.placeOrder(sampleOrder, 'key-1');
    const other = service.placeOrder(withItems(lines(1)), 'key-1');

    expect(completed).toMatchObject({
      created: true,
      order: { orderId: '01STOPPED', items: sampleOrder.items },
    });
    expect(repeat).toEqual({ order: completed.order, created: false });
    await expect(other).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect([...stores.table.orders.keys()]).toEqual(['01STOPPED']);
    expect([...timers.scheduled.keys()]).toEqual(['01STOPPED']);
  });

  it('answers the order that a concurrent request with the same key wrote first, creating nothing', async () => {
    const { service, stores } = setup();
    const { order: theirs } = await service.placeOrder(sampleOrder, 'key-1');
    // This request claimed nothing: its key was already claimed for `theirs`, which it then finds written.
    const create = vi.spyOn(stores.orders, 'create');

    const mine = await service.placeOrder(sampleOrder, 'key-1');

    expect(mine).toEqual({ order: theirs, created: false });
    expect(create).toHaveBeenCalledTimes(1);
    expect(stores.table.orders.size).toBe(1);
  });

  it('refuses another request under a used key', async () => {
    const { service, stores } = setup();
    await service.placeOrder(sampleOrder, 'key-1');

    const other = service.placeOrder(withItems(lines(1)), 'key-1');

    await expect(other).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', idempotencyKey: 'key-1' });
    expect(stores.table.orders.size).toBe(1);
  });

  it("keeps customers' keys apart: the same key of another customer places a new order", async () => {
    const { service } = setup();
    const first = await service.placeOrder(sampleOrder, 'key-1');

    const other = await service.placeOrder({ ...sampleOrder, customerId: 'customer-2' }, 'key-1');

    expect(other.created).toBe(true);
    expect(other.order.orderId).not.toBe(first.order.orderId);
  });

  it('remembers a key for its time to live, and no longer', async () => {
    const { service, clock } = setup();
    const first = await service.placeOrder(sampleOrder, 'key-1');

    clock.set(secondsAfter(T0, KEY_TTL_SECONDS));
    const within = await service.placeOrder(sampleOrder, 'key-1');
    clock.set(secondsAfter(T0, KEY_TTL_SECONDS + 1));
    const after = await service.placeOrder(sampleOrder, 'key-1');

    expect(within.order.orderId).toBe(first.order.orderId);
    expect(after.created).toBe(true);
    expect(after.order.orderId).not.toBe(first.order.orderId);
  });

  it.each([
    ['items', lines(ORDER_LIMITS.maxItems)],
    ['quantity', lines(1, { quantity: ORDER_LIMITS.maxQuantity })],
    ['unit price', lines(1, { unitPrice: ORDER_LIMITS.maxUnitPrice })],
  ])('accepts an order at the limit of its %s', async (_, items) => {
    const { service } = setup();

    const result = await service.placeOrder(withItems(items));

    expect(result.order.items).toEqual(items);
  });

  it.each([
    ['items', lines(ORDER_LIMITS.maxItems + 1), 'items', 'must hold 1 to 100 items'],
    [
      'quantity',
      lines(1, { quantity: ORDER_LIMITS.maxQuantity + 1 }),
      'items/0/quantity',
      'must be an integer from 1 to 999',
    ],
    [
      'unit price',
      lines(1, { unitPrice: ORDER_LIMITS.maxUnitPrice + 1 }),
      'items/0/unitPrice',
      'must be an integer count of minor units from 1 to 99999999',
    ],
  ])(
    'refuses an order one over the limit of its %s, naming only that field',
    async (_, items, path, message) => {
      const { service, stores } = setup();

      const placing = service.placeOrder(withItems(items));

      await expect(placing).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path, message }] });
      expect(stores.table.orders.size).toBe(0);
    },
  );

  it.each([
    ['a blank customer id', { ...sampleOrder, customerId: '  ' }, 'customerId', 'must not be blank'],
    [
      'an unknown currency',
      { ...sampleOrder, currency: 'XYZ' },
      'currency',
      'must be an ISO 4217 currency code such as EUR',
    ],
    [
      'a SKU with a control character',
      withItems(lines(1, { sku: 'MUG\n' })),
      'items/0/sku',
      'must be 1 to 64 letters, digits, punctuation marks or symbols, with spaces only between them',
    ],
  ])('refuses %s', async (_, command, path, message) => {
    const { service } = setup();

    const placing = service.placeOrder(command);

    await expect(placing).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path, message }] });
  });

  it('checks the total only once every line is priced within its bounds', async () => {
    const { service } = setup();
    const items = [
      { sku: 'GOLD', quantity: 2, unitPrice: ORDER_LIMITS.maxUnitPrice },
      { sku: 'FREE', quantity: 0, unitPrice: 1 },
    ];

    const placing = service.placeOrder(withItems(items));

    await expect(placing).rejects.toMatchObject({ issues: [{ path: 'items/1/quantity' }] });
  });
});

describe('OrderService reads', () => {
  it("reports a missing order and another customer's order alike, as not found", async () => {
    const { service } = setup();
    const { order } = await service.placeOrder(sampleOrder);

    await expect(service.getOrder('01UNKNOWN')).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
    await expect(service.getCustomerOrder(order.orderId, 'customer-2')).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
      orderId: order.orderId,
    });
    expect((await service.getCustomerOrder(order.orderId, sampleOrder.customerId)).order).toEqual(order);
  });
});

describe('OrderService.cancelOrder and moveOrder', () => {
  it("cancels a customer's own order awaiting payment, with the customer as the reason", async () => {
    const { service, clock } = setup();
    const { order } = await service.placeOrder(sampleOrder);
    clock.set(secondsAfter(T0, 5));

    const cancelled = await service.cancelOrder(order.orderId, sampleOrder.customerId);

    const stored = await service.getOrder(order.orderId);
    expect(cancelled).toMatchObject({ status: OrderStatus.CANCELLED, version: 2 });
    expect(stored.order).toEqual(cancelled);
    expect(stored.history.at(-1)).toMatchObject({
      from: OrderStatus.PENDING_PAYMENT,
      to: OrderStatus.CANCELLED,
      at: secondsAfter(T0, 5).toISOString(),
      reason: 'cancelled by customer',
    });
  });

  it("refuses another customer's cancellation before writing anything", async () => {
    const { service } = setup();
    const { order } = await service.placeOrder(sampleOrder);

    const cancelling = service.cancelOrder(order.orderId, 'customer-2');

    await expect(cancelling).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect((await service.getOrder(order.orderId)).order.status).toBe(OrderStatus.PENDING_PAYMENT);
  });

  it('refuses to cancel while a payment is being prepared, and allows it once the lease expired', async () => {
    const { service, stores, clock } = setup();
    const { order } = await service.placeOrder(sampleOrder);
    await stores.leases.acquire(order.orderId, 'payer', T0, 30);

    const during = service.cancelOrder(order.orderId, sampleOrder.customerId);
    await expect(during).rejects.toMatchObject({ code: 'PAYMENT_IN_PROGRESS' });
    clock.set(secondsAfter(T0, 30));
    const after = await service.cancelOrder(order.orderId, sampleOrder.customerId);

    expect(after.status).toBe(OrderStatus.CANCELLED);
  });

  it('refuses a move the transition table does not allow', async () => {
    const { service } = setup();
    const { order } = await service.placeOrder(sampleOrder);

    const moving = service.moveOrder(order.orderId, OrderStatus.SHIPPED, 'too early');

    await expect(moving).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
      from: 'PENDING_PAYMENT',
      to: 'SHIPPED',
    });
  });

  it('moves an order past payment whatever the lease says: only leaving PENDING_PAYMENT is guarded', async () => {
    const { service, stores } = setup();
    const { order } = await service.placeOrder(sampleOrder);
    await service.moveOrder(order.orderId, OrderStatus.PAID, 'paid');
    await stores.leases.acquire(order.orderId, 'late payer', T0, 30);

    const moved = await service.moveOrder(order.orderId, OrderStatus.FULFILLING, 'fulfilment started');

    expect(moved).toMatchObject({ status: OrderStatus.FULFILLING, version: 3 });
  });

  it('reports a move that lost its race as a conflict and keeps the winner', async () => {
    const { service, stores } = setup();
    const { order } = await service.placeOrder(sampleOrder);
    const save = stores.orders.saveTransition.bind(stores.orders);
    vi.spyOn(stores.orders, 'saveTransition').mockImplementationOnce(async (...args) => {
      const paid = transition(order, OrderStatus.PAID, T0, 'paid meanwhile');
      await save(order, paid.next, paid.transition);
      return await save(...args);
    });

    const cancelling = service.cancelOrder(order.orderId, sampleOrder.customerId);

    await expect(cancelling).rejects.toMatchObject({ code: 'CONCURRENT_MODIFICATION' });
    expect((await service.getOrder(order.orderId)).order.status).toBe(OrderStatus.PAID);
  });
});
