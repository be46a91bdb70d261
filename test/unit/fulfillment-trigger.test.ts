import { describe, expect, it, vi } from 'vitest';
import { type FulfillmentSagaInput, SagaStart } from '../../functions/domain/consumer-ports';
import { type OrderEvent, OrderEventType } from '../../functions/domain/events';
import { decodeOrderEvent, FulfillmentTrigger } from '../../functions/domain/fulfillment-trigger';
import { OrderStatus } from '../../functions/domain/order-status';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import { inMemoryOrderService, T0 } from '../support/in-memory/services';
import { sampleOrder } from '../support/payment-window';

function setup() {
  const { stores, orders, clock } = inMemoryOrderService('01TRIGGER');
  const started: FulfillmentSagaInput[] = [];
  const sagas = {
    start: async (input: FulfillmentSagaInput) => {
      started.push(input);
      return started.length === 1 ? SagaStart.STARTED : SagaStart.ALREADY_STARTED;
    },
  };
  const refunds = new InMemoryPaymentProvider();
  const trigger = new FulfillmentTrigger({ orders: stores.orders, sagas, refunds, clock });
  const placeAt = async (...statuses: OrderStatus[]): Promise<string> => {
    const { order } = await orders.placeOrder(sampleOrder);
    for (const status of statuses) await orders.moveOrder(order.orderId, status, `to ${status}`);
    return order.orderId;
  };
  return { stores, orders, started, refunds, trigger, placeAt };
}

function paymentEvent(
  type: typeof OrderEventType.PAYMENT_SUCCEEDED | typeof OrderEventType.REFUND_REQUESTED,
  orderId: string,
): OrderEvent {
  return {
    type,
    eventId: `pi_1:${type}`,
    orderId,
    occurredAt: T0.toISOString(),
    data: { paymentId: 'pi_1', status: 'SUCCEEDED', amount: 1250, currency: 'EUR' },
  };
}

describe('FulfillmentTrigger on PaymentSucceeded', () => {
  it.each([
    {
      title: 'moves a paid order to FULFILLING, then starts its saga with the payment facts and the lines',
      path: [OrderStatus.PAID],
      sagaRunning: false,
      movedToFulfilling: true,
      saga: 'started',
      lastReason: 'fulfilment started',
    },
    {
      title: 'only starts the saga of an order already FULFILLING',
      path: [OrderStatus.PAID, OrderStatus.FULFILLING],
      sagaRunning: true,
      movedToFulfilling: false,
      saga: 'alreadyStarted',
      lastReason: `to ${OrderStatus.FULFILLING}`,
    },
  ])('$title', async ({ path, sagaRunning, movedToFulfilling, saga, lastReason }) => {
    const { trigger, orders, started, placeAt } = setup();
    const orderId = await placeAt(...path);
    const facts = {
      orderId,
      paymentId: 'pi_1',
      amount: 1250,
      currency: 'EUR',
      items: [{ sku: 'MUG', quantity: 1 }],
    };
    if (sagaRunning) started.push(facts);

    const outcome = await trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    expect(outcome).toEqual({ kind: 'fulfillmentStarted', orderId, movedToFulfilling, saga });
    expect(started).toEqual(sagaRunning ? [facts, facts] : [facts]);
    const { order, history } = await orders.getOrder(orderId);
    expect(order.status).toBe(OrderStatus.FULFILLING);
    expect(history.at(-1)?.reason).toBe(lastReason);
  });

  it.each([
    [OrderStatus.CANCELLED, [OrderStatus.CANCELLED]],
    [OrderStatus.FULFILLED, [OrderStatus.PAID, OrderStatus.FULFILLING, OrderStatus.FULFILLED]],
  ])('acknowledges an event older than an order that is %s, starting nothing', async (status, path) => {
    const { trigger, started, placeAt } = setup();
    const orderId = await placeAt(...path);

    const outcome = await trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    expect(outcome).toEqual({ kind: 'staleEvent', orderId, status });
    expect(started).toEqual([]);
  });

  it('fails, for the dead-letter queue, on an order still awaiting payment', async () => {
    const { trigger, started, placeAt } = setup();
    const orderId = await placeAt();

    const handling = trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    await expect(handling).rejects.toMatchObject({
      code: 'ORDER_NOT_PAID',
      name: 'OrderNotPaidError',
      retryable: false,
      message: `payment succeeded for order ${orderId}, but the order is PENDING_PAYMENT`,
    });
    expect(started).toEqual([]);
  });

  it('moves the order with one conditional write and no read', async () => {
    const { trigger, stores, placeAt } = setup();
    const orderId = await placeAt(OrderStatus.PAID);
    const reading = vi.spyOn(stores.orders, 'get');
    const advancing = vi.spyOn(stores.orders, 'advance');

    await trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    expect(reading).not.toHaveBeenCalled();
    expect(advancing).toHaveBeenCalledTimes(1);
    expect(advancing).toHaveBeenCalledWith(orderId, {
      from: [OrderStatus.PAID],
      to: OrderStatus.FULFILLING,
      at: T0,
      reason: 'fulfilment started',
    });
  });

  it('fails, for redelivery, when the write fails, starting nothing', async () => {
    const { trigger, stores, started, placeAt } = setup();
    const orderId = await placeAt(OrderStatus.PAID);
    const failure = new Error('table unavailable');
    vi.spyOn(stores.orders, 'advance').mockRejectedValue(failure);

    await expect(trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId))).rejects.toBe(
      failure,
    );
    expect(started).toEqual([]);
  });

  it('fails on an order that does not exist, starting nothing', async () => {
    const { trigger, started } = setup();

    await expect(
      trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, '01TRIGGERMISSING')),
    ).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
    expect(started).toEqual([]);
  });
});

