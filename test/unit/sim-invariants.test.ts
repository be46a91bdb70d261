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

/** Confirmed at the deadline and lost the race: the intent was cancelled at the provider, nothing charged. */
const timedOut = (orderId: string): SimulatedOrder => ({
  orderId,
  scenario: Scenario.PAYS_AT_DEADLINE,
  view: view(
    orderId,
    ['PENDING_PAYMENT', 'CANCELLED'],
    [{ paymentId: `pi_${orderId}`, status: 'CANCELLED' }],
  ),
});

/** Confirmed at the deadline; the money arrived after the order was cancelled and went back. */
const refundedLate = (orderId: string): SimulatedOrder => ({
  orderId,
  scenario: Scenario.PAYS_AT_DEADLINE,
  view: view(orderId, ['PENDING_PAYMENT', 'CANCELLED'], [{ paymentId: `pi_${orderId}`, status: 'REFUNDED' }]),
});

/** A consistent run; each test breaks one thing in it. */
function consistentRun(): Observations {
  return {
    orders: [
      delivered('o1'),
      timedOut('o2'),
      {
        orderId: 'o3',
        scenario: Scenario.UNPAID,
        view: view('o3', ['PENDING_PAYMENT', 'CANCELLED'], [{ paymentId: 'pi_o3', status: 'CANCELLED' }]),
      },
      refundedLate('o4'),
    ],
    refunds: [{ paymentId: 'pi_o4', status: 'succeeded' }],
    intents: [
      { paymentId: 'pi_o1', orderId: 'o1', status: 'succeeded' },
      { paymentId: 'pi_o2', orderId: 'o2', status: 'canceled' },
      { paymentId: 'pi_o3', orderId: 'o3', status: 'canceled' },
      { paymentId: 'pi_o4', orderId: 'o4', status: 'succeeded' },
    ],
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
      'pays-at-deadline': { CANCELLED: 2 },
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

  it('flags a paid order that was cancelled although it was confirmed in time', () => {
    const run = consistentRun();
    const cancelled: SimulatedOrder = {
      orderId: 'o1',
      scenario: Scenario.PAID,
      view: view('o1', ['PENDING_PAYMENT', 'CANCELLED'], [{ paymentId: 'pi_o1', status: 'CANCELLED' }]),
      paidAfterDeadline: false,
      customerSteps: ['checkout 201 at deadline-900 ms', 'confirm refused at deadline-20 ms'],
    };
    const broken: Observations = {
      ...run,
      orders: [cancelled, ...run.orders.slice(1)],
      intents: [{ paymentId: 'pi_o1', orderId: 'o1', status: 'canceled' }, ...run.intents.slice(1)],
      picks: [],
      shipments: [],
      sagas: [],
    };
    expect(invariantsBroken(broken)).toEqual([Invariant.TERMINAL_STATE]);
    expect(checkInvariants(broken).violations[0]?.detail).toBe(
      'paid order ended CANCELLED with payments [CANCELLED]; the customer: checkout 201 at deadline-900 ms, ' +
        'confirm refused at deadline-20 ms',
    );
    // The same end is consistent when the confirmation only reached the provider after the deadline.
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
    // Never refunded: the customer is also left charged.
    expect(invariantsBroken({ ...run, refunds: [] })).toEqual([
      Invariant.REFUNDED_ONCE,
      Invariant.NO_CHARGE_LEFT,
    ]);
  });

  it('flags a refund of a payment that no order knows', () => {
    const run = consistentRun();
    expect(
      invariantsBroken({ ...run, refunds: [...run.refunds, { paymentId: 'pi_ghost', status: 'succeeded' }] }),
    ).toEqual([Invariant.REFUNDED_ONCE]);
  });

  it('flags a charge left: an intent succeeded that no paid order keeps and nothing refunded', () => {
    const run = consistentRun();
    const charged = (intent: Observations['intents'][number]) =>
      invariantsBroken({
        ...run,
        intents: [...run.intents.filter((i) => i.paymentId !== intent.paymentId), intent],
      });
    // The order was cancelled and its payment recorded CANCELLED, yet the provider took the money.
    expect(charged({ paymentId: 'pi_o3', orderId: 'o3', status: 'succeeded' })).toEqual([
      Invariant.NO_CHARGE_LEFT,
    ]);
    // An intent no order of the run knows.
    expect(charged({ paymentId: 'pi_stray', orderId: 'o9', status: 'succeeded' })).toEqual([
      Invariant.NO_CHARGE_LEFT,
    ]);
    // A refund still pending is not money back yet.
    expect(invariantsBroken({ ...run, refunds: [{ paymentId: 'pi_o4', status: 'pending' }] })).toEqual([
      Invariant.NO_CHARGE_LEFT,
    ]);
    // Intents that never succeeded charge nobody.
    expect(charged({ paymentId: 'pi_o9', orderId: 'o9', status: 'requires_payment_method' })).toEqual([]);
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
        orders: [...run.orders.slice(0, 2), stuck, ...run.orders.slice(3)],
        deadLetters: [{ queue: 'q', orderId: 'o3' }],
      }),
    ).toEqual([Invariant.TERMINAL_STATE, Invariant.DLQ_ACCOUNTED]);
  });
});
