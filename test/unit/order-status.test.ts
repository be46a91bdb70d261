import { describe, expect, it } from 'vitest';
import { canTransition, isTerminal, ORDER_STATUSES, OrderStatus } from '../../functions/domain/order-status';

// Written out by hand from docs/architecture.md's "Order statuses", not derived from the table under test.
const ALLOWED = new Set([
  'PENDING_PAYMENT->PAID',
  'PENDING_PAYMENT->CANCELLED',
  'PAID->FULFILLING',
  'FULFILLING->FULFILLED',
  'FULFILLING->FULFILLMENT_FAILED',
  'FULFILLED->OUTBOUND',
  'FULFILLED->SHIPPED',
  'FULFILLED->DELIVERED',
  'OUTBOUND->SHIPPED',
  'OUTBOUND->DELIVERED',
  'SHIPPED->DELIVERED',
]);

const ALL_PAIRS = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to] as const));

describe('order transition table', () => {
  it('knows all nine statuses', () => {
    expect(ORDER_STATUSES).toHaveLength(9);
  });

  it.each(ALL_PAIRS.filter(([from, to]) => ALLOWED.has(`${from}->${to}`)))('allows %s -> %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each(ALL_PAIRS.filter(([from, to]) => !ALLOWED.has(`${from}->${to}`)))(
    'refuses %s -> %s',
    (from, to) => {
      expect(canTransition(from, to)).toBe(false);
    },
  );

  it('has exactly the terminal statuses CANCELLED, DELIVERED and FULFILLMENT_FAILED', () => {
    const terminal = ORDER_STATUSES.filter(isTerminal);

    expect(terminal.sort()).toEqual(
      [OrderStatus.CANCELLED, OrderStatus.DELIVERED, OrderStatus.FULFILLMENT_FAILED].sort(),
    );
  });
});
