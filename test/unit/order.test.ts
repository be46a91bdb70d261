import { describe, expect, it } from 'vitest';
import { InvalidTransitionError, ValidationError } from '../../functions/domain/errors';
import { fingerprint } from '../../functions/domain/fingerprint';
import { newOrder, type PlaceOrderCommand, transition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';

const NOW = new Date('2026-11-28T10:00:00.000Z');

const command: PlaceOrderCommand = {
  customerId: 'customer-1',
  currency: 'EUR',
  items: [
    { sku: 'MUG', quantity: 2, unitPrice: 1250 },
    { sku: 'TEA', quantity: 3, unitPrice: 499 },
  ],
};

function place(overrides: Partial<PlaceOrderCommand> = {}) {
  return newOrder(
    { ...command, ...overrides },
    { orderId: 'ORDER-1', now: NOW, paymentTimeoutSeconds: 1800 },
  );
}

function issuePaths(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('newOrder', () => {
  it('computes the total in minor units and the payment deadline from the injected clock', () => {
    const { order, created } = place();

    expect(order.totalAmount).toBe(2 * 1250 + 3 * 499);
    expect(order.status).toBe(OrderStatus.PENDING_PAYMENT);
    expect(order.version).toBe(1);
    expect(order.createdAt).toBe('2026-11-28T10:00:00.000Z');
    expect(order.paymentDeadline).toBe('2026-11-28T10:30:00.000Z');
    expect(created).toMatchObject({ version: 1, from: null, to: OrderStatus.PENDING_PAYMENT });
  });

  it('accepts a zero-priced item and a currency without minor units', () => {
    const { order } = place({ currency: 'JPY', items: [{ sku: 'FREE', quantity: 1, unitPrice: 0 }] });

    expect(order.totalAmount).toBe(0);
    expect(order.currency).toBe('JPY');
  });

  it('refuses a code that is not ISO 4217', () => {
    expect(issuePaths(() => place({ currency: 'XYZ' }))).toEqual(['currency']);
    expect(issuePaths(() => place({ currency: 'eur' }))).toEqual(['currency']);
  });

  it('refuses out-of-range quantities and prices, reporting every field at once', () => {
    const paths = issuePaths(() =>
      place({
        items: [
          { sku: 'A', quantity: 0, unitPrice: 1 },
          { sku: 'B', quantity: 1000, unitPrice: -1 },
          { sku: ' ', quantity: 1.5, unitPrice: 0.5 },
        ],
      }),
    );

    expect(paths).toEqual([
      'items/0/quantity',
      'items/1/quantity',
      'items/1/unitPrice',
      'items/2/sku',
      'items/2/quantity',
      'items/2/unitPrice',
    ]);
  });

  it('refuses no items and more than 100 items', () => {
    const many = Array.from({ length: 101 }, (_, index) => ({ sku: `S${index}`, quantity: 1, unitPrice: 1 }));

    expect(issuePaths(() => place({ items: [] }))).toEqual(['items']);
    expect(issuePaths(() => place({ items: many }))).toEqual(['items']);
  });
});

describe('transition', () => {
  it('moves to an allowed status with the next version and a timeline entry', () => {
    const { order } = place();
    const at = new Date('2026-11-28T10:05:00.000Z');

    const { next, transition: entry } = transition(order, OrderStatus.CANCELLED, at, 'cancelled by customer');

    expect(next).toMatchObject({ status: 'CANCELLED', version: 2, updatedAt: at.toISOString() });
    expect(entry).toEqual({
      orderId: 'ORDER-1',
      version: 2,
      from: 'PENDING_PAYMENT',
      to: 'CANCELLED',
      at: at.toISOString(),
      reason: 'cancelled by customer',
    });
    expect(order.status).toBe('PENDING_PAYMENT');
  });

  it('refuses a move the table does not allow', () => {
    const { order } = place();

    expect(() => transition(order, OrderStatus.SHIPPED, NOW, 'x')).toThrow(InvalidTransitionError);
  });
});

describe('fingerprint', () => {
  it('ignores key order but not values or array order', () => {
    expect(fingerprint({ a: 1, b: [1, 2] })).toBe(fingerprint({ b: [1, 2], a: 1 }));
    expect(fingerprint({ a: 1, b: [1, 2] })).not.toBe(fingerprint({ a: 1, b: [2, 1] }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