describe('FulfillmentTrigger on other events', () => {
  it('requests the refund of a RefundRequested under a key of the payment', async () => {
    const { trigger, refunds } = setup();
    const paid = await refunds.createIntent(
      { orderId: '01ORDER', amount: 1250, currency: 'EUR' },
      'intent-1',
    );
    refunds.pay(paid.paymentId);

    const outcome = await trigger.handle(paymentEvent(OrderEventType.REFUND_REQUESTED, '01ORDER'));
    const again = await trigger.handle(paymentEvent(OrderEventType.REFUND_REQUESTED, '01ORDER'));

    expect(outcome).toEqual({
      kind: 'refundRequested',
      orderId: '01ORDER',
      paymentId: 'pi_1',
      refundId: 're_1',
    });
    expect(again).toEqual(outcome);
    expect(refunds.refundKeys).toEqual(['refund-pi_1', 'refund-pi_1']);
    expect(await refunds.refundsOf('pi_1')).toEqual([
      { refundId: 're_1', paymentId: 'pi_1', status: 'pending' },
    ]);
  });

  it("acknowledges another consumer's event", async () => {
    const { trigger } = setup();
    const event: OrderEvent = {
      type: OrderEventType.ORDER_STATUS_CHANGED,
      eventId: '01ORDER:v2',
      orderId: '01ORDER',
      occurredAt: T0.toISOString(),
      version: 2,
      data: { from: OrderStatus.PENDING_PAYMENT, to: OrderStatus.CANCELLED },
    };

    expect(await trigger.handle(event)).toEqual({
      kind: 'notForThisConsumer',
      orderId: '01ORDER',
      type: 'OrderStatusChanged',
    });
  });
});

describe('decodeOrderEvent', () => {
  it('decodes an event of the catalogue', () => {
    const event = paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, '01ORDER');

    expect(decodeOrderEvent(JSON.stringify(event))).toEqual(event);
  });

  it('names the rule a lower-case currency breaks', () => {
    // Prepare
    const event = paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, '01ORDER');

    // Act
    const decoding = () =>
      decodeOrderEvent(JSON.stringify({ ...event, data: { ...event.data, currency: 'eur' } }));

    // Assess
    expect(decoding).toThrow(
      expect.objectContaining({
        issues: [{ path: 'data/currency', message: 'must be a three-letter ISO 4217 code such as EUR' }],
      }),
    );
  });

  it('refuses an OrderPlaced below version 1', () => {
    // Prepare
    const placed = {
      type: OrderEventType.ORDER_PLACED,
      eventId: '01ORDER:v0',
      orderId: '01ORDER',
      occurredAt: T0.toISOString(),
      version: 0,
      data: { customerId: 'c-1', totalAmount: 1250, currency: 'EUR', paymentDeadline: T0.toISOString() },
    };

    // Act
    const decoding = () => decodeOrderEvent(JSON.stringify(placed));

    // Assess
    expect(decoding).toThrow(expect.objectContaining({ code: 'INVALID_ORDER_EVENT' }));
    expect(decodeOrderEvent(JSON.stringify({ ...placed, version: 2 }))).toMatchObject({ version: 2 });
  });

  it('refuses a body that is not JSON, or not an event, naming the problem', () => {
    expect(() => decodeOrderEvent('{')).toThrow(expect.objectContaining({ code: 'INVALID_ORDER_EVENT' }));
    expect(() => decodeOrderEvent(JSON.stringify({ type: 'Nope' }))).toThrow(
      expect.objectContaining({
        code: 'INVALID_ORDER_EVENT',
        name: 'InvalidOrderEventError',
        retryable: false,
        message: expect.stringMatching(/^not an order event: /),
      }),
    );
  });
});
