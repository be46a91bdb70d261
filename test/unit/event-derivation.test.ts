import { describe, expect, it } from 'vitest';
import {
  committedChangesOf,
  ENTITY,
  historyEntry,
  type Item,
  type ItemChange,
  keys,
  MalformedStreamItemError,
  paymentItem,
  pendingIndexAttributes,
} from '../../functions/adapters/dynamodb-table';
import { ErrorCode } from '../../functions/domain/errors';
import { deriveEvents, InvalidDerivedEventError } from '../../functions/domain/event-derivation';
import { type OrderEvent, OrderEventType, orderEventSchema } from '../../functions/domain/events';
import { newOrder, type Order, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { type Payment, PaymentStatus, paymentFrom, RefundReason } from '../../functions/domain/payment';

const PLACED_AT = new Date('2026-11-28T10:00:00.000Z');
const PAID_AT = new Date('2026-11-28T10:05:00.000Z');
const { order: placed, created } = newOrder(
  { customerId: 'customer-7', currency: 'EUR', items: [{ sku: 'A', quantity: 2, unitPrice: 500 }] },
  { orderId: 'ORDER-1', now: PLACED_AT, paymentTimeoutSeconds: 1800 },
);
const paidMove = transition(placed, OrderStatus.PAID, PAID_AT, 'payment succeeded');
const paid = paidMove.next;
const TIMELINE = [created, paidMove.transition];
const reported = { paymentId: 'pi_1', orderId: 'ORDER-1', amount: 1000, currency: 'EUR' };

/** The order item as the repository writes it (timeline included), as the stream's image holds it unmarshalled. */
function orderImage(order: Order): Item {
  return structuredClone({
    ...keys.order(order.orderId),
    entityType: ENTITY.order,
    ...order,
    history: TIMELINE.slice(0, order.version).map(historyEntry),
    ...(order.status === OrderStatus.PENDING_PAYMENT ? pendingIndexAttributes(order) : {}),
  });
}

function paymentImage(status: Payment['status'], refundReason?: Payment['refundReason']): Item {
  return structuredClone(paymentItem(paymentFrom(reported, status, PAID_AT, { refundReason })));
}

function inserted(newImage: Item): ItemChange {
  return { eventName: 'INSERT', newImage };
}

function modified(oldImage: Item, newImage: Item): ItemChange {
  return { eventName: 'MODIFY', oldImage, newImage };
}

/** What the relay does with a stream record: the table adapter decodes it, the domain derives its events. */
function derive(change: ItemChange): OrderEvent[] {
  return committedChangesOf(change).flatMap(deriveEvents);
}

describe('deriveEvents: orders', () => {
  it('announces a created order as OrderPlaced at version 1', () => {
    // Act
    const events = derive(inserted(orderImage(placed)));

    // Assess
    expect(events).toEqual([
      {
        type: OrderEventType.ORDER_PLACED,
        eventId: 'ORDER-1:v1',
        orderId: 'ORDER-1',
        occurredAt: PLACED_AT.toISOString(),
        version: 1,
        data: {
          customerId: 'customer-7',
          totalAmount: 1000,
          currency: 'EUR',
          paymentDeadline: placed.paymentDeadline,
        },
      },
    ]);
  });

  it('announces a status change as OrderStatusChanged with the new version, at the order`s updatedAt', () => {
    // Act
    const events = derive(modified(orderImage(placed), orderImage(paid)));

    // Assess
    expect(events).toEqual([
      {
        type: OrderEventType.ORDER_STATUS_CHANGED,
        eventId: 'ORDER-1:v2',
        orderId: 'ORDER-1',
        occurredAt: PAID_AT.toISOString(),
        version: 2,
        data: { from: OrderStatus.PENDING_PAYMENT, to: OrderStatus.PAID },
      },
    ]);
  });

  it('announces nothing for a write that leaves the status alone', () => {
    // Prepare: the same status, with an attribute dropped (as when the pending index keys go)
    const { pendingShard: _shard, pendingDeadline: _deadline, ...withoutIndexKeys } = orderImage(placed);

    // Act
    const events = derive(modified(orderImage(placed), withoutIndexKeys));

    // Assess
    expect(events).toEqual([]);
  });

  it('announces nothing when an order is removed', () => {
    expect(derive({ eventName: 'REMOVE', oldImage: orderImage(paid) })).toEqual([]);
  });

  it('derives identical events, ids included, from the same record twice', () => {
    // Prepare: two independent copies of one stream record, as a replay would deliver them
    const first = modified(orderImage(placed), orderImage(paid));
    const replay = modified(orderImage(placed), orderImage(paid));

    // Act
    const once = [...derive(inserted(orderImage(placed))), ...derive(first)];
    const again = [...derive(inserted(orderImage(placed))), ...derive(replay)];

    // Assess
    expect(again).toStrictEqual(once);
    expect(once.map((event) => event.eventId)).toEqual(['ORDER-1:v1', 'ORDER-1:v2']);
  });

  it('rejects an order item with an unknown status with a typed error', () => {
    // Prepare
    const corrupt = { ...orderImage(paid), status: 'TELEPORTED' };

    // Act
    const deriving = () => derive(modified(orderImage(placed), corrupt));

    // Assess
    expect(deriving).toThrow(MalformedStreamItemError);
    expect(deriving).toThrow(/ORDER#ORDER-1\/ORDER.*status/);
  });

  it('rejects a created order at a version other than 1, whose id would collide with a status change', () => {
    const deriving = () => derive(inserted({ ...orderImage(paid), status: OrderStatus.PENDING_PAYMENT }));

    expect(deriving).toThrow(MalformedStreamItemError);
  });

  it('rejects a modified order without its old image, since a status change cannot be told apart', () => {
    const deriving = () => derive({ eventName: 'MODIFY', newImage: orderImage(paid) });

    expect(deriving).toThrow(/old image/);
  });

  it('fails loudly when the derived event breaks the catalogue', () => {
    // Prepare: the item parses (currency is a string), the event does not (not an ISO currency code)
    const lowercase = { ...orderImage(placed), currency: 'eur' };

    // Act
    let thrown: unknown;
    try {
      derive(inserted(lowercase));
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(InvalidDerivedEventError);
    expect(thrown).toMatchObject({
      code: ErrorCode.INVALID_DERIVED_EVENT,
      eventId: 'ORDER-1:v1',
    });
  });
});

describe('deriveEvents: payments', () => {
  it.each([
    [PaymentStatus.PENDING, PaymentStatus.SUCCEEDED, undefined, OrderEventType.PAYMENT_SUCCEEDED],
    [PaymentStatus.PENDING, PaymentStatus.FAILED, undefined, OrderEventType.PAYMENT_FAILED],
    [PaymentStatus.FAILED, PaymentStatus.SUCCEEDED, undefined, OrderEventType.PAYMENT_SUCCEEDED],
    [
      PaymentStatus.SUCCEEDED,
      PaymentStatus.REFUND_PENDING,
      RefundReason.ORDER_CANCELLED,
      OrderEventType.REFUND_REQUESTED,
    ],
    [
      PaymentStatus.REFUND_PENDING,
      PaymentStatus.REFUNDED,
      RefundReason.ORDER_CANCELLED,
      OrderEventType.PAYMENT_REFUNDED,
    ],
  ])('announces a payment moving from %s to %s (reason %s) as %s', (from, to, reason, type) => {
    // Act
    const events = derive(modified(paymentImage(from, reason), paymentImage(to, reason)));

    // Assess
    expect(events).toStrictEqual([
      {
        type,
        eventId: `pi_1:${to}`,
        orderId: 'ORDER-1',
        occurredAt: PAID_AT.toISOString(),
        data: {
          paymentId: 'pi_1',
          status: to,
          amount: 1000,
          currency: 'EUR',
          ...(reason === undefined ? {} : { refundReason: reason }),
        },
      },
    ]);
  });

  it('announces a payment recorded directly in a final status (no intent before it)', () => {
    // Act
    const events = derive(inserted(paymentImage(PaymentStatus.REFUND_PENDING, RefundReason.ORDER_NOT_FOUND)));

    // Assess
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: OrderEventType.REFUND_REQUESTED,
      eventId: 'pi_1:REFUND_PENDING',
      data: { refundReason: RefundReason.ORDER_NOT_FOUND },
    });
  });

  it('announces nothing for a payment intent (PENDING): the customer has not paid yet', () => {
    expect(derive(inserted(paymentImage(PaymentStatus.PENDING)))).toEqual([]);
  });

  it('announces nothing for a payment write that keeps its status', () => {
    // Prepare
    const before = paymentImage(PaymentStatus.FAILED);
    const after = { ...paymentImage(PaymentStatus.FAILED), updatedAt: '2026-11-28T11:00:00.000Z' };

    // Act
    const events = derive(modified(before, after));

    // Assess
    expect(events).toEqual([]);
  });

  it('derives the same id for the same payment status, however often it is derived', () => {
    const change = () => modified(paymentImage(PaymentStatus.PENDING), paymentImage(PaymentStatus.SUCCEEDED));

    expect(derive(change())).toStrictEqual(derive(change()));
  });

  it('rejects a payment item with an unknown status', () => {
    const deriving = () => derive(inserted({ ...paymentImage(PaymentStatus.SUCCEEDED), status: 'MAYBE' }));

    expect(deriving).toThrow(MalformedStreamItemError);
  });
});

describe('deriveEvents: other items', () => {
  const bookkeeping: [string, Item][] = [
    [
      'a payment lease',
      { ...keys.lease('ORDER-1'), entityType: ENTITY.lease, owner: 'o', leaseExpiresAt: 1, fencingToken: 1 },
    ],
    [
      'an idempotency key',
      { ...keys.idempotencyKey('k'), entityType: ENTITY.idempotencyKey, orderId: 'ORDER-1', expiresAt: 1 },
    ],
    [
      'a payment owner',
      { ...keys.paymentOwner('pi_1'), entityType: ENTITY.paymentOwner, orderId: 'ORDER-1' },
    ],
    ['a provider event', { ...keys.providerEvent('evt_1'), entityType: ENTITY.providerEvent, expiresAt: 1 }],
    ['an item without entity type', { PK: 'X', SK: 'Y', status: 'PAID' }],
  ];

  it.each(bookkeeping)('announces nothing for %s, inserted or modified', (_name, item) => {
    expect(derive(inserted(item))).toEqual([]);
    expect(derive(modified(item, { ...item, status: 'SOMETHING_ELSE' }))).toEqual([]);
  });

  it('only ever returns events that the catalogue accepts', () => {
    // Prepare
    const changes = [
      inserted(orderImage(placed)),
      modified(orderImage(placed), orderImage(paid)),
      inserted(paymentImage(PaymentStatus.SUCCEEDED)),
    ];

    // Act
    const events = changes.flatMap(derive);

    // Assess
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(orderEventSchema.safeParse(event).success).toBe(true);
    }
  });
});
