import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { runDlqCommand } from '../../lib/ops/dlq';
import { fetchAs } from '../support/auth';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { type OrderView, placeBoxOrder, startTestSystem } from '../support/local-system';
import { fakeStripeOf, openPayment, payOrder, refundsOf, stripeFor } from '../support/stripe';

/**
 * The whole chain on the local system: a payment confirmed at the fake Stripe -> its webhook -> order PAID -> stream -> outbox relay ->
 * order-events.fifo -> consumer -> FULFILLING + fulfilment saga -> FULFILLED (or compensated, FAILED and
 * refunded), and a poison message through its dead-letter queue and back.
 */
let system: LocalSystem;
let sqs: SQSClient;

interface Execution {
  readonly name: string;
  readonly status: string;
  readonly error?: string;
}

beforeAll(async () => {
  system = await startTestSystem({
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
    queueVisibilityTimeoutSeconds: 1,
  });
  sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
});

afterAll(async () => {
  sqs?.destroy();
  await system?.stop();
});

const CUSTOMER = 'flow';

async function getJson<T>(path: string): Promise<T> {
  return (await (await fetchAs(system, CUSTOMER, path)).json()) as T;
}

function placeOrder(unitPrice: number): Promise<OrderView> {
  return placeBoxOrder(system, CUSTOMER, 2, unitPrice);
}

function pay(order: OrderView): Promise<string> {
  return payOrder(system, CUSTOMER, order.orderId);
}

function orderIn(...statuses: string[]) {
  return (orderId: string) => async () => {
    const view = await getJson<OrderView>(`/orders/${orderId}`);
    return statuses.includes(view.status) ? view : undefined;
  };
}

async function executionOf(orderId: string): Promise<Execution | undefined> {
  const { executions } = await getJson<{ executions: Execution[] }>('/_local/executions');
  return executions.find((execution) => execution.name === `fulfillment-${orderId}`);
}

describe('from payment to fulfilment', () => {
  it('takes an order paid at Stripe to FULFILLED through the outbox and the saga', async () => {
    const order = await placeOrder(1500);

    const paymentId = await pay(order);
    const fulfilled = await eventually(() => orderIn('FULFILLED')(order.orderId)());

    expect(fulfilled.history.map((entry) => entry.status)).toEqual([
      'PENDING_PAYMENT',
      'PAID',
      'FULFILLING',
      'FULFILLED',
    ]);
    expect(fulfilled.payments).toEqual([expect.objectContaining({ paymentId, status: 'SUCCEEDED' })]);
    expect(await executionOf(order.orderId)).toMatchObject({ status: 'SUCCEEDED' });
    expect(system.warehouse?.picks().filter((pick) => pick.orderId === order.orderId)).toHaveLength(1);
    expect(
      system.transport?.shipments().filter((shipment) => shipment.orderId === order.orderId),
    ).toHaveLength(1);
    const { events } = await getJson<{ events: { detailType: string; detail: { orderId: string } }[] }>(
      '/_local/events',
    );
    const published = events
      .filter((event) => event.detail.orderId === order.orderId)
      .map((e) => e.detailType);
    expect(published).toEqual(
      expect.arrayContaining(['OrderPlaced', 'PaymentSucceeded', 'OrderStatusChanged']),
    );
  });

  it('with the warehouse failing every time, compensates, marks FULFILLMENT_FAILED and refunds once', async () => {
    const warehouse = system.warehouse;
    if (warehouse === undefined) throw new Error('no warehouse simulator');
    warehouse.setFailureRate(1);
    try {
      const order = await placeOrder(2500);

      const paymentId = await pay(order);
      const failed = await eventually(async () => {
        const view = await orderIn('FULFILLMENT_FAILED')(order.orderId)();
        return view?.payments.every((payment) => payment.status === 'REFUNDED') ? view : undefined;
      }, 60_000);

      expect(failed.payments).toEqual([expect.objectContaining({ paymentId, status: 'REFUNDED' })]);
      expect(refundsOf(system, paymentId)).toHaveLength(1);
      expect(await executionOf(order.orderId)).toMatchObject({
        status: 'FAILED',
        error: 'FulfillmentFailed',
      });
      expect(warehouse.picks().filter((pick) => pick.orderId === order.orderId)).toHaveLength(0);
    } finally {
      warehouse.setFailureRate(0);
    }
  });
});

describe('a poison message', () => {
  it('reaches the DLQ after its receives while other orders flow, and redrive completes its order', async () => {
    const stuck = await placeOrder(700);
    // The customer cancels with an intent open, then pays it anyway: their cancel leaves the intent at Stripe.
    const { paymentId: latePayment } = await openPayment(system, CUSTOMER, stuck.orderId);
    await fetchAs(system, CUSTOMER, `/orders/${stuck.orderId}/cancel`, { method: 'POST' });
    fakeStripeOf(system).failNextRefunds(1_000);
    const out: string[] = [];
    const dlq = (...args: string[]) => runDlqCommand(args, { sqs, out: (line) => out.push(line) });

    await stripeFor(system).paymentIntents.confirm(latePayment, { payment_method: 'pm_card_visa' });
    const flowing = await placeOrder(900);
    await pay(flowing);
    await eventually(() => orderIn('FULFILLED')(flowing.orderId)());
    const parked = await eventually(async () => {
      const result = await dlq('show', 'order-events.fifo');
      return result.command === 'show' && result.messages.length > 0 ? result : undefined;
    });
    fakeStripeOf(system).failNextRefunds(0);
    const redriven = await dlq('redrive', 'order-events.fifo');
    const refunded = await eventually(async () => {
      const view = await getJson<OrderView>(`/orders/${stuck.orderId}`);
      return view.payments.some((payment) => payment.status === 'REFUNDED') ? view : undefined;
    });

    expect(parked.command === 'show' && parked.messages.map((message) => message.messageGroupId)).toEqual([
      stuck.orderId,
    ]);
    expect(redriven).toMatchObject({ command: 'redrive', moved: 1 });
    expect(refunded.status).toBe('CANCELLED');
    expect(refundsOf(system, latePayment)).toHaveLength(1);
  });
});
