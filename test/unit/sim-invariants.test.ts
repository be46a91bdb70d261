import { describe, expect, it } from 'vitest';
import {
  checkInvariants,
  Invariant,
  type Observations,
  type OrderView,
  Scenario,
  type SimulatedOrder,
} from '../../lib/sim/invariants';

const at = '2026-01-01T00:00:00.000Z';

function view(orderId: string, steps: readonly string[], payments: OrderView['payments'] = []): OrderView {
  return {
    orderId,
    status: steps.at(-1) ?? 'PENDING_PAYMENT',
    history: steps.map((status) => ({ status, at })),
    payments,
  };
}

const delivered = (orderId: string): SimulatedOrder => ({
  orderId,
  scenario: Scenario.PAID,
  view: view(
    orderId,
    ['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLED', 'SHIPPED', 'DELIVERED'],
    [{ paymentId: `pi_${orderId}`, status: 'SUCCEEDED' }],
  ),
});

const lateOrder = (orderId: string): SimulatedOrder => ({
  orderId,
  scenario: Scenario.PAID_LATE,
  view: view(orderId, ['PENDING_PAYMENT', 'CANCELLED'], [{ paymentId: `pi_${orderId}`, status: 'REFUNDED' }]),
});

/** A consistent run of one delivered and one late-paid order; each test breaks one thing in it. */
function consistentRun(): Observations {
  return {
    orders: [
      delivered('o1'),
      lateOrder('o2'),
      { orderId: 'o3', scenario: Scenario.UNPAID, view: view('o3', ['PENDING_PAYMENT', 'CANCELLED']) },
    ],
    refunds: [{ paymentId: 'pi_o2', orderId: 'o2' }],
    picks: [{ orderId: 'o1', status: 'picked' }],
    shipments: [{ orderId: 'o1', status: 'booked' }],
    sagas: [{ orderId: 'o1', status: 'SUCCEEDED' }],
    deadLetters: [],
  };
}

function invariantsBroken(observations: Observations): string[] {
  return [...new Set(checkInvariants(observations).violations.map((violation) => violation.invariant))];
}

describe('invariant checker', () => {
  it('finds nothing wrong in a consistent run, and counts outcomes per scenario', () => {
    // Act
    const verdict = checkInvariants(consistentRun());

    // Assess
    expect(verdict.violations).toEqual([]);
    expect(verdict.outcomes).toEqual({
      paid: { DELIVERED: 1 },
      'paid-late': { CANCELLED: 1 },
      unpaid: { CANCELLED: 1 },
    });
  });

  it('flags an order left in a non-terminal state', () => {
    const run = consistentRun();
    const stuck = {
      orderId: 'o1',
      scenario: Scenario.PAID,
      view: view(
        'o1',
        ['PENDING_PAYMENT', 'PAID', 'FULFILLING'],
        [{ paymentId: 'pi_o1', status: 'SUCCEEDED' }],
      ),
    };
    expect(invariantsBroken({ ...run, orders: [stuck, ...run.orders.slice(1)] })).toContain(
      Invariant.TERMINAL_STATE,
    );
  });

  it('flags a paid order that was cancelled although its payment arrived in time', () => {
    const run = consistentRun();
    const cancelled: SimulatedOrder = {
      orderId: 'o1',
      scenario: Scenario.PAID,
      view: view('o1', ['PENDING_PAYMENT', 'CANCELLED'], [{ paymentId: 'pi_o1', status: 'REFUNDED' }]),
      paidAfterDeadline: false,
    };
    const broken = {
      ...run,
      orders: [cancelled, ...run.orders.slice(1)],
      refunds: [...run.refunds, { paymentId: 'pi_o1', orderId: 'o1' }],
      picks: [],
      shipments: [],
      sagas: [],
    };
    expect(invariantsBroken(broken)).toEqual([Invariant.TERMINAL_STATE]);
    // The same end is consistent when the webhook was only accepted after the deadline.
    expect(
      invariantsBroken({
        ...broken,
        orders: [{ ...cancelled, paidAfterDeadline: true }, ...run.orders.slice(1)],
      }),
    ).toEqual([]);
  });

  it('flags a late payment refunded twice, or never', () => {
    const run = consistentRun();
    expect(invariantsBroken({ ...run, refunds: [...run.refunds, ...run.refunds] })).toEqual([
      Invariant.REFUNDED_ONCE,
    ]);
    expect(invariantsBroken({ ...run, refunds: [] })).toEqual([Invariant.REFUNDED_ONCE]);
  });

  it('flags a refund of a payment that no order knows', () => {
    const run = consistentRun();
    expect(
      invariantsBroken({ ...run, refunds: [...run.refunds, { paymentId: 'pi_ghost', orderId: '' }] }),
    ).toEqual([Invariant.REFUNDED_ONCE]);
  });

  it('flags duplicate side effects: a second saga, pick or shipment for one order', () => {
    const run = consistentRun();
    expect(invariantsBroken({ ...run, sagas: [...run.sagas, ...run.sagas] })).toEqual([
      Invariant.NO_DUPLICATE_EFFECT,
    ]);
    expect(invariantsBroken({ ...run, picks: [...run.picks, ...run.picks] })).toEqual([
      Invariant.NO_DUPLICATE_EFFECT,
    ]);
    expect(invariantsBroken({ ...run, shipments: [...run.shipments, ...run.shipments] })).toEqual([
      Invariant.NO_DUPLICATE_EFFECT,
    ]);
  });

  it('flags a backward status move', () => {
    const run = consistentRun();
    const backwards: SimulatedOrder = {
      ...delivered('o1'),
      view: view(
        'o1',
        ['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLED', 'SHIPPED', 'OUTBOUND', 'DELIVERED'],
        [{ paymentId: 'pi_o1', status: 'SUCCEEDED' }],
      ),
    };
    expect(invariantsBroken({ ...run, orders: [backwards, ...run.orders.slice(1)] })).toEqual([
      Invariant.FORWARD_ONLY,
    ]);
  });

  it('accounts for dead letters of consistent orders only', () => {
    const run = consistentRun();
    const accounted = checkInvariants({
      ...run,
      deadLetters: [{ queue: 'order-events-dlq.fifo', orderId: 'o1' }],
    });
    expect(accounted.violations).toEqual([]);
    expect(accounted.deadLettersAccountedFor).toBe(1);
    expect(
      invariantsBroken({ ...run, deadLetters: [{ queue: 'order-events-dlq.fifo', orderId: undefined }] }),
    ).toEqual([Invariant.DLQ_ACCOUNTED]);
    const stuck = { orderId: 'o3', scenario: Scenario.UNPAID, view: view('o3', ['PENDING_PAYMENT']) };
    expect(
      invariantsBroken({
        ...run,
        orders: [...run.orders.slice(0, 2), stuck],
        deadLetters: [{ queue: 'q', orderId: 'o3' }],
      }),
    ).toEqual([Invariant.TERMINAL_STATE, Invariant.DLQ_ACCOUNTED]);
  });
});
