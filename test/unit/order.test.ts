import { describe, expect, it } from 'vitest';
import { InvalidTransitionError, ValidationError } from '../../functions/domain/errors';
import { fingerprint } from '../../functions/domain/fingerprint';
import {
  newOrder,
  ORDER_LIMITS,
  type OrderItem,
  type PlaceOrderCommand,
  transition,
} from '../../functions/domain/order';
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

  it('accepts a currency without minor units', () => {
    const { order } = place({ currency: 'JPY', items: [{ sku: 'CUP', quantity: 1, unitPrice: 1 }] });

    expect(order.totalAmount).toBe(1);
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

function line(overrides: Partial<OrderItem> = {}): OrderItem {
  return { sku: 'MUG', quantity: 1, unitPrice: 100, ...overrides };
}

function issuesOfItems(items: readonly OrderItem[]) {
  try {
    place({ items });
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  return [];
}

describe('newOrder at the limits', () => {
  it.each([
    { name: 'the lowest unit price', item: line({ unitPrice: ORDER_LIMITS.minUnitPrice }) },
    { name: 'the highest unit price', item: line({ unitPrice: ORDER_LIMITS.maxUnitPrice }) },
    { name: 'the lowest quantity', item: line({ quantity: ORDER_LIMITS.minQuantity }) },
    { name: 'the highest quantity', item: line({ quantity: ORDER_LIMITS.maxQuantity }) },
    { name: 'a one-character SKU', item: line({ sku: 'M' }) },
    { name: 'a SKU of the longest length', item: line({ sku: 'M'.repeat(ORDER_LIMITS.maxSkuLength) }) },
    {
      name: 'a SKU of the longest length in characters outside the BMP',
      item: line({ sku: '\u{1F375}'.repeat(ORDER_LIMITS.maxSkuLength) }),
    },
    { name: 'a SKU with letters of other scripts', item: line({ sku: 'TASSE-GRÜN-茶碗' }) },
    {
      name: 'a SKU with punctuation, symbols and inner spaces',
      item: line({ sku: 'MUG #1 (blue) 250ml/€' }),
    },
  ])('accepts $name', ({ item }) => {
    expect(issuesOfItems([item])).toEqual([]);
  });

  it.each([
    {
      name: 'a unit price of 0',
      item: line({ unitPrice: ORDER_LIMITS.minUnitPrice - 1 }),
      field: 'unitPrice',
    },
    {
      name: 'a unit price one over the highest',
      item: line({ unitPrice: ORDER_LIMITS.maxUnitPrice + 1 }),
      field: 'unitPrice',
    },
    { name: 'a quantity of 0', item: line({ quantity: ORDER_LIMITS.minQuantity - 1 }), field: 'quantity' },
    {
      name: 'a quantity one over the highest',
      item: line({ quantity: ORDER_LIMITS.maxQuantity + 1 }),
      field: 'quantity',
    },
    { name: 'an empty SKU', item: line({ sku: '' }), field: 'sku' },
    {
      name: 'a SKU one character too long',
      item: line({ sku: 'M'.repeat(ORDER_LIMITS.maxSkuLength + 1) }),
      field: 'sku',
    },
    { name: 'a SKU with NUL', item: line({ sku: 'MU\u0000G' }), field: 'sku' },
    { name: 'a SKU with a newline', item: line({ sku: 'MU\nG' }), field: 'sku' },
    { name: 'a SKU with a tab', item: line({ sku: 'MU\tG' }), field: 'sku' },
    { name: 'a SKU with DEL', item: line({ sku: 'MUG\u007f' }), field: 'sku' },
    { name: 'a SKU with a C1 control', item: line({ sku: 'MU\u0085G' }), field: 'sku' },
    { name: 'a SKU with a right-to-left override', item: line({ sku: 'MUG\u202E01' }), field: 'sku' },
    { name: 'a SKU with a zero-width space', item: line({ sku: 'MU\u200BG' }), field: 'sku' },
    { name: 'a SKU with a line separator', item: line({ sku: 'MU\u2028G' }), field: 'sku' },
    { name: 'a SKU with a paragraph separator', item: line({ sku: 'MU\u2029G' }), field: 'sku' },
    { name: 'a SKU with a no-break space', item: line({ sku: 'MU\u00A0G' }), field: 'sku' },
    { name: 'a SKU with a lone surrogate', item: line({ sku: 'MUG\uD800' }), field: 'sku' },
    { name: 'a SKU with a private-use character', item: line({ sku: 'MUG\uE000' }), field: 'sku' },
    { name: 'a SKU with a replacement character', item: line({ sku: 'MU\uFFFDG' }), field: 'sku' },
    { name: 'a SKU with a leading space', item: line({ sku: ' MUG' }), field: 'sku' },
    { name: 'a SKU with a trailing space', item: line({ sku: 'MUG ' }), field: 'sku' },
  ])('refuses $name', ({ item, field }) => {
    expect(issuesOfItems([item]).map((issue) => issue.path)).toEqual([`items/0/${field}`]);
  });

  it('accepts a total of exactly the maximum and refuses one minor unit more', () => {
    const atLimit = [
      line({ sku: 'A', unitPrice: ORDER_LIMITS.maxTotalAmount - 1 }),
      line({ sku: 'B', unitPrice: 1 }),
    ];
    const overLimit = [
      line({ sku: 'A', unitPrice: ORDER_LIMITS.maxTotalAmount }),
      line({ sku: 'B', unitPrice: 1 }),
    ];

    expect(place({ items: atLimit }).order.totalAmount).toBe(ORDER_LIMITS.maxTotalAmount);
    expect(issuesOfItems(overLimit)).toEqual([
      { path: 'items', message: expect.stringContaining(`${ORDER_LIMITS.maxTotalAmount + 1} minor units`) },
    ]);
  });

  it('refuses a total over the maximum reached through quantity', () => {
    const unitPrice = Math.floor(ORDER_LIMITS.maxTotalAmount / ORDER_LIMITS.maxQuantity) + 1;

    expect(
      issuesOfItems([line({ quantity: ORDER_LIMITS.maxQuantity, unitPrice })]).map((i) => i.path),
    ).toEqual(['items']);
  });

  it('accepts the most items and refuses one more', () => {
    const items = (count: number) => Array.from({ length: count }, (_, index) => line({ sku: `S${index}` }));

    expect(issuesOfItems(items(ORDER_LIMITS.maxItems))).toEqual([]);
    expect(issuesOfItems(items(ORDER_LIMITS.maxItems + 1)).map((issue) => issue.path)).toEqual(['items']);
  });

  it('refuses a SKU on a second line, naming the line it repeats, rather than merging the two', () => {
    const issues = issuesOfItems([
      line({ sku: 'MUG', unitPrice: 1250 }),
      line({ sku: 'TEA' }),
      line({ sku: 'MUG', unitPrice: 999 }),
    ]);

    expect(issues).toEqual([{ path: 'items/2/sku', message: expect.stringContaining('items/0') }]);
  });

  it('takes the same SKU typed in two Unicode forms for one SKU', () => {
    const composed = 'CAF\u00C9';
    const decomposed = 'CAFE\u0301';

    expect(issuesOfItems([line({ sku: composed }), line({ sku: decomposed })]).map((i) => i.path)).toEqual([
      'items/1/sku',
    ]);
  });

  it('tells SKUs that differ only in case apart', () => {
    expect(issuesOfItems([line({ sku: 'mug' }), line({ sku: 'MUG' })])).toEqual([]);
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
