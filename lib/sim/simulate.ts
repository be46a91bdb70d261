import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import Stripe from 'stripe';
import { stripeClient } from '../../functions/adapters/stripe-client';
import type { CreatedQueue } from '../local/aws/resources';
import type { Usage } from '../local/runtime/sdk-instrumentation';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/runtime/wiring';
import { seededRandom } from '../seeded-random';
import { type HttpAnswer, type Latencies, SimulatorClient } from './client';
import { CLOCKED_FUNCTIONS } from './cost';
import {
  checkInvariants,
  type Observations,
  type OrderView,
  SCENARIOS,
  Scenario,
  type SimulatedOrder,
  type Verdict,
} from './invariants';

/**
 * The simulator: customers, the payment provider and the logistics provider acting on a running local system,
 * only through its HTTP API (the public routes, and the `/_local/*` routes where the fake provider and the
 * simulated carrier live). Then it waits for quiescence and hands everything it saw to the invariant checker.
 */

export interface SimulationOptions {
  readonly baseUrl: string;
  readonly orders: number;
  /**
   * Customers acting at once (each places an order, then pays or cancels, then takes the next); the same number
   * bounds the background requests (late payments, carrier reports, reads while settling).
   */
  readonly concurrency: number;
  /** Weights of the scenarios; missing ones are 0. */
  readonly mix: Readonly<Partial<Record<Scenario, number>>>;
  readonly seed: number;
  /** Give up waiting for quiescence after this long; unsettled orders become violations. */
  readonly settleTimeoutSeconds: number;
  /** How the simulated carrier reports; by default as carriers do, shuffled and some twice. */
  readonly carrier?: CarrierBehaviour;
  /**
   * Share (0..1) of the provider's webhooks it loses on purpose; what they would have brought must then come from
   * the reconciliation and the check-back. Default: the provider's own setting (none lost).
   */
  readonly webhookLoss?: number;
  readonly onProgress?: (progress: Progress) => void;
}

export interface CarrierBehaviour {
  /** Share of status reports the carrier sends twice (same event id). */
  readonly duplicateShare: number;
  /** Whether the reports of a shipment arrive in a random order rather than OUTBOUND, SHIPPED, DELIVERED. */
  readonly shuffled: boolean;
}

const REALISTIC_CARRIER: CarrierBehaviour = { duplicateShare: 0.3, shuffled: true };

/** The happy path's carrier: each report once, in order. */
export const ORDERLY_CARRIER: CarrierBehaviour = { duplicateShare: 0, shuffled: false };

export const DEFAULT_MIX: Readonly<Record<Scenario, number>> = {
  [Scenario.PAID]: 50,
  [Scenario.PAYS_TWICE]: 10,
  [Scenario.UNPAID]: 15,
  [Scenario.PAYS_AT_DEADLINE]: 10,
  [Scenario.CUSTOMER_CANCELS]: 15,
};

export interface Progress {
  readonly phase: 'acting' | 'settling' | 'checking';
  readonly done: number;
  readonly total: number;
}

export interface SimulationReport {
  readonly verdict: Verdict;
  readonly orders: number;
  /** From the first order to quiescence. */
  readonly elapsedSeconds: number;
  /** Orders that ended DELIVERED. */
  readonly deliveredOrders: number;
  /** Orders whose history reached FULFILLED (the end of the lifecycle the benchmark measures). */
  readonly fulfilledOrders: number;
  /**
   * Seconds from the first order's creation to the last order's FULFILLED, by the timestamps the system wrote in
   * the orders' histories (so how often the simulator looks does not change it); 0 if no order was fulfilled.
   */
  readonly lifecycleSeconds: number;
  readonly latenciesMs: Readonly<Record<string, readonly number[]>>;
  readonly usage: Usage;
  readonly scenarios: Readonly<Record<string, number>>;
  /** What a simulated party could not do (an API that kept failing after its retries); each fails the run. */
  readonly actorErrors: readonly string[];
}

