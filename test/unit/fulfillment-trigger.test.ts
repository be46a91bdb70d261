import { describe, expect, it, vi } from 'vitest';
import { type FulfillmentSagaInput, SagaStart } from '../../functions/domain/consumer-ports';
import { ConcurrentModificationError } from '../../functions/domain/errors';
import { type OrderEvent, OrderEventType } from '../../functions/domain/events';
import { decodeOrderEvent, FulfillmentTrigger } from '../../functions/domain/fulfillment-trigger';
import { OrderStatus } from '../../functions/domain/order-status';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import { inMemoryOrderService, T0 } from '../support/in-memory/services';
import { sampleOrder } from '../support/payment-window';

function setup(options: { readonly maxMoveAttempts?: number } = {}) {
  const { stores, orders } = inMemoryOrderService('01TRIGGER');
  const started: FulfillmentSagaInput[] = [];
  const sagas = {
    start: async (input: FulfillmentSagaInput) => {
      started.push(input);
      return started.length === 1 ? SagaStart.STARTED : SagaStart.ALREADY_STARTED;
    },
  };
  const refunds = new InMemoryPaymentProvider();
  const trigger = new FulfillmentTrigger({ orders, sagas, refunds, ...options });
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
      title: 'moves a paid order to FULFILLING, then starts its saga with the payment facts',
      path: [OrderStatus.PAID],
      sagaRunning: false,
      movedToFulfilling: true,
      saga: 'started',
      lastReason: 'payment pi_1 succeeded',
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
    const facts = { orderId, paymentId: 'pi_1', amount: 1250, currency: 'EUR' };
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

  it('reads again after losing the move to a duplicate delivery, and starts the saga', async () => {
    const { trigger, orders, started, placeAt } = setup();
    const orderId = await placeAt(OrderStatus.PAID);
    const move = orders.moveOrder.bind(orders);
    const moving = vi.spyOn(orders, 'moveOrder').mockImplementationOnce(async (...args) => {
      await move(orderId, OrderStatus.FULFILLING, 'the duplicate won');
      return await move(...args);
    });

    const outcome = await trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    expect(outcome).toMatchObject({ kind: 'fulfillmentStarted', movedToFulfilling: false });
    expect(moving).toHaveBeenCalledTimes(1);
    expect(started).toHaveLength(1);
  });

  it('gives up, to be retried later, after the configured attempts all lost a race', async () => {
    const { trigger, orders, started, placeAt } = setup({ maxMoveAttempts: 2 });
    const orderId = await placeAt(OrderStatus.PAID);
    const conflict = new ConcurrentModificationError(orderId);
    const moving = vi.spyOn(orders, 'moveOrder').mockRejectedValue(conflict);

    const handling = trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId));

    await expect(handling).rejects.toMatchObject({
      code: 'ORDER_KEEPS_CHANGING',
      name: 'OrderKeepsChangingError',
      retryable: true,
      cause: conflict,
      message: `order ${orderId} changed under each of 2 attempts to move it to FULFILLING`,
    });
    expect(moving).toHaveBeenCalledTimes(2);
    expect(started).toEqual([]);
  });

  it('tries three times by default', async () => {
    const { trigger, orders, placeAt } = setup();
    const orderId = await placeAt(OrderStatus.PAID);
    const moving = vi.spyOn(orders, 'moveOrder').mockRejectedValue(new ConcurrentModificationError(orderId));

    await expect(
      trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId)),
    ).rejects.toMatchObject({
      code: 'ORDER_KEEPS_CHANGING',
    });
    expect(moving).toHaveBeenCalledTimes(3);
  });

  it('does not retry a failure that is not a lost race', async () => {
    const { trigger, orders, placeAt } = setup();
    const orderId = await placeAt(OrderStatus.PAID);
    const failure = new Error('table unavailable');
    const moving = vi.spyOn(orders, 'moveOrder').mockRejectedValue(failure);

    await expect(trigger.handle(paymentEvent(OrderEventType.PAYMENT_SUCCEEDED, orderId))).rejects.toBe(
      failure,
    );
    expect(moving).toHaveBeenCalledTimes(1);
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
