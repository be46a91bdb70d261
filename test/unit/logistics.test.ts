import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderNotFoundError } from '../../functions/domain/errors';
import {
  decideStatusEvent,
  decodeStatusEvent,
  InvalidStatusEventError,
  LOGISTICS_PROGRESSION,
  LOGISTICS_STATUSES,
  type LogisticsStatus,
  OrderNotYetFulfilledError,
  progressionRank,
  type StatusEvent,
  StatusTracker,
} from '../../functions/domain/logistics';
import { type Order, type OrderTransition, transition } from '../../functions/domain/order';
import { canTransition, ORDER_STATUSES, OrderStatus } from '../../functions/domain/order-status';
import type { OrderAdvances, StatusMove, StatusMoveResult } from '../../functions/domain/ports';
import { logisticsEventBody } from '../../functions/http/schemas';

const ORDER_ID = '01JCZ3N2X4Y5Z6A7B8C9D0E1F2';
const AT = new Date('2030-01-01T00:00:00Z');

function statusEvent(status: LogisticsStatus, eventId = `evt-${status}`): StatusEvent {
  return { eventId, orderId: ORDER_ID, status, occurredAt: AT.toISOString() };
}

function orderAt(status: OrderStatus, version = 4): Order {
  return {
    orderId: ORDER_ID,
    customerId: 'customer-1',
    status,
    version,
    currency: 'EUR',
    totalAmount: 100,
    items: [{ sku: 'MUG', quantity: 1, unitPrice: 100 }],
    paymentDeadline: AT.toISOString(),
    createdAt: AT.toISOString(),
    updatedAt: AT.toISOString(),
  };
}

const clock = { now: () => AT };

/**
 * One order in memory, moved as the repository moves it: the status check and the write are one atomic step,
 * as a conditional write is. `pause` runs before that step so a test can interleave concurrent callers
 * (fast-check's scheduler) or inject a competing write. `moves` records every move asked for.
 */
class MemoryOrders implements OrderAdvances {
  public order: Order;
  public readonly history: OrderTransition[] = [];
  public readonly moves: StatusMove[] = [];

  public constructor(
    status: OrderStatus,
    private readonly pause: () => Promise<void> = async () => {},
  ) {
    this.order = orderAt(status);
  }

  public async advance(orderId: string, move: StatusMove): Promise<StatusMoveResult> {
    this.moves.push(move);
    await this.pause();
    if (orderId !== this.order.orderId) throw new OrderNotFoundError(orderId);
    if (!move.from.includes(this.order.status)) return { moved: false, order: this.order };
    this.commit(transition(this.order, move.to, move.at, move.reason));
    return { moved: true, order: this.order };
  }

  public commit(decided: { next: Order; transition: OrderTransition }): void {
    this.order = decided.next;
    this.history.push(decided.transition);
  }
}

describe('the logistics progression', () => {
  it('ranks FULFILLED < OUTBOUND < SHIPPED < DELIVERED and nothing else', () => {
    // Act
    const ranks = ORDER_STATUSES.map((status) => [status, progressionRank(status)] as const);

    // Assess
    expect(Object.fromEntries(ranks)).toEqual({
      PENDING_PAYMENT: undefined,
      PAID: undefined,
      CANCELLED: undefined,
      FULFILLING: undefined,
      FULFILLED: 0,
      FULFILLMENT_FAILED: undefined,
      OUTBOUND: 1,
      SHIPPED: 2,
      DELIVERED: 3,
    });
  });

  // Written out by hand from the issue, not derived from the code under test.
  it.each([
    [OrderStatus.FULFILLED, OrderStatus.OUTBOUND, 'apply'],
    [OrderStatus.FULFILLED, OrderStatus.SHIPPED, 'apply'],
    [OrderStatus.FULFILLED, OrderStatus.DELIVERED, 'apply'],
    [OrderStatus.OUTBOUND, OrderStatus.OUTBOUND, 'duplicate'],
    [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, 'apply'],
    [OrderStatus.OUTBOUND, OrderStatus.DELIVERED, 'apply'],
    [OrderStatus.SHIPPED, OrderStatus.OUTBOUND, 'stale'],
    [OrderStatus.SHIPPED, OrderStatus.SHIPPED, 'duplicate'],
    [OrderStatus.SHIPPED, OrderStatus.DELIVERED, 'apply'],
    [OrderStatus.DELIVERED, OrderStatus.OUTBOUND, 'stale'],
    [OrderStatus.DELIVERED, OrderStatus.SHIPPED, 'stale'],
    [OrderStatus.DELIVERED, OrderStatus.DELIVERED, 'duplicate'],
    [OrderStatus.PENDING_PAYMENT, OrderStatus.SHIPPED, 'notYetFulfilled'],
    [OrderStatus.PAID, OrderStatus.OUTBOUND, 'notYetFulfilled'],
    [OrderStatus.FULFILLING, OrderStatus.DELIVERED, 'notYetFulfilled'],
    [OrderStatus.CANCELLED, OrderStatus.OUTBOUND, 'cannotApply'],
    [OrderStatus.FULFILLMENT_FAILED, OrderStatus.DELIVERED, 'cannotApply'],
  ] as const)('an order %s given %s: %s', (orderStatus, eventStatus, expected) => {
    expect(decideStatusEvent(orderStatus, eventStatus)).toBe(expected);
  });

  it('applies exactly the moves the transition table allows from a status of the progression', () => {
    for (const from of LOGISTICS_PROGRESSION) {
      for (const to of LOGISTICS_STATUSES) {
        expect(decideStatusEvent(from, to) === 'apply').toBe(canTransition(from, to));
      }
    }
  });
});