/** Parses `paid=50,unpaid=15` into weights, refusing unknown scenario names. */
export function parseMix(text: string): Partial<Record<Scenario, number>> {
  const mix: Partial<Record<Scenario, number>> = {};
  for (const part of text.split(',').filter((entry) => entry.trim() !== '')) {
    const [name, weight] = part.split('=').map((value) => value.trim());
    if (!SCENARIOS.includes(name as Scenario)) {
      throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.join(', ')}`);
    }
    const value = Number(weight);
    if (!Number.isFinite(value) || value < 0) throw new Error(`the weight of ${name} must be a number >= 0`);
    mix[name as Scenario] = value;
  }
  return mix;
}

/** The scenario of each order, in proportion to the weights, shuffled by the seed. */
export function assignScenarios(
  count: number,
  mix: SimulationOptions['mix'],
  random: () => number,
): Scenario[] {
  const weights = SCENARIOS.map((scenario) => [scenario, mix[scenario] ?? 0] as const);
  const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
  if (total <= 0) throw new Error('the mix needs at least one scenario with a positive weight');
  const scenarios: Scenario[] = [];
  for (const [scenario, weight] of weights) {
    const share = Math.round((count * weight) / total);
    for (let index = 0; index < share && scenarios.length < count; index += 1) scenarios.push(scenario);
  }
  while (scenarios.length < count)
    scenarios.push(weights.find(([, weight]) => weight > 0)?.[0] ?? Scenario.PAID);
  for (let index = scenarios.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [scenarios[index], scenarios[other]] = [scenarios[other] as Scenario, scenarios[index] as Scenario];
  }
  return scenarios;
}

/** Lets at most `limit` tasks run at once. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  public constructor(private readonly limit: number) {}

  public async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}

class LatencyRecorder implements Latencies {
  public readonly samples: Record<string, number[]> = {};

  public record(route: string, milliseconds: number): void {
    const samples = this.samples[route] ?? [];
    samples.push(milliseconds);
    this.samples[route] = samples;
  }
}

const SETTLE_FIRST_PAUSE_MS = 1000;
const SETTLE_PAUSE_GROWTH = 1.5;
const SETTLE_MAX_PAUSE_MS = 5000;
/** About a tenth of a core at the 2 ms of CPU one `GET /orders/{id}` costs the local system. */
const SETTLE_READS_PER_SECOND = 50;
const SETTLE_TICK_MS = 100;

/**
 * When to look at each open order again while settling: 1 s after the last look, then 1.5 times longer each
 * time, at most 5 s apart; and no more than `readsPerSecond` looks in all, the longest-due first. Without the
 * overall limit, thousands of open orders each read every few seconds took most of the CPU the system needed to
 * settle them.
 */
export class SettleReadSchedule {
  private readonly next = new Map<string, { readonly at: number; readonly pauseMs: number }>();
  private budget: number;
  private budgetAt: number | undefined;

  public constructor(private readonly readsPerSecond: number = SETTLE_READS_PER_SECOND) {
    this.budget = readsPerSecond;
  }

  /** The orders to read now (`now` in ms, one clock for every call), counted against the budget. */
  public due(orderIds: readonly string[], now: number): string[] {
    if (this.budgetAt !== undefined) {
      this.budget = Math.min(
        this.readsPerSecond,
        this.budget + ((now - this.budgetAt) * this.readsPerSecond) / 1000,
      );
    }
    this.budgetAt = now;
    const dueAt = (orderId: string) => this.next.get(orderId)?.at ?? 0;
    const picked = orderIds
      .filter((orderId) => dueAt(orderId) <= now)
      .sort((left, right) => dueAt(left) - dueAt(right))
      .slice(0, Math.floor(this.budget));
    this.budget -= picked.length;
    return picked;
  }

  /** An order was read at `at`: its next look is one (longer) pause later. */
  public read(orderId: string, at: number): void {
    const pauseMs = Math.min(
      SETTLE_MAX_PAUSE_MS,
      (this.next.get(orderId)?.pauseMs ?? SETTLE_FIRST_PAUSE_MS / SETTLE_PAUSE_GROWTH) * SETTLE_PAUSE_GROWTH,
    );
    this.next.set(orderId, { at: at + pauseMs, pauseMs });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stripe's answer to paying an intent that is cancelled or already paid. */
const UNEXPECTED_STATE = 'payment_intent_unexpected_state';

/** The official SDK, pointed at the provider the system uses (`stripe` in `/_local/endpoints`). */
async function providerClient(client: SimulatorClient, secretKey: string | undefined): Promise<Stripe> {
  if (secretKey === undefined) throw new Error('the system shares no stripe-secret-key');
  const endpoints = expect2xx(
    await client.send<{ stripe?: string }>('GET', '/_local/endpoints'),
    'endpoints',
  );
  if (endpoints.stripe === undefined) throw new Error('the system lists no stripe endpoint');
  return stripeClient(endpoints.stripe, secretKey);
}

interface PlacedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly scenario: Scenario;
  readonly totalAmount: number;
  readonly currency: string;
  readonly paymentDeadline: string;
}

const FINAL = new Set(['DELIVERED', 'CANCELLED', 'FULFILLMENT_FAILED']);
const PAYMENT_OPEN = new Set(['REFUND_PENDING', 'PENDING']);

/** An order that nothing more will happen to, unless the system is wrong. */
function settled(view: OrderView): boolean {
  return FINAL.has(view.status) && !view.payments.some((payment) => PAYMENT_OPEN.has(payment.status));
}

function expect2xx<T>(answer: HttpAnswer<T>, what: string): T {
  if (answer.status >= 300)
    throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const random = seededRandom(options.seed);
  const latencies = new LatencyRecorder();
  const client = new SimulatorClient(options.baseUrl, latencies);
  const gate = new Gate(options.concurrency);
  const scenarios = assignScenarios(options.orders, options.mix, random);
  const report = (phase: Progress['phase'], done: number, total: number) =>
    options.onProgress?.({ phase, done, total });

  const secrets = expect2xx(
    await client.send<{ secrets: Record<string, string> }>('GET', '/_local/secrets'),
    'secrets',
  );
  const logisticsSecret = secrets.secrets['logistics-webhook-secret'];
  if (logisticsSecret === undefined) throw new Error('the system shares no logistics-webhook-secret');
  const stripe = await providerClient(client, secrets.secrets['stripe-secret-key']);
  if (options.webhookLoss !== undefined) {
    expect2xx(
      await client.send('POST', '/_local/provider/webhooks', { lossRate: options.webhookLoss }),
      'webhook loss',
    );
  }
  const usageAtStart = expect2xx(await client.send<{ usage: Usage }>('GET', '/_local/usage'), 'usage').usage;

  const startedAt = performance.now();
  const placed: PlacedOrder[] = [];
  const lateAttempts = new Set<string>();
  // What each customer did around its payment deadline, for the detail of a violation.
  const actorSteps = new Map<string, string[]>();
  const noteStep = (order: PlacedOrder, step: string) => {
    const offsetMs = Date.now() - Date.parse(order.paymentDeadline);
    const steps = actorSteps.get(order.orderId) ?? [];
    steps.push(`${step} at deadline${offsetMs < 0 ? '' : '+'}${offsetMs} ms`);
    actorSteps.set(order.orderId, steps);
  };
  const followUps: Promise<void>[] = [];
  let acted = 0;

  // The carrier: every shipment it booked gets its status reports (by default shuffled and some twice, as carriers
  // send them).
  const carrierBehaviour = options.carrier ?? REALISTIC_CARRIER;
  const reported = new Set<string>();
  let carrierRunning = true;
  const reports: Promise<void>[] = [];
  const carrier = (async () => {
    while (carrierRunning) {
      await sleep(1000);
      const shipments = await client
        .send<{ orderId: string; status: string }[]>('GET', '/_local/transport/shipments')
        .catch(() => undefined);
      for (const shipment of shipments?.body ?? []) {
        if (shipment.status !== 'booked' || reported.has(shipment.orderId)) continue;
        reported.add(shipment.orderId);
        const statuses = ['OUTBOUND', 'SHIPPED', 'DELIVERED'].flatMap((status) =>
          random() < carrierBehaviour.duplicateShare ? [status, status] : [status],
        );
        for (let index = carrierBehaviour.shuffled ? statuses.length - 1 : 0; index > 0; index -= 1) {
          const other = Math.floor(random() * (index + 1));
          [statuses[index], statuses[other]] = [statuses[other] as string, statuses[index] as string];
        }
        reports.push(
          gate.run(async () => {
            for (const status of statuses) {
              expect2xx(
                await client.logisticsReport(logisticsSecret, {
                  eventId: `sim-${shipment.orderId}-${status}`,
                  orderId: shipment.orderId,
                  status,
                  occurredAt: new Date().toISOString(),
                }),
                'logistics report',
              );
            }
          }),
        );
      }
    }
  })();

  /**
   * The checkout: the order's payment intent, or undefined when the order can no longer be paid (409). While
   * another request holds the payment lease (one that crashed holds it until it expires), the customer tries
   * again a second later, as a shop's page would, until the window closes.
   */
  const checkout = async (order: PlacedOrder): Promise<{ paymentId: string } | undefined> => {
    for (;;) {
      const answer = await client.asCustomer<{ paymentId: string; code?: string }>(
        order.customerId,
        'POST',
        `/orders/${order.orderId}/payments`,
        {},
        {},
        'POST /orders/{id}/payments',
      );
      noteStep(
        order,
        `checkout ${answer.status}${answer.body.code === undefined ? '' : ` ${answer.body.code}`}`,
      );
      if (answer.status !== 409) return expect2xx(answer, 'POST /orders/{id}/payments');
      if (Date.now() > Date.parse(order.paymentDeadline)) lateAttempts.add(order.orderId);
      if (answer.body.code !== 'PAYMENT_IN_PROGRESS' || lateAttempts.has(order.orderId)) return undefined;
      await sleep(1000);
    }
  };

  /**
   * The customer's browser confirming the intent with a card that succeeds (Stripe.js does this with the client
   * secret; the fake, like Stripe, also takes the secret key). An intent the provider no longer lets anyone pay
   * (cancelled when the window closed, or already paid) refuses, and nothing is charged.
   */
  const confirm = async (order: PlacedOrder, paymentId: string) => {
    const started = performance.now();
    if (Date.now() > Date.parse(order.paymentDeadline)) lateAttempts.add(order.orderId);
    noteStep(order, `confirm ${paymentId}`);
    try {
      await stripe.paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
      latencies.record('confirm payment', performance.now() - started);
      noteStep(order, 'confirmed');
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === UNEXPECTED_STATE) {
        noteStep(order, 'confirm refused');
        return;
      }
      throw error;
    }
  };

  const pay = async (order: PlacedOrder, times: number) => {
    const intents = await Promise.all(Array.from({ length: times }, () => checkout(order)));
    const paymentIds = new Set(intents.flatMap((intent) => (intent === undefined ? [] : [intent.paymentId])));
    await Promise.all([...paymentIds].flatMap((paymentId) => intents.map(() => confirm(order, paymentId))));
  };

  const readOrder = async (order: PlacedOrder) =>
    await gate.run(
      async () =>
        await client.asCustomer<OrderView>(
          order.customerId,
          'GET',
          `/orders/${order.orderId}`,
          undefined,
          {},
          'GET /orders/{id}',
        ),
    );

  const act = async (index: number, scenario: Scenario) => {
    const customerId = `sim-customer-${index % 500}`;
    // A customer acts in one go (order, then pay or cancel); only waits and background work go through the gate,
    // so a payment is not queued behind every other customer's order.
    const order = await (async () => {
      const answer = await client.asCustomer<PlacedOrder>(
        customerId,
        'POST',
        '/orders',
        {
          customerId,
          currency: 'EUR',
          items: [{ sku: `SKU-${index % 37}`, quantity: 1 + (index % 3), unitPrice: 1000 + index }],
        },
        { 'idempotency-key': `sim-${options.seed}-${index}` },
        'POST /orders',
      );
      return { ...expect2xx(answer, 'POST /orders'), customerId, scenario };
    })();
    placed.push(order);
    if (scenario === Scenario.PAID || scenario === Scenario.PAYS_TWICE) {
      await pay(order, scenario === Scenario.PAID ? 1 : 2);
    } else if (scenario === Scenario.UNPAID) {
      await checkout(order);
    } else if (scenario === Scenario.CUSTOMER_CANCELS) {
      await (async () => {
        const answer = await client.asCustomer(
          customerId,
          'POST',
          `/orders/${order.orderId}/cancel`,
          {},
          {},
          'POST /orders/{id}/cancel',
        );
        // A retried cancel whose first attempt went through meets CANCELLED: 409, and the order is cancelled.
        if (answer.status !== 409) expect2xx(answer, 'cancel');
      })();
    } else if (scenario === Scenario.PAYS_AT_DEADLINE) {
      const intent = await checkout(order);
      followUps.push(
        (async () => {
          await sleep(Math.max(0, Date.parse(order.paymentDeadline) - Date.now()));
          if (intent !== undefined) await gate.run(() => confirm(order, intent.paymentId));
        })(),
      );
    }
    acted += 1;
    report('acting', acted, options.orders);
  };

  const actorErrors: string[] = [];
  const noteFailure = (error: unknown) => {
    actorErrors.push(error instanceof Error ? error.message : String(error));
  };
  // `concurrency` customers, each taking the next order when done with the last.
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, scenarios.length) }, async () => {
      for (let index = next++; index < scenarios.length; index = next++) {
        await act(index, scenarios[index] as Scenario).catch(noteFailure);
      }
    }),
  );
  await Promise.all(followUps.map((followUp) => followUp.catch(noteFailure)));

  // Quiescence: every order final and nothing left moving in the system (no AWS request for a while).
  const views = new Map<string, OrderView>();
  const deadline = Date.now() + options.settleTimeoutSeconds * 1000;
  let lastSettledAt = performance.now();
  const schedule = new SettleReadSchedule();
  while (Date.now() < deadline) {
    const open = placed.filter((order) => {
      const view = views.get(order.orderId);
      return view === undefined || !settled(view);
    });
    report('settling', placed.length - open.length, placed.length);
    if (open.length === 0) break;
    const due = new Set(
      schedule.due(
        open.map((order) => order.orderId),
        performance.now(),
      ),
    );
    await Promise.all(
      open
        .filter((order) => due.has(order.orderId))
        .map(async (order) => {
          const answer = await readOrder(order).catch(() => undefined);
          if (answer?.status === 200) views.set(order.orderId, answer.body);
          schedule.read(order.orderId, performance.now());
        }),
    );
    const stillOpen = open.filter((order) => {
      const view = views.get(order.orderId);
      return view === undefined || !settled(view);
    });
    if (stillOpen.length === 0) lastSettledAt = performance.now();
    else await sleep(SETTLE_TICK_MS);
  }
  carrierRunning = false;
  await carrier;
  await Promise.all(reports);
  await waitUntilQuiet(client, deadline);
  const elapsedSeconds = (lastSettledAt - startedAt) / 1000;

  report('checking', 0, placed.length);
  // The final reading, after quiescence: anything that moved after an order looked settled shows here.
  await Promise.all(
    placed.map(async (order) => {
      const answer = await readOrder(order).catch(() => undefined);
      if (answer?.status === 200) views.set(order.orderId, answer.body);
      else views.delete(order.orderId);
    }),
  );
  const observations = await observe(client, placed, views, lateAttempts, actorSteps);
  const usageAtEnd = expect2xx(await client.send<{ usage: Usage }>('GET', '/_local/usage'), 'usage').usage;
  return {
    verdict: checkInvariants(observations),
    orders: placed.length,
    elapsedSeconds,
    deliveredOrders: [...views.values()].filter((view) => view.status === 'DELIVERED').length,
    ...lifecycleOf([...views.values()]),
    latenciesMs: latencies.samples,
    usage: usageDelta(usageAtEnd, usageAtStart),
    actorErrors,
    scenarios: Object.fromEntries(
      SCENARIOS.map((scenario) => [scenario, scenarios.filter((s) => s === scenario).length]),
    ),
  };
}

/** How many orders reached FULFILLED, and the span from the first creation to the last FULFILLED. */
export function lifecycleOf(views: readonly OrderView[]): {
  fulfilledOrders: number;
  lifecycleSeconds: number;
} {
  const fulfilledAt = views.flatMap((view) =>
    view.history.filter((entry) => entry.status === 'FULFILLED').map((entry) => Date.parse(entry.at)),
  );
  const createdAt = views.flatMap((view) =>
    view.history[0] === undefined ? [] : [Date.parse(view.history[0].at)],
  );
  if (fulfilledAt.length === 0 || createdAt.length === 0) return { fulfilledOrders: 0, lifecycleSeconds: 0 };
  return {
    fulfilledOrders: fulfilledAt.length,
    lifecycleSeconds: (Math.max(...fulfilledAt) - Math.min(...createdAt)) / 1000,
  };
}

/** `end - start`, per key. */
export function usageDelta(end: Usage, start: Usage): Usage {
  const delta: Usage = {};
  for (const [key, value] of Object.entries(end)) {
    const before = start[key] ?? { requests: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };
    delta[key] = {
      requests: value.requests - before.requests,
      readCapacityUnits: value.readCapacityUnits - before.readCapacityUnits,
      writeCapacityUnits: value.writeCapacityUnits - before.writeCapacityUnits,
    };
  }
  return delta;
}

function busyRequests(usage: Usage): number {
  return Object.entries(usage)
    .filter(([key]) => !key.endsWith('(empty)') && !CLOCKED_FUNCTIONS.some((fn) => key.includes(fn)))
    .reduce((sum, [, value]) => sum + value.requests, 0);
}

/** Waits until two readings of the usage meter a second apart see no new request (idle polling aside). */
async function waitUntilQuiet(client: SimulatorClient, deadline: number): Promise<void> {
  let previous = -1;
  while (Date.now() < deadline) {
    const usage = expect2xx(await client.send<{ usage: Usage }>('GET', '/_local/usage'), 'usage').usage;
    const busy = busyRequests(usage);
    if (busy === previous) return;
    previous = busy;
    await sleep(1000);
  }
}

async function observe(
  client: SimulatorClient,
  placed: readonly PlacedOrder[],
  views: ReadonlyMap<string, OrderView>,
  lateAttempts: ReadonlySet<string>,
  actorSteps: ReadonlyMap<string, readonly string[]>,
): Promise<Observations> {
  const [refunds, intents, picks, shipments, executions, endpoints] = await Promise.all([
    client.send<Stripe.Refund[]>('GET', '/_local/provider/refunds'),
    client.send<Stripe.PaymentIntent[]>('GET', '/_local/provider/intents'),
    client.send<{ orderId: string; status: string }[]>('GET', '/_local/warehouse/picks'),
    client.send<{ orderId: string; status: string }[]>('GET', '/_local/transport/shipments'),
    client.send<{ executions: { name: string; input: string; status: string }[] }>(
      'GET',
      '/_local/executions',
    ),
    client.send<{ sqs: string; queues: Record<string, CreatedQueue> }>('GET', '/_local/endpoints'),
  ]);
  // The provider also holds what earlier runs on the same system did (the benchmark's warm-up, a `--url` system
  // used before): only this run's orders' intents, and their refunds, are this run's to judge.
  const placedIds = new Set(placed.map((order) => order.orderId));
  const runIntents = expect2xx(intents, 'intents')
    .filter((intent) => placedIds.has(intent.metadata.orderId ?? ''))
    .map((intent) => ({ paymentId: intent.id, orderId: intent.metadata.orderId, status: intent.status }));
  const ours = new Set(runIntents.map((intent) => intent.paymentId));
  const orders: SimulatedOrder[] = placed.map((order) => ({
    orderId: order.orderId,
    scenario: order.scenario,
    view: views.get(order.orderId),
    paidAfterDeadline: lateAttempts.has(order.orderId),
    customerSteps: actorSteps.get(order.orderId) ?? [],
  }));
  return {
    orders,
    refunds: expect2xx(refunds, 'refunds')
      .map((refund) => ({
        paymentId:
          typeof refund.payment_intent === 'string'
            ? refund.payment_intent
            : (refund.payment_intent?.id ?? ''),
        status: refund.status ?? 'unknown',
      }))
      .filter((refund) => ours.has(refund.paymentId)),
    intents: runIntents,
    picks: expect2xx(picks, 'picks'),
    shipments: expect2xx(shipments, 'shipments'),
    sagas: expect2xx(executions, 'executions').executions.map((execution) => ({
      orderId: orderIdOf(execution.input) ?? execution.name,
      status: execution.status,
    })),
    deadLetters: await readDeadLetters(expect2xx(endpoints, 'endpoints')),
  };
}

function orderIdOf(json: string | undefined): string | undefined {
  if (json === undefined) return undefined;
  try {
    const parsed = JSON.parse(json) as { orderId?: unknown; detail?: { orderId?: unknown } };
    const orderId = parsed.orderId ?? parsed.detail?.orderId;
    return typeof orderId === 'string' ? orderId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every message in every dead-letter queue, read as an operator would (the SQS API at the local endpoint), with
 * the order it concerns: FIFO messages are grouped by order id, others carry it in their body.
 */
async function readDeadLetters(endpoints: {
  sqs: string;
  queues: Record<string, CreatedQueue>;
}): Promise<Observations['deadLetters']> {
  const sqs = new SQSClient({
    endpoint: endpoints.sqs,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const letters: { queue: string; orderId: string | undefined }[] = [];
    for (const queue of Object.values(endpoints.queues)) {
      const seen = new Set<string>();
      for (;;) {
        const answer = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.deadLetterUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 60,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['MessageGroupId'],
          }),
        );
        const messages = (answer.Messages ?? []).filter((message) => !seen.has(message.MessageId ?? ''));
        if (messages.length === 0) break;
        for (const message of messages) {
          seen.add(message.MessageId ?? '');
          letters.push({
            queue: queue.deadLetterName,
            orderId: message.Attributes?.MessageGroupId ?? orderIdOf(message.Body),
          });
        }
      }
    }
    return letters;
  } finally {
    sqs.destroy();
  }
}
