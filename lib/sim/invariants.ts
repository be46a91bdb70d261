import { canTransition, isOrderStatus, OrderStatus } from '../../functions/domain/order-status';

/**
 * The simulator's judge: from what was done to each order and what the system and its outside parties recorded,
 * decides whether every order ended consistently. Pure, so each invariant has a unit test with a fabricated
 * history that breaks it.
 */

/** What the simulated parties did to an order. */
export const Scenario = {
  /** Paid in time (the provider sends one `payment.succeeded`). */
  PAID: 'paid',
  /** Paid in time, and the provider delivers the callback several times. */
  DUPLICATE_CALLBACKS: 'duplicate-callbacks',
  /** Never paid: the payment window closes. */
  UNPAID: 'unpaid',
  /** Paid after the order was cancelled by its timeout. */
  PAID_LATE: 'paid-late',
  /** The customer cancels before paying. */
  CUSTOMER_CANCELS: 'customer-cancels',
} as const;
export type Scenario = (typeof Scenario)[keyof typeof Scenario];
export const SCENARIOS: readonly Scenario[] = Object.values(Scenario);

export interface OrderView {
  readonly orderId: string;
  readonly status: string;
  readonly history: readonly { readonly status: string; readonly at: string }[];
  readonly payments: readonly { readonly paymentId: string; readonly status: string }[];
}

export interface SimulatedOrder {
  readonly orderId: string;
  readonly scenario: Scenario;
  /** The order as `GET /orders/{id}` showed it after quiescence; undefined if it could not be read. */
  readonly view: OrderView | undefined;
  /** For paid scenarios: the provider's webhook was accepted only after the payment deadline (load). */
  readonly paidAfterDeadline?: boolean;
}

export interface Observations {
  readonly orders: readonly SimulatedOrder[];
  /** Refunds the payment provider made. */
  readonly refunds: readonly { readonly paymentId: string; readonly orderId: string }[];
  /** Warehouse picks and transport shipments, as the simulators recorded them. */
  readonly picks: readonly { readonly orderId: string; readonly status: string }[];
  readonly shipments: readonly { readonly orderId: string; readonly status: string }[];
  /** Fulfilment saga executions (one per order is the fulfilment order), by the order id they were started for. */
  readonly sagas: readonly { readonly orderId: string; readonly status: string }[];
  /** Messages in dead-letter queues, with the order they concern when it can be read from them. */
  readonly deadLetters: readonly { readonly queue: string; readonly orderId: string | undefined }[];
}

export const Invariant = {
  TERMINAL_STATE: 'terminal-state',
  REFUNDED_ONCE: 'late-payment-refunded-once',
  NO_DUPLICATE_EFFECT: 'no-duplicate-side-effect',
  FORWARD_ONLY: 'no-backward-status-move',
  DLQ_ACCOUNTED: 'dlq-message-accounted-for',
} as const;
export type Invariant = (typeof Invariant)[keyof typeof Invariant];

export interface Violation {
  readonly invariant: Invariant;
  readonly orderId: string | undefined;
  readonly detail: string;
}

export interface Verdict {
  readonly violations: readonly Violation[];
  /** Final status per scenario, for the summary table. */
  readonly outcomes: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Dead-letter messages whose order nonetheless ended consistently (a redundant copy of done work). */
  readonly deadLettersAccountedFor: number;
}

const PAID_SCENARIOS: readonly Scenario[] = [Scenario.PAID, Scenario.DUPLICATE_CALLBACKS];

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** What a consistent end looks like for an order, or why this one is not. */
function terminalProblem(order: SimulatedOrder, view: OrderView): string | undefined {
  const statuses = view.payments.map((payment) => payment.status);
  const allRefunded = statuses.length > 0 && statuses.every((status) => status === 'REFUNDED');
  switch (order.scenario) {
    case Scenario.PAID:
    case Scenario.DUPLICATE_CALLBACKS:
      if (view.status === OrderStatus.DELIVERED && statuses.length === 1 && statuses[0] === 'SUCCEEDED') {
        return undefined;
      }
      // A failed fulfilment is refunded; so is a payment whose webhook was only accepted after the deadline.
      if (
        (view.status === OrderStatus.FULFILLMENT_FAILED ||
          (view.status === OrderStatus.CANCELLED && order.paidAfterDeadline === true)) &&
        allRefunded
      ) {
        return statuses.length === 1 ? undefined : `${statuses.length} payments for one paid order`;
      }
      return `paid order ended ${view.status} with payments [${statuses.join(', ')}]`;
    case Scenario.UNPAID:
    case Scenario.CUSTOMER_CANCELS:
      return view.status === OrderStatus.CANCELLED && statuses.length === 0
        ? undefined
        : `unpaid order ended ${view.status} with payments [${statuses.join(', ')}]`;
    case Scenario.PAID_LATE:
      return view.status === OrderStatus.CANCELLED && statuses.length === 1 && allRefunded
        ? undefined
        : `late-paid order ended ${view.status} with payments [${statuses.join(', ')}]`;
  }
}

