import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureHeader } from '../../functions/domain/webhook-signature';
import type { CreatedQueue } from '../../lib/local/aws/resources';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import {
  appModel,
  LOGISTICS_WEBHOOK_SECRET,
  PAYMENT_WEBHOOK_SECRET,
  STATUS_EVENTS_QUEUE,
} from '../../lib/model';
import { runDlqCommand } from '../../lib/ops/dlq';
import { seededRandom } from '../../lib/seeded-random';
import { fetchAs } from '../support/auth';
import { eventually, FIRST_FULFILLMENT_WAIT_MS } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { type HttpAnswer, type OrderView, placeBoxOrder, startTestSystem } from '../support/local-system';
import { payOrder } from '../support/stripe';

/**
 * Logistics status tracking over real HTTP on one local system: signed reports to `POST /webhooks/logistics`,
 * through `status-events.fifo` to the status consumer. Reports come shuffled, duplicated, with poison in some
 * orders' groups and, for some orders, before their fulfilment has finished; every order still ends at its
 * highest report, no timeline ever moves back, and poison only holds up its own order.
 */

const RANK: Readonly<Record<string, number>> = { FULFILLED: 0, OUTBOUND: 1, SHIPPED: 2, DELIVERED: 3 };
const LOGISTICS = ['OUTBOUND', 'SHIPPED', 'DELIVERED'] as const;
type Logistics = (typeof LOGISTICS)[number];

/** Reports ahead of fulfilment wait on the queue, one receive per visibility timeout (1 s here): give them room. */
const STATUS_MAX_RECEIVES = 10;
const model = {
  ...appModel,
  queues: appModel.queues.map((queue) =>
    queue.name === STATUS_EVENTS_QUEUE ? { ...queue, maxReceiveCount: STATUS_MAX_RECEIVES } : queue,
  ),
};

let system: LocalSystem;
let sqs: SQSClient;

beforeAll(async () => {
  system = await startTestSystem({
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
    queueVisibilityTimeoutSeconds: 1,
    model,
  });
  sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
});

afterAll(async () => {
  sqs?.destroy();
  await system?.stop();
});

function statusQueue(): CreatedQueue {
  const queue = system.queues[STATUS_EVENTS_QUEUE];
  if (queue === undefined) throw new Error(`the local system has no ${STATUS_EVENTS_QUEUE}`);
  return queue;
}

function secret(): string {
  const value = system.secrets[LOGISTICS_WEBHOOK_SECRET];
  if (value === undefined) throw new Error(`the local system has no ${LOGISTICS_WEBHOOK_SECRET}`);
  return value;
}

const CUSTOMER = 'logistics';

async function order(orderId: string): Promise<OrderView> {
  return (await (await fetchAs(system, CUSTOMER, `/orders/${orderId}`)).json()) as OrderView;
}

function placeOrder(): Promise<OrderView> {
  return placeBoxOrder(system, CUSTOMER, 1, 990);
}

async function pay(placed: OrderView): Promise<void> {
  await payOrder(system, CUSTOMER, placed.orderId);
}

async function fulfilledOrder(): Promise<OrderView> {
  const placed = await placeOrder();
  await pay(placed);
  return await eventually(async () => {
    const view = await order(placed.orderId);
    return view.status === 'FULFILLED' ? view : undefined;
  }, FIRST_FULFILLMENT_WAIT_MS);
}

function report(orderId: string, status: Logistics, eventId: string): string {
  return JSON.stringify({ eventId, orderId, status, occurredAt: new Date().toISOString() });
}

