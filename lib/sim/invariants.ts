import { canTransition, isOrderStatus, OrderStatus } from '../../functions/domain/order-status';

/**
 * The simulator's judge: from what was done to each order and what the system and its outside parties recorded,
 * decides whether every order ended consistently. Pure, so each invariant has a unit test with a fabricated
 * history that breaks it.
 */

/** What the simulated parties did to an order. */
export const Scenario = {
  /** Asks for the payment and confirms it with a card that succeeds, in time. */
  PAID: 'paid',
  /** Submits the payment twice at once: two payment requests and two confirmations, in time. */
  PAYS_TWICE: 'pays-twice',
  /** Asks for the payment and never confirms it: the payment window closes. */
  UNPAID: 'unpaid',
  /** Asks for the payment in time and confirms it the moment the payment window closes (races the timeout). */
  PAYS_AT_DEADLINE: 'pays-at-deadline',
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
  /** For paid scenarios: the checkout or the confirmation came only after the payment deadline (load). */
  readonly paidAfterDeadline?: boolean;
  /** What the customer did around the deadline (checkout answers, confirmations), to explain a violation. */
  readonly customerSteps?: readonly string[];
}

/** A payment intent as the provider reports it. */
export interface ProviderIntent {
  readonly paymentId: string;
  /** The order id in the intent's metadata. */
  readonly orderId: string | undefined;
  readonly status: string;
}

export interface Observations {
  readonly orders: readonly SimulatedOrder[];
  /** Refunds the payment provider made (or is making: `pending`), by the intent they refund. */
  readonly refunds: readonly { readonly paymentId: string; readonly status: string }[];
  /** Every payment intent the provider holds. */
  readonly intents: readonly ProviderIntent[];
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
  NO_CHARGE_LEFT: 'no-charge-left',
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

/** Where a paid order may end and still keep its money. */
const KEEPS_PAYMENT: ReadonlySet<string> = new Set([
  OrderStatus.PAID,
  OrderStatus.FULFILLING,
  OrderStatus.FULFILLED,
  OrderStatus.OUTBOUND,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
]);

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** What a consistent end looks like for an order, or why this one is not. */
function terminalProblem(order: SimulatedOrder, view: OrderView): string | undefined {
  const statuses = view.payments.map((payment) => payment.status);
  const paid = statuses.filter((status) => status !== 'CANCELLED' && status !== 'FAILED');
  const refunded = paid.length > 0 && paid.every((status) => status === 'REFUNDED');
  // Intents that were never paid (cancelled at the provider when the window closed) keep no money.
  const nothingKept = paid.every((status) => status === 'REFUNDED');
  const problem = (what: string) =>
    `${what} order ended ${view.status} with payments [${statuses.join(', ')}]` +
    (order.customerSteps === undefined || order.customerSteps.length === 0
      ? ''
      : `; the customer: ${order.customerSteps.join(', ')}`);
  const delivered = view.status === OrderStatus.DELIVERED && paid.length === 1 && paid[0] === 'SUCCEEDED';
  const failedAndRefunded = view.status === OrderStatus.FULFILLMENT_FAILED && paid.length === 1 && refunded;
  switch (order.scenario) {
    case Scenario.PAID:
    case Scenario.PAYS_TWICE:
      if (delivered || failedAndRefunded) return undefined;
      // A checkout or confirmation that came only after the deadline may find the order or its intent cancelled.
      if (view.status === OrderStatus.CANCELLED && order.paidAfterDeadline === true && nothingKept) {
        return undefined;
      }
      return problem('paid');
    case Scenario.UNPAID:
    case Scenario.CUSTOMER_CANCELS:
      return view.status === OrderStatus.CANCELLED && paid.length === 0 ? undefined : problem('unpaid');
    case Scenario.PAYS_AT_DEADLINE:
      // Either the payment won the race (and the order was fulfilled or refunded), or the timeout did.
      return delivered || failedAndRefunded || (view.status === OrderStatus.CANCELLED && nothingKept)
        ? undefined
        : problem('deadline-paid');
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

/**
 * Every intent the provider reports succeeded is kept by its order (paid or further, the payment SUCCEEDED) or
 * has been refunded; any other is a customer charged for nothing.
 */
function chargesLeft(
  observations: Observations,
  refundsPerPayment: ReadonlyMap<string, number>,
): Violation[] {
  const views = new Map(observations.orders.map((order) => [order.orderId, order.view]));
  const succeededRefunds = new Set(
    observations.refunds.filter((refund) => refund.status === 'succeeded').map((refund) => refund.paymentId),
  );
  return observations.intents
    .filter((intent) => intent.status === 'succeeded' && !succeededRefunds.has(intent.paymentId))
    .flatMap((intent): Violation[] => {
      const view = intent.orderId === undefined ? undefined : views.get(intent.orderId);
      const payment = view?.payments.find((candidate) => candidate.paymentId === intent.paymentId);
      if (view !== undefined && KEEPS_PAYMENT.has(view.status) && payment?.status === 'SUCCEEDED') return [];
      const refunds = refundsPerPayment.get(intent.paymentId) ?? 0;
      return [
        {
          invariant: Invariant.NO_CHARGE_LEFT,
          orderId: intent.orderId,
          detail:
            `intent ${intent.paymentId} succeeded, but its order is ${view?.status ?? 'unknown'} with the payment ` +
            `${payment?.status ?? 'unrecorded'} and ${refunds} refund(s) not yet succeeded`,
        },
      ];
    });
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
      const expected = payment.status === 'REFUND_PENDING' || payment.status === 'REFUNDED' ? 1 : 0;
      if (refunds !== expected) {
        violate(
          Invariant.REFUNDED_ONCE,
          `payment ${payment.paymentId} (${payment.status}) was refunded ${refunds} times, expected ${expected}`,
        );
        ok = false;
      }
    }
    const sagas = sagasPerOrder.get(order.orderId) ?? 0;
    // Whatever the scenario, an order that took a payment gets exactly one saga (a race may go either way).
    const paid = view.history.some((step) => step.status === OrderStatus.PAID);
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

  const intentOrders = new Map(observations.intents.map((intent) => [intent.paymentId, intent.orderId]));
  for (const [paymentId, count] of refundsPerPayment) {
    if (!simulatedPayments.has(paymentId)) {
      violations.push({
        invariant: Invariant.REFUNDED_ONCE,
        orderId: intentOrders.get(paymentId),
        detail: `${count} refunds of payment ${paymentId}, which no order knows`,
      });
    }
  }
  violations.push(...chargesLeft(observations, refundsPerPayment));

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