function historyProblem(view: OrderView): string | undefined {
  const steps = view.history.map((entry) => entry.status);
  if (steps[0] !== OrderStatus.PENDING_PAYMENT) return `history starts at ${steps[0] ?? 'nothing'}`;
  for (let index = 1; index < steps.length; index += 1) {
    const from = steps[index - 1] ?? '';
    const to = steps[index] ?? '';
    if (!isOrderStatus(from) || !isOrderStatus(to) || !canTransition(from, to)) {
      return `moved ${from} -> ${to}`;
    }
  }
  if (steps.at(-1) !== view.status) return `history ends at ${steps.at(-1)} but the order is ${view.status}`;
  return undefined;
}

/** Checks every invariant over a run's observations. */
export function checkInvariants(observations: Observations): Verdict {
  const violations: Violation[] = [];
  const outcomes: Record<string, Record<string, number>> = {};
  const refundsPerPayment = countBy(observations.refunds, (refund) => refund.paymentId);
  const activePicks = countBy(
    observations.picks.filter((pick) => pick.status === 'picked'),
    (pick) => pick.orderId,
  );
  const bookedShipments = countBy(
    observations.shipments.filter((shipment) => shipment.status === 'booked'),
    (shipment) => shipment.orderId,
  );
  const sagasPerOrder = countBy(observations.sagas, (saga) => saga.orderId);
  const consistent = new Set<string>();
  const simulatedPayments = new Set<string>();

  for (const order of observations.orders) {
    const byScenario = outcomes[order.scenario] ?? {};
    outcomes[order.scenario] = byScenario;
    const view = order.view;
    const status = view?.status ?? 'UNREADABLE';
    byScenario[status] = (byScenario[status] ?? 0) + 1;
    const violate = (invariant: Invariant, detail: string) =>
      violations.push({ invariant, orderId: order.orderId, detail });
    if (view === undefined) {
      violate(Invariant.TERMINAL_STATE, 'the order could not be read');
      continue;
    }
    let ok = true;
    const terminal = terminalProblem(order, view);
    if (terminal !== undefined) {
      violate(Invariant.TERMINAL_STATE, terminal);
      ok = false;
    }
    const history = historyProblem(view);
    if (history !== undefined) {
      violate(Invariant.FORWARD_ONLY, history);
      ok = false;
    }
    for (const payment of view.payments) {
      simulatedPayments.add(payment.paymentId);
      const refunds = refundsPerPayment.get(payment.paymentId) ?? 0;
      const expected = payment.status === 'SUCCEEDED' ? 0 : 1;
      if (refunds !== expected) {
        violate(
          Invariant.REFUNDED_ONCE,
          `payment ${payment.paymentId} (${payment.status}) was refunded ${refunds} times, expected ${expected}`,
        );
        ok = false;
      }
    }
    const sagas = sagasPerOrder.get(order.orderId) ?? 0;
    const paid = PAID_SCENARIOS.includes(order.scenario) && view.status !== OrderStatus.CANCELLED;
    const picks = activePicks.get(order.orderId) ?? 0;
    const shipments = bookedShipments.get(order.orderId) ?? 0;
    const delivered = view.status === OrderStatus.DELIVERED;
    const effects: [string, number, number][] = [
      ['fulfilment sagas', sagas, paid ? 1 : 0],
      ['active warehouse picks', picks, delivered ? 1 : 0],
      ['booked shipments', shipments, delivered ? 1 : 0],
    ];
    for (const [name, actual, expected] of effects) {
      if (actual !== expected) {
        violate(Invariant.NO_DUPLICATE_EFFECT, `${actual} ${name}, expected ${expected}`);
        ok = false;
      }
    }
    if (ok) consistent.add(order.orderId);
  }

  for (const [paymentId, count] of refundsPerPayment) {
    if (!simulatedPayments.has(paymentId)) {
      violations.push({
        invariant: Invariant.REFUNDED_ONCE,
        orderId: observations.refunds.find((refund) => refund.paymentId === paymentId)?.orderId,
        detail: `${count} refunds of payment ${paymentId}, which no order knows`,
      });
    }
  }

  let deadLettersAccountedFor = 0;
  for (const letter of observations.deadLetters) {
    if (letter.orderId !== undefined && consistent.has(letter.orderId)) {
      deadLettersAccountedFor += 1;
    } else {
      violations.push({
        invariant: Invariant.DLQ_ACCOUNTED,
        orderId: letter.orderId,
        detail: `a message in ${letter.queue} ${letter.orderId === undefined ? 'names no order' : 'belongs to an order that did not end consistently'}`,
      });
    }
  }
  return { violations, outcomes, deadLettersAccountedFor };
}