describe('status events on the wire', () => {
  const valid = {
    eventId: 'evt_1',
    orderId: ORDER_ID,
    status: 'SHIPPED',
    occurredAt: '2030-01-01T00:00:00Z',
  };

  it('decodes a valid event, with an offset timestamp too', () => {
    // Act
    const decoded = decodeStatusEvent(JSON.stringify({ ...valid, occurredAt: '2030-01-01T01:00:00+01:00' }));

    // Assess
    expect(decoded).toEqual({ ...valid, occurredAt: '2030-01-01T01:00:00+01:00' });
  });

  it.each([
    ['not JSON', '{"eventId":', ''],
    ['no eventId', JSON.stringify({ ...valid, eventId: undefined }), 'eventId'],
    ['an empty eventId', JSON.stringify({ ...valid, eventId: '' }), 'eventId'],
    ['an eventId of 129 characters', JSON.stringify({ ...valid, eventId: 'e'.repeat(129) }), 'eventId'],
    ['an eventId with a space', JSON.stringify({ ...valid, eventId: 'evt 1' }), 'eventId'],
    ['an orderId that is no ULID', JSON.stringify({ ...valid, orderId: 'order-1' }), 'orderId'],
    ['a status before fulfilment', JSON.stringify({ ...valid, status: 'FULFILLED' }), 'status'],
    ['an unknown status', JSON.stringify({ ...valid, status: 'LOST' }), 'status'],
    ['a date without time', JSON.stringify({ ...valid, occurredAt: '2030-01-01' }), 'occurredAt'],
    ['an extra field', JSON.stringify({ ...valid, carrier: 'x' }), ''],
  ])('refuses %s as poison, naming the field', (_name, body, path) => {
    // Act
    const decode = () => decodeStatusEvent(body);

    // Assess
    expect(decode).toThrow(InvalidStatusEventError);
    try {
      decode();
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_STATUS_EVENT', retryable: false });
      expect((error as InvalidStatusEventError).issues.map((issue) => issue.path)).toContain(path);
    }
  });

  it('names the rule a malformed eventId or orderId breaks', () => {
    // Act
    const decode = () =>
      decodeStatusEvent(JSON.stringify({ ...valid, eventId: 'evt 1', orderId: 'order-1' }));

    // Assess
    expect(decode).toThrow(
      expect.objectContaining({
        issues: [
          { path: 'eventId', message: 'must be 1 to 128 printable ASCII characters' },
          { path: 'orderId', message: 'must be an order id (a ULID)' },
        ],
      }),
    );
  });

  it('is the very shape the webhook accepts', () => {
    expect(logisticsEventBody.safeParse(valid).success).toBe(true);
    expect(logisticsEventBody.safeParse({ ...valid, status: 'FULFILLED' }).success).toBe(false);
  });
});

