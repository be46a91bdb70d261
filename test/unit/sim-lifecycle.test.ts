import { describe, expect, it } from 'vitest';
import type { OrderView } from '../../lib/sim/invariants';
import { lifecycleOf, usageDelta } from '../../lib/sim/simulate';

const view = (orderId: string, steps: readonly [string, string][]): OrderView => ({
  orderId,
  status: steps.at(-1)?.[0] ?? 'PENDING_PAYMENT',
  history: steps.map(([status, at]) => ({ status, at })),
  payments: [],
});

describe('lifecycleOf', () => {
  it('spans the first creation to the last FULFILLED, by the histories, counting fulfilled orders only', () => {
    const views = [
      view('a', [
        ['PENDING_PAYMENT', '2026-01-01T00:00:01.000Z'],
        ['PAID', '2026-01-01T00:00:02.000Z'],
        ['FULFILLED', '2026-01-01T00:00:04.000Z'],
        ['DELIVERED', '2026-01-01T00:00:30.000Z'],
      ]),
      view('b', [
        ['PENDING_PAYMENT', '2026-01-01T00:00:00.500Z'],
        ['CANCELLED', '2026-01-01T00:00:20.000Z'],
      ]),
      view('c', [
        ['PENDING_PAYMENT', '2026-01-01T00:00:03.000Z'],
        ['PAID', '2026-01-01T00:00:05.000Z'],
        ['FULFILLED', '2026-01-01T00:00:10.500Z'],
      ]),
    ];
    expect(lifecycleOf(views)).toEqual({ fulfilledOrders: 2, lifecycleSeconds: 10 });
  });

  it('is zero when no order was fulfilled', () => {
    expect(lifecycleOf([view('a', [['PENDING_PAYMENT', '2026-01-01T00:00:00.000Z']])])).toEqual({
      fulfilledOrders: 0,
      lifecycleSeconds: 0,
    });
    expect(lifecycleOf([])).toEqual({ fulfilledOrders: 0, lifecycleSeconds: 0 });
  });
});

describe('usageDelta', () => {
  it('leaves out what was counted before the run (a warm-up) and keeps what is new in the run', () => {
    const use = (requests: number, writeCapacityUnits = 0, readCapacityUnits = 0) => ({
      requests,
      readCapacityUnits,
      writeCapacityUnits,
    });

    const delta = usageDelta(
      {
        'Lambda:Invoke(create-order)': use(332),
        'DynamoDB:PutItem@create-order': use(332, 664, 0),
        'SQS:Send': use(5),
      },
      { 'Lambda:Invoke(create-order)': use(32), 'DynamoDB:PutItem@create-order': use(32, 64, 0) },
    );

    expect(delta).toEqual({
      'Lambda:Invoke(create-order)': use(300),
      'DynamoDB:PutItem@create-order': use(300, 600, 0),
      'SQS:Send': use(5),
    });
  });
});