/** Posts `rawBody` to the webhook, signed with the system's secret now, unless told otherwise. */
async function webhook(
  rawBody: string,
  signature: { header?: string | undefined; secret?: string; timestamp?: number } = {},
): Promise<HttpAnswer> {
  const timestamp = signature.timestamp ?? Math.floor(Date.now() / 1000);
  const header =
    'header' in signature
      ? signature.header
      : signatureHeader(signature.secret ?? secret(), rawBody, timestamp);
  const response = await fetch(`${system.url}/webhooks/logistics`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(header === undefined ? {} : { 'logistics-signature': header }),
    },
    body: rawBody,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (text.length > 0 ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

function statuses(view: OrderView): string[] {
  return view.history.map((entry) => entry.status);
}

/** Ranks of the statuses from FULFILLED on strictly increase: no backward move and no status twice. */
function expectNoBackwardMove(view: OrderView): void {
  const ranks = statuses(view).flatMap((status) => (status in RANK ? [RANK[status] ?? -1] : []));
  for (let index = 1; index < ranks.length; index += 1) {
    expect(ranks[index], `timeline of ${view.orderId}: ${statuses(view).join(' -> ')}`).toBeGreaterThan(
      ranks[index - 1] ?? -1,
    );
  }
}

async function queueDepth(url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

describe('POST /webhooks/logistics refuses what it cannot trust, and queues nothing', () => {
  const now = () => Math.floor(Date.now() / 1000);
  let target: OrderView;

  beforeAll(async () => {
    target = await fulfilledOrder();
  });

  it.each([
    { name: 'no signature header', sign: (_body: string) => ({ header: undefined }) },
    { name: 'a malformed signature header', sign: (_body: string) => ({ header: 't=soon,v1=not-hex' }) },
    { name: 'a signature made with another secret', sign: (_body: string) => ({ secret: 'not-the-secret' }) },
    {
      name: "the payment provider's secret",
      sign: (_body: string) => ({ secret: system.secrets[PAYMENT_WEBHOOK_SECRET] ?? 'missing' }),
    },
    { name: 'a timestamp 301 s old', sign: (_body: string) => ({ timestamp: now() - 301 }) },
    {
      name: 'a body changed after signing',
      sign: (body: string) => ({
        header: signatureHeader(secret(), body.replace('OUTBOUND', 'SHIPPED'), now()),
      }),
    },
  ])('answers 401 to $name', async ({ sign }) => {
    // Prepare
    const rawBody = report(target.orderId, 'OUTBOUND', `bad-sig-${Math.random()}`);

    // Act
    const answer = await webhook(rawBody, sign(rawBody));

    // Assess
    expect(answer).toMatchObject({
      status: 401,
      contentType: 'application/problem+json',
      body: {
        status: 401,
        code: 'INVALID_SIGNATURE',
        detail: expect.stringContaining('Logistics-Signature'),
      },
    });
  });

  it.each([
    { name: 'malformed JSON', body: (json: string) => json.slice(0, -2), code: 'MALFORMED_JSON' },
    {
      name: 'an unknown status',
      body: (json: string) => json.replace('OUTBOUND', 'TELEPORTED'),
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a status before fulfilment',
      body: (json: string) => json.replace('OUTBOUND', 'FULFILLED'),
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'a date that is not ISO',
      body: (json: string) => json.replace(/"occurredAt":"[^"]+"/, '"occurredAt":"yesterday"'),
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'an order id that is no ULID',
      body: (json: string) => json.replace(/"orderId":"[^"]+"/, '"orderId":"order-1"'),
      code: 'VALIDATION_FAILED',
    },
  ])('answers 400 $code to $name with a valid signature', async ({ body, code }) => {
    // Prepare
    const rawBody = body(report(target.orderId, 'OUTBOUND', `bad-body-${Math.random()}`));

    // Act
    const answer = await webhook(rawBody);

    // Assess
    expect(answer).toMatchObject({
      status: 400,
      contentType: 'application/problem+json',
      body: { status: 400, code },
    });
  });

  it('answers 413 to a body over 16 KiB', async () => {
    // Act
    const answer = await webhook(JSON.stringify({ padding: 'x'.repeat(17 * 1024) }));

    // Assess
    expect(answer).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('queued none of the refused reports: a valid one after them is the only move', async () => {
    // Prepare: FIFO per order, so had any refused OUTBOUND been queued, it would be applied before this one.
    const eventId = `good-${Date.now()}`;

    // Act
    const answer = await webhook(report(target.orderId, 'SHIPPED', eventId));
    const shipped = await eventually(async () => {
      const view = await order(target.orderId);
      return view.status === 'SHIPPED' ? view : undefined;
    });

    // Assess
    expect(answer).toMatchObject({ status: 202, body: { accepted: true, eventId } });
    expect(statuses(shipped)).toEqual(['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLED', 'SHIPPED']);
  });
});

interface Plan {
  readonly orderId: string;
  readonly highest: Logistics;
  readonly poisoned: boolean;
  /** What goes to the queue, in order: a report (through the webhook) or poison (straight to the queue). */
  readonly sends: readonly ({ kind: 'report'; status: Logistics; eventId: string } | { kind: 'poison' })[];
}

/**
 * One order's reports: a random non-empty subset of the logistics statuses, each sent once more under the
 * same event id (the queue drops it) and some under a new one (a real duplicate for the consumer), all
 * shuffled. Poison goes before the first report of the highest status, so that status can only be reached
 * once the poison has left the group.
 */
function planFor(orderId: string, index: number, random: () => number, poisoned: boolean): Plan {
  let subset = LOGISTICS.filter(() => random() < 0.6);
  if (subset.length === 0) subset = [LOGISTICS[index % LOGISTICS.length] ?? 'DELIVERED'];
  const highest = subset.reduce((top, status) => ((RANK[status] ?? 0) > (RANK[top] ?? 0) ? status : top));
  const reports = subset.flatMap((status) => {
    const eventId = `lg-${orderId}-${status}`;
    const copies = [
      { kind: 'report' as const, status, eventId },
      { kind: 'report' as const, status, eventId },
    ];
    if (random() < 0.5) copies.push({ kind: 'report' as const, status, eventId: `${eventId}-again` });
    return copies;
  });
  const sends: Plan['sends'][number][] = shuffle(reports, random);
  if (poisoned) {
    const firstHighest = sends.findIndex((send) => send.kind === 'report' && send.status === highest);
    const at = firstHighest === 0 ? 0 : 1 + Math.floor(random() * firstHighest);
    sends.splice(Math.min(at, firstHighest), 0, { kind: 'poison' });
  }
  return { orderId, highest, poisoned, sends };
}

/** The messages a plan leaves on the queue: the queue drops a repeated event id. */
function distinctMessages(plan: Plan): number {
  return new Set(plan.sends.map((item, index) => (item.kind === 'poison' ? `poison-${index}` : item.eventId)))
    .size;
}

/** Sends one plan's messages one after another: that is the order its group keeps on the FIFO queue. */
async function send(plan: Plan): Promise<void> {
  for (const [position, item] of plan.sends.entries()) {
    if (item.kind === 'poison') {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: statusQueue().url,
          MessageBody: JSON.stringify({ orderId: plan.orderId, status: 'LOST_IN_SPACE' }),
          MessageGroupId: plan.orderId,
          MessageDeduplicationId: `poison-${plan.orderId}-${position}`,
        }),
      );
      continue;
    }
    const answer = await webhook(report(plan.orderId, item.status, item.eventId));
    if (answer.status !== 202) throw new Error(`a report for ${plan.orderId} answered ${answer.status}`);
  }
}

/** Waits until every order is at its highest report and the queue is empty, then a little longer. */
async function settle(plans: readonly Plan[], parkedAtLeast: number): Promise<OrderView[]> {
  const settled = await eventually(async () => {
    const views = await Promise.all(plans.map((plan) => order(plan.orderId)));
    if (views.some((view, index) => view.status !== plans[index]?.highest)) return undefined;
    if ((await queueDepth(statusQueue().url)) > 0) return undefined;
    if ((await queueDepth(statusQueue().deadLetterUrl)) < parkedAtLeast) return undefined;
    return views;
  }, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const final = await Promise.all(plans.map((plan) => order(plan.orderId)));
  expect(final).toEqual(settled);
  return final;
}

/** Each order at its highest report, fulfilled first, and its timeline never moving back or repeating. */
function expectTimelines(plans: readonly Plan[], views: readonly OrderView[]): void {
  for (const [index, view] of views.entries()) {
    expect(view.status, `order ${view.orderId}`).toBe(plans[index]?.highest);
    expectNoBackwardMove(view);
    const logistics = statuses(view).filter((status) => (LOGISTICS as readonly string[]).includes(status));
    expect(new Set(logistics).size).toBe(logistics.length);
    expect(statuses(view).slice(0, 4)).toEqual(['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLED']);
  }
}

describe('shuffled, duplicated, poisoned and early reports', () => {
  it('end every order at its highest report, never move back, and poison holds up only its own order', async () => {
    // Prepare: 20 fulfilled orders, every fourth with poison in its group.
    const random = seededRandom(20_240_606);
    const fulfilled = await Promise.all(Array.from({ length: 20 }, () => fulfilledOrder()));
    const plans = fulfilled.map((view, index) => planFor(view.orderId, index, random, index % 4 === 1));
    const poisoned = plans.filter((plan) => plan.poisoned);

    // Act: per order in sequence, all orders at once.
    await Promise.all(plans.map((plan) => send(plan)));
    const final = await settle(plans, poisoned.length);

    // Assess
    expectTimelines(plans, final);
    // The poison, and only the poison, reached the dead-letter queue, one per poisoned order.
    const parked = await runDlqCommand(['show', STATUS_EVENTS_QUEUE, '--max', '50'], { sqs, out: () => {} });
    expect(
      parked.command === 'show' && parked.messages.map((message) => message.messageGroupId).sort(),
    ).toEqual(poisoned.map((plan) => plan.orderId).sort());
    // Each was received maxReceiveCount times before it moved (the count goes on with receives from the DLQ).
    for (const message of parked.command === 'show' ? parked.messages : []) {
      expect(Number(message.receiveCount)).toBeGreaterThanOrEqual(STATUS_MAX_RECEIVES);
    }
    // Orders without poison reached their final status before any poisoned order could reach its own.
    const finishedAt = (view: OrderView) => Date.parse(view.history.at(-1)?.at ?? '');
    const clean = final.filter((_, index) => !plans[index]?.poisoned);
    const held = final.filter((_, index) => plans[index]?.poisoned);
    expect(Math.max(...clean.map(finishedAt))).toBeLessThan(Math.min(...held.map(finishedAt)));
  }, 60_000);

  it('hold reports that come before payment and fulfilment, and apply them after FULFILLED', async () => {
    // Prepare: three orders awaiting payment.
    const random = seededRandom(7_777);
    const early = await Promise.all(Array.from({ length: 3 }, () => placeOrder()));
    const plans = early.map((view, index) => planFor(view.orderId, index, random, false));

    // Act: the reports come first; after more than one visibility timeout nothing is applied and nothing is
    // dropped (every distinct report still on the queue); then the orders are paid.
    await Promise.all(plans.map((plan) => send(plan)));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const waiting = await Promise.all(plans.map((plan) => order(plan.orderId)));
    expect(waiting.map((view) => statuses(view))).toEqual(plans.map(() => ['PENDING_PAYMENT']));
    expect(await queueDepth(statusQueue().url)).toBe(
      plans.reduce((sum, plan) => sum + distinctMessages(plan), 0),
    );
    await Promise.all(early.map((view) => pay(view)));
    const final = await settle(plans, 0);

    // Assess
    expectTimelines(plans, final);
  });

  it('redriving the dead-letter queue moves no order back', async () => {
    // Prepare: a DELIVERED order, and two of its older reports parked in the dead-letter queue.
    const target = await fulfilledOrder();
    await webhook(report(target.orderId, 'DELIVERED', `lg-${target.orderId}-delivered`));
    const delivered = await eventually(async () => {
      const view = await order(target.orderId);
      return view.status === 'DELIVERED' ? view : undefined;
    });
    const poisonsBefore = await queueDepth(statusQueue().deadLetterUrl);
    for (const status of ['SHIPPED', 'OUTBOUND'] as const) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: statusQueue().deadLetterUrl,
          MessageBody: report(target.orderId, status, `lg-${target.orderId}-${status}-parked`),
          MessageGroupId: target.orderId,
          MessageDeduplicationId: `parked-${target.orderId}-${status}`,
        }),
      );
    }

    // Act
    const redriven = await runDlqCommand(['redrive', STATUS_EVENTS_QUEUE], { sqs, out: () => {} });
    // The two reports are consumed (acknowledged); poison, redriven too, goes back to the DLQ after its receives.
    await eventually(async () => {
      const waiting = await queueDepth(statusQueue().url);
      const parked = await queueDepth(statusQueue().deadLetterUrl);
      return waiting === 0 && parked === poisonsBefore ? true : undefined;
    }, 30_000);

    // Assess
    expect(redriven).toMatchObject({ command: 'redrive', moved: poisonsBefore + 2 });
    expect(await order(target.orderId)).toEqual(delivered);
  }, 45_000);
});