describe('StatusTracker', () => {
  it('moves a FULFILLED order straight to DELIVERED, naming the report in the timeline', async () => {
    // Prepare
    const orders = new MemoryOrders(OrderStatus.FULFILLED);
    const tracker = new StatusTracker({ orders, clock });

    // Act
    const outcome = await tracker.apply(statusEvent(OrderStatus.DELIVERED, 'evt-9'));

    // Assess
    expect(outcome).toEqual({ kind: 'applied', orderId: ORDER_ID, to: 'DELIVERED', version: 5 });
    expect(orders.history).toEqual([
      expect.objectContaining({
        from: 'FULFILLED',
        to: 'DELIVERED',
        version: 5,
        reason: `logistics evt-9 at ${AT.toISOString()}`,
      }),
    ]);
  });

  it('ignores a duplicate and a stale report without writing', async () => {
    // Prepare
    const orders = new MemoryOrders(OrderStatus.SHIPPED);
    const tracker = new StatusTracker({ orders, clock });

    // Act
    const duplicate = await tracker.apply(statusEvent(OrderStatus.SHIPPED));
    const stale = await tracker.apply(statusEvent(OrderStatus.OUTBOUND));

    // Assess
    expect(duplicate).toEqual({ kind: 'ignored', orderId: ORDER_ID, reason: 'duplicate', status: 'SHIPPED' });
    expect(stale).toEqual({ kind: 'ignored', orderId: ORDER_ID, reason: 'stale', status: 'SHIPPED' });
    expect(orders.history).toEqual([]);
    expect(orders.order.version).toBe(4);
  });

  it.each([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.FULFILLING])(
    'throws a retryable ORDER_NOT_YET_FULFILLED for a %s order and writes nothing',
    async (status) => {
      // Prepare
      const orders = new MemoryOrders(status);

      // Act
      const applying = new StatusTracker({ orders, clock }).apply(statusEvent(OrderStatus.OUTBOUND));

      // Assess
      await expect(applying).rejects.toBeInstanceOf(OrderNotYetFulfilledError);
      await expect(applying).rejects.toMatchObject({ code: 'ORDER_NOT_YET_FULFILLED', retryable: true });
      expect(orders.history).toEqual([]);
    },
  );

  it.each([OrderStatus.CANCELLED, OrderStatus.FULFILLMENT_FAILED])(
    'acknowledges a report for a %s order as cannotApply',
    async (status) => {
      // Prepare
      const orders = new MemoryOrders(status);

      // Act
      const outcome = await new StatusTracker({ orders, clock }).apply(statusEvent(OrderStatus.DELIVERED));

      // Assess
      expect(outcome).toEqual({ kind: 'cannotApply', orderId: ORDER_ID, status });
      expect(orders.history).toEqual([]);
    },
  );

  it('lets OrderNotFoundError through for an unknown order, so it is retried and then parked', async () => {
    // Prepare
    const orders = new MemoryOrders(OrderStatus.FULFILLED);

    // Act
    const applying = new StatusTracker({ orders, clock }).apply({
      ...statusEvent(OrderStatus.SHIPPED),
      orderId: '01JCZ3N2X4Y5Z6A7B8C9D0E1F3',
    });

    // Assess
    await expect(applying).rejects.toBeInstanceOf(OrderNotFoundError);
  });

  it('asks for one move per report, from exactly the statuses ranked below it, and reads nothing', async () => {
    // Prepare
    const orders = new MemoryOrders(OrderStatus.FULFILLED);
    const tracker = new StatusTracker({ orders, clock });

    // Act
    for (const status of [OrderStatus.OUTBOUND, OrderStatus.SHIPPED, OrderStatus.DELIVERED] as const) {
      await tracker.apply(statusEvent(status, `evt-${status}`));
    }

    // Assess: MemoryOrders offers no read at all, so the tracker cannot have read.
    expect(orders.moves).toEqual([
      {
        to: 'OUTBOUND',
        from: ['FULFILLED'],
        at: AT,
        reason: `logistics evt-OUTBOUND at ${AT.toISOString()}`,
      },
      {
        to: 'SHIPPED',
        from: ['FULFILLED', 'OUTBOUND'],
        at: AT,
        reason: `logistics evt-SHIPPED at ${AT.toISOString()}`,
      },
      {
        to: 'DELIVERED',
        from: ['FULFILLED', 'OUTBOUND', 'SHIPPED'],
        at: AT,
        reason: `logistics evt-DELIVERED at ${AT.toISOString()}`,
      },
    ]);
    expect(orders.history.map((entry) => [entry.version, entry.to])).toEqual([
      [5, 'OUTBOUND'],
      [6, 'SHIPPED'],
      [7, 'DELIVERED'],
    ]);
  });

  it('decides a refusal on the order the write found: a competitor at DELIVERED turns SHIPPED stale', async () => {
    // Prepare: the competitor commits right before the tracker's write.
    const orders: MemoryOrders = new MemoryOrders(OrderStatus.OUTBOUND, async () => {
      orders.commit(transition(orders.order, OrderStatus.DELIVERED, AT, 'competitor'));
    });

    // Act
    const outcome = await new StatusTracker({ orders, clock }).apply(statusEvent(OrderStatus.SHIPPED));

    // Assess
    expect(outcome).toEqual({ kind: 'ignored', orderId: ORDER_ID, reason: 'stale', status: 'DELIVERED' });
    expect(orders.history.map((entry) => [entry.to, entry.reason])).toEqual([['DELIVERED', 'competitor']]);
    expect(orders.moves).toHaveLength(1);
  });

  it('fails with INVALID_TRANSITION when the store refuses a status it was given as allowed: a broken store', async () => {
    // Prepare: a store whose condition is broken: it refuses a FULFILLED order.
    const broken: OrderAdvances = {
      advance: async () => ({ moved: false, order: orderAt(OrderStatus.FULFILLED) }),
    };

    // Act
    const applying = new StatusTracker({ orders: broken, clock }).apply(statusEvent(OrderStatus.SHIPPED));

    // Assess
    await expect(applying).rejects.toMatchObject({ code: 'INVALID_TRANSITION', retryable: false });
  });

  it('writes once and lets the failure through when the write fails', async () => {
    // Prepare: the table is unreachable.
    const unreachable = new Error('connection reset');
    let moves = 0;
    const failing: OrderAdvances = {
      advance: async () => {
        moves += 1;
        throw unreachable;
      },
    };

    // Act
    const applying = new StatusTracker({ orders: failing, clock }).apply(statusEvent(OrderStatus.SHIPPED));

    // Assess
    await expect(applying).rejects.toBe(unreachable);
    expect(moves).toBe(1);
  });
});

describe('StatusTracker properties', () => {
  const reports = fc.array(fc.constantFrom(...LOGISTICS_STATUSES), { minLength: 1, maxLength: 8 });

  /** Ranks of the successive statuses of a timeline strictly increase (no backward move, no repeat). */
  function expectClimbing(history: readonly OrderTransition[]): void {
    const ranks = history.map((entry) => progressionRank(entry.to) ?? -1);
    for (let index = 1; index < ranks.length; index += 1) {
      expect(ranks[index]).toBeGreaterThan(ranks[index - 1] ?? -1);
    }
    expect(history.every((entry) => canTransition(entry.from ?? OrderStatus.FULFILLED, entry.to))).toBe(true);
  }

  it('ends at the highest report and only climbs, whatever the order of delivery', async () => {
    await fc.assert(
      fc.asyncProperty(reports, async (statuses) => {
        // Prepare
        const orders = new MemoryOrders(OrderStatus.FULFILLED);
        const tracker = new StatusTracker({ orders, clock });

        // Act
        for (const [index, status] of statuses.entries())
          await tracker.apply(statusEvent(status, `e${index}`));

        // Assess
        const highest = statuses.reduce((top, status) =>
          (progressionRank(status) ?? 0) > (progressionRank(top) ?? 0) ? status : top,
        );
        expect(orders.order.status).toBe(highest);
        expectClimbing(orders.history);
      }),
      { numRuns: 300 },
    );
  });

  it('never regresses an order under concurrent consumers, however their steps interleave', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), reports, async (s, statuses) => {
        // Prepare: every write of every consumer is a point where the scheduler may switch.
        const orders = new MemoryOrders(OrderStatus.FULFILLED, () => s.schedule(Promise.resolve()));
        const tracker = new StatusTracker({ orders, clock });

        // Act
        const applying = Promise.allSettled(
          statuses.map((status, index) => tracker.apply(statusEvent(status, `e${index}`))),
        );
        const results = await s.waitFor(applying);

        // Assess: a write decides on the status it finds, so no report loses a race: every one settles.
        expect(results.map((result) => result.status)).toEqual(statuses.map(() => 'fulfilled'));
        const highest = Math.max(...statuses.map((status) => progressionRank(status) ?? 0));
        expect(progressionRank(orders.order.status)).toBe(highest);
        expectClimbing(orders.history);
      }),
      { numRuns: 300 },
    );
  });

  it('detects a store that moves without its status condition (the property can fail)', async () => {
    // Prepare: a store that writes whatever it is asked to, as if from FULFILLED: SHIPPED, then OUTBOUND over it.
    const orders = new MemoryOrders(OrderStatus.FULFILLED);
    const blind: OrderAdvances = {
      advance: async (_orderId, move) => {
        orders.commit(
          transition(orderAt(OrderStatus.FULFILLED, orders.order.version), move.to, move.at, move.reason),
        );
        return { moved: true, order: orders.order };
      },
    };
    const tracker = new StatusTracker({ orders: blind, clock });

    // Act
    await tracker.apply(statusEvent(OrderStatus.SHIPPED));
    await tracker.apply(statusEvent(OrderStatus.OUTBOUND));

    // Assess
    expect(() => expectClimbing(orders.history)).toThrow();
  });
});
