import { describe, expect, it, vi } from 'vitest';
import { ConcurrentModificationError } from '../../functions/domain/errors';
import type { PickLine, Transport, Warehouse } from '../../functions/domain/fulfillment-ports';
import {
  FulfillmentOrders,
  FulfillmentOutcomes,
  SagaStep,
  TransportParticipant,
  WarehouseParticipant,
} from '../../functions/domain/fulfillment-service';
import { OrderStatus } from '../../functions/domain/order-status';
import { PaymentFactSource, PaymentStatus, RefundReason } from '../../functions/domain/payment';
import { SagaLedger, type StepResult } from '../../functions/domain/saga-ledger';
import { InMemoryLedgerStore } from '../fixtures/saga/ledger-model';
import { InMemoryPaymentProvider } from '../support/in-memory/outside';
import { inMemoryOrderService, inMemoryPaymentService, T0 } from '../support/in-memory/services';
import { sampleOrder, secondsAfter } from '../support/payment-window';

const TWO_LINES = [
  { sku: 'MUG', quantity: 2, unitPrice: 500 },
  { sku: 'TEA', quantity: 1, unitPrice: 250 },
];

/** A ledger store whose entries a test may overwrite, as a hand edit or a bug would. */
class EditableLedgerStore extends InMemoryLedgerStore {
  public overwriteResult(orderId: string, step: string, result: StepResult): void {
    const key = this.key({ orderId, step });
    const entry = this.entries.get(key);
    if (entry !== undefined) this.entries.set(key, { ...entry, result });
  }
}

function setup() {
  const base = inMemoryOrderService('01FULFIL');
  const { clock, stores, orders } = base;
  const { payments, provider } = inMemoryPaymentService(base, {
    provider: new InMemoryPaymentProvider({
      now: () => clock.now(),
      paymentIdFor: (orderId) => `pi_${orderId}`,
    }),
  });
  const ledgerStore = new EditableLedgerStore();
  const ledger = new SagaLedger({ store: ledgerStore, now: () => clock.now() });
  /** A paid order of {@link TWO_LINES} moved on through `statuses`; its payment is `pi_<orderId>`. */
  const paidOrder = async (...statuses: OrderStatus[]): Promise<string> => {
    const { order } = await orders.placeOrder({ ...sampleOrder, items: TWO_LINES });
    const { intent } = await payments.preparePayment(order.orderId, order.customerId);
    await payments.handleProviderEvent(provider.pay(intent.paymentId), PaymentFactSource.WEBHOOK);
    for (const status of statuses) await orders.moveOrder(order.orderId, status, `to ${status}`);
    return order.orderId;
  };
  const outcomes = new FulfillmentOutcomes({ orders: stores.orders, payments: stores.payments, clock });
  const fulfillmentOrders = new FulfillmentOrders({ ledger, orders: stores.orders, clock });
  return { clock, stores, orders, ledger, ledgerStore, paidOrder, outcomes, fulfillmentOrders };
}

async function statusOf(stores: ReturnType<typeof setup>['stores'], orderId: string) {
  return (await stores.orders.get(orderId))?.order.status;
}

describe('FulfillmentOrders', () => {
  it('moves a paid order to FULFILLING and derives one fulfilment order of its lines', async () => {
    const { fulfillmentOrders, stores, paidOrder } = setup();
    const orderId = await paidOrder();

    const created = await fulfillmentOrders.create(orderId);
    const again = await fulfillmentOrders.create(orderId);

    expect(created).toEqual({
      fulfillmentOrderId: `FO-${orderId}`,
      orderId,
      items: [
        { sku: 'MUG', quantity: 2 },
        { sku: 'TEA', quantity: 1 },
      ],
    });
    expect(again).toEqual(created);
    const stored = await stores.orders.get(orderId);
    expect(stored?.order.status).toBe(OrderStatus.FULFILLING);
    expect(stored?.history.at(-1)?.reason).toBe('fulfilment started');
  });

  it('accepts an order the consumer moved to FULFILLING already', async () => {
    const { fulfillmentOrders, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);

    await fulfillmentOrders.create(orderId);

    expect((await stores.orders.get(orderId))?.history).toHaveLength(3);
  });

  it('records the fulfilment order from the lines the saga started with, without reading the order', async () => {
    const { fulfillmentOrders, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    const reading = vi.spyOn(stores.orders, 'get');
    const lines = [{ sku: 'MUG', quantity: 2 }];

    const created = await fulfillmentOrders.create(orderId, lines);
    const again = await fulfillmentOrders.create(orderId, [{ sku: 'OTHER', quantity: 9 }]);

    expect(created).toEqual({ fulfillmentOrderId: `FO-${orderId}`, orderId, items: lines });
    expect(again).toEqual(created);
    expect(reading).not.toHaveBeenCalled();
  });

  it('refuses a late create after its cancel without reading the order', async () => {
    const { fulfillmentOrders, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    await fulfillmentOrders.cancel(orderId);
    const reading = vi.spyOn(stores.orders, 'get');

    await expect(fulfillmentOrders.create(orderId, [{ sku: 'MUG', quantity: 2 }])).rejects.toMatchObject({
      code: 'SAGA_STEP_COMPENSATED',
    });
    expect(reading).not.toHaveBeenCalled();
  });

  it('refuses an order that is neither paid nor fulfilling, or missing', async () => {
    const { fulfillmentOrders, orders } = setup();
    const { order } = await orders.placeOrder(sampleOrder);

    await expect(fulfillmentOrders.create(order.orderId)).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
      from: OrderStatus.PENDING_PAYMENT,
      to: OrderStatus.FULFILLING,
    });
    await expect(fulfillmentOrders.create('01MISSING')).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });

  it('reads again after losing the move to the consumer', async () => {
    const { fulfillmentOrders, stores, orders, paidOrder } = setup();
    const orderId = await paidOrder();
    const save = stores.orders.saveTransition.bind(stores.orders);
    const saving = vi.spyOn(stores.orders, 'saveTransition').mockImplementationOnce(async (...args) => {
      await orders.moveOrder(orderId, OrderStatus.FULFILLING, 'the consumer won');
      return await save(...args);
    });

    const created = await fulfillmentOrders.create(orderId);

    expect(created.orderId).toBe(orderId);
    expect(saving).toHaveBeenCalledTimes(2);
    expect((await stores.orders.get(orderId))?.history.at(-1)?.reason).toBe('the consumer won');
  });

  it('gives up entering FULFILLING after five lost races', async () => {
    const { fulfillmentOrders, stores, paidOrder } = setup();
    const orderId = await paidOrder();
    const saving = vi
      .spyOn(stores.orders, 'saveTransition')
      .mockRejectedValue(new ConcurrentModificationError(orderId));

    await expect(fulfillmentOrders.create(orderId)).rejects.toMatchObject({
      code: 'CONCURRENT_MODIFICATION',
    });
    expect(saving).toHaveBeenCalledTimes(5);
  });

  it('cancels by compensating its ledger entry, after which a create is refused', async () => {
    const { fulfillmentOrders, paidOrder } = setup();
    const orderId = await paidOrder();

    const outcome = await fulfillmentOrders.cancel(orderId);

    expect(outcome).toEqual({ from: 'NOTHING', empty: true });
    await expect(fulfillmentOrders.create(orderId)).rejects.toMatchObject({ code: 'SAGA_STEP_COMPENSATED' });
  });

  it('refuses a stored result that is not a fulfilment order', async () => {
    const { fulfillmentOrders, ledgerStore, paidOrder } = setup();
    const orderId = await paidOrder();
    await fulfillmentOrders.create(orderId);
    ledgerStore.overwriteResult(orderId, SagaStep.FULFILLMENT_ORDER, { orderId, items: [] });

    await expect(fulfillmentOrders.create(orderId)).rejects.toMatchObject({
      code: 'FULFILLMENT_CORRUPT_STEP_RESULT',
      retryable: false,
      name: 'CorruptStepResultError',
      message: `the stored result of step fulfillment-order of order ${orderId} is malformed`,
      cause: expect.anything(),
    });
  });
});

describe('the logistics participants', () => {
  function logistics() {
    const calls: string[] = [];
    const warehouse: Warehouse = {
      pick: async (orderId: string, items: readonly PickLine[], key: string) => {
        calls.push(`pick ${orderId} ${JSON.stringify(items)} ${key}`);
        return { pickId: `pk_${calls.length}`, extra: 'not kept' } as { pickId: string };
      },
      returnGoods: async (orderId: string, key: string) => {
        calls.push(`return ${orderId} ${key}`);
      },
    };
    const transport: Transport = {
      ship: async (orderId: string, key: string) => {
        calls.push(`ship ${orderId} ${key}`);
        return { shipmentId: 'sh_1', trackingNumber: 'TR1', extra: 'not kept' } as {
          shipmentId: string;
          trackingNumber: string;
        };
      },
      cancel: async (orderId: string, key: string) => {
        calls.push(`cancel ${orderId} ${key}`);
      },
    };
    return { calls, warehouse, transport };
  }

  it('picks once under the step key, keeping only the pick id, and returns the goods under the same key', async () => {
    const { ledger, ledgerStore } = setup();
    const { calls, warehouse } = logistics();
    const participant = new WarehouseParticipant({ ledger, warehouse });
    const items = [{ sku: 'MUG', quantity: 2 }];

    const first = await participant.pick('01ORDER', items);
    const again = await participant.pick('01ORDER', items);
    const undone = await participant.returnGoods('01ORDER');

    expect(first).toEqual({ pickId: 'pk_1' });
    expect(again).toEqual(first);
    expect(undone).toEqual({ from: 'DONE', empty: false });
    expect(calls).toEqual([
      `pick 01ORDER ${JSON.stringify(items)} 01ORDER:warehouse-pick`,
      'return 01ORDER 01ORDER:warehouse-pick',
    ]);
    expect(await ledgerStore.get({ orderId: '01ORDER', step: 'warehouse-pick' })).toMatchObject({
      result: { pickId: 'pk_1' },
    });
  });

  it('ships once under the step key, keeping only the shipment, and cancels under the same key', async () => {
    const { ledger, ledgerStore } = setup();
    const { calls, transport } = logistics();
    const participant = new TransportParticipant({ ledger, transport });

    const first = await participant.ship('01ORDER');
    const again = await participant.ship('01ORDER');
    const undone = await participant.cancel('01ORDER');

    expect(first).toEqual({ shipmentId: 'sh_1', trackingNumber: 'TR1' });
    expect(again).toEqual(first);
    expect(undone).toEqual({ from: 'DONE', empty: false });
    expect(calls).toEqual(['ship 01ORDER 01ORDER:transport-ship', 'cancel 01ORDER 01ORDER:transport-ship']);
    expect(await ledgerStore.get({ orderId: '01ORDER', step: 'transport-ship' })).toMatchObject({
      result: { shipmentId: 'sh_1', trackingNumber: 'TR1' },
    });
  });

  it('refuses malformed stored results of a pick or a shipment', async () => {
    const { ledger, ledgerStore } = setup();
    const { warehouse, transport } = logistics();
    const picker = new WarehouseParticipant({ ledger, warehouse });
    const shipper = new TransportParticipant({ ledger, transport });
    await picker.pick('01ORDER', [{ sku: 'MUG', quantity: 1 }]);
    await shipper.ship('01ORDER');
    ledgerStore.overwriteResult('01ORDER', SagaStep.PICK, { pickId: '' });
    ledgerStore.overwriteResult('01ORDER', SagaStep.SHIP, { shipmentId: 'sh_1', trackingNumber: '' });

    await expect(picker.pick('01ORDER', [])).rejects.toMatchObject({
      code: 'FULFILLMENT_CORRUPT_STEP_RESULT',
    });
    await expect(shipper.ship('01ORDER')).rejects.toMatchObject({ code: 'FULFILLMENT_CORRUPT_STEP_RESULT' });
  });
});

describe('FulfillmentOutcomes', () => {
  it('marks a fulfilling order FULFILLED once', async () => {
    const { outcomes, stores, clock, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    clock.set(secondsAfter(T0, 30));

    const first = await outcomes.markFulfilled(orderId);
    const again = await outcomes.markFulfilled(orderId);

    expect([first, again]).toEqual(['fulfilled', 'alreadyFulfilled']);
    expect((await stores.orders.get(orderId))?.history.at(-1)).toMatchObject({
      to: OrderStatus.FULFILLED,
      at: secondsAfter(T0, 30).toISOString(),
      reason: 'fulfilment saga completed',
    });
  });

  it.each([
    [OrderStatus.FULFILLING, false],
    [OrderStatus.FULFILLED, true],
    [OrderStatus.OUTBOUND, true],
    [OrderStatus.SHIPPED, true],
    [OrderStatus.DELIVERED, true],
  ])(
    'tells whether an order that is %s is fulfilled (%s), and leaves it alone',
    async (status, fulfilled) => {
      const { outcomes, stores, paidOrder } = setup();
      const path = [OrderStatus.FULFILLING, OrderStatus.FULFILLED, status].filter(
        (step, index, all) => all.indexOf(step) === index,
      );
      const orderId = await paidOrder(...path.slice(0, path.indexOf(status) + 1));

      expect(await outcomes.isFulfilled(orderId)).toBe(fulfilled);
      if (fulfilled) {
        expect(await outcomes.markFulfilled(orderId)).toBe('alreadyFulfilled');
        expect(await statusOf(stores, orderId)).toBe(status);
      }
    },
  );

  it('reports a missing order as not found', async () => {
    const { outcomes } = setup();

    await expect(outcomes.isFulfilled('01MISSING')).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });

  it('moves FULFILLING to FULFILLED in one write without a read, and refuses any other status', async () => {
    const { outcomes, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    const failed = await paidOrder(OrderStatus.FULFILLING, OrderStatus.FULFILLMENT_FAILED);
    const reading = vi.spyOn(stores.orders, 'get');
    const advancing = vi.spyOn(stores.orders, 'advance');

    expect(await outcomes.markFulfilled(orderId)).toBe('fulfilled');
    expect(reading).not.toHaveBeenCalled();
    expect(advancing).toHaveBeenCalledTimes(1);
    await expect(outcomes.markFulfilled(failed)).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
    expect(await statusOf(stores, failed)).toBe(OrderStatus.FULFILLMENT_FAILED);
    await expect(outcomes.markFulfilled('01MISSING')).rejects.toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });

  it('fails the order and owes a refund of its payment, together', async () => {
    const { outcomes, stores, clock, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    clock.set(secondsAfter(T0, 40));

    const first = await outcomes.markFailed(orderId, `pi_${orderId}`, 'out of stock');
    const again = await outcomes.markFailed(orderId, `pi_${orderId}`, 'out of stock');

    expect([first, again]).toEqual(['failedWithRefund', 'alreadyFailed']);
    const stored = await stores.orders.get(orderId);
    expect(stored?.history.at(-1)).toMatchObject({
      to: OrderStatus.FULFILLMENT_FAILED,
      reason: 'out of stock',
    });
    expect(stored?.payments).toEqual([
      expect.objectContaining({
        status: PaymentStatus.REFUND_PENDING,
        refundReason: RefundReason.FULFILLMENT_FAILED,
        updatedAt: secondsAfter(T0, 40).toISOString(),
      }),
    ]);
  });

  it('fails an order still PAID by entering FULFILLING first', async () => {
    const { outcomes, stores, paidOrder } = setup();
    const orderId = await paidOrder();

    expect(await outcomes.markFailed(orderId, `pi_${orderId}`, 'no stock')).toBe('failedWithRefund');
    expect((await stores.orders.get(orderId))?.history.map((entry) => entry.to)).toEqual([
      OrderStatus.PENDING_PAYMENT,
      OrderStatus.PAID,
      OrderStatus.FULFILLING,
      OrderStatus.FULFILLMENT_FAILED,
    ]);
  });

  it('only fails the order when its payment owes nothing more', async () => {
    const { outcomes, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);
    const payment = await stores.payments.get(orderId, `pi_${orderId}`);
    if (payment === undefined) throw new Error('the paid order has no payment');
    stores.table.putPayment({ ...payment, status: PaymentStatus.REFUNDED });

    expect(await outcomes.markFailed(orderId, `pi_${orderId}`, 'no stock')).toBe('failedWithoutRefund');
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.FULFILLMENT_FAILED);
    expect((await stores.payments.get(orderId, `pi_${orderId}`))?.status).toBe(PaymentStatus.REFUNDED);
  });

  it('refuses a payment the order does not have, for a person to look at', async () => {
    const { outcomes, stores, paidOrder } = setup();
    const orderId = await paidOrder(OrderStatus.FULFILLING);

    await expect(outcomes.markFailed(orderId, 'pi_other', 'no stock')).rejects.toMatchObject({
      code: 'FULFILLMENT_PAYMENT_NOT_FOUND',
      retryable: false,
      name: 'FulfillmentPaymentNotFoundError',
      message: `order ${orderId} has no payment pi_other`,
    });
    expect(await statusOf(stores, orderId)).toBe(OrderStatus.FULFILLING);
  });

  it('decides again after the refund write lost its race, and gives up after five', async () => {
    const { outcomes, stores, paidOrder } = setup();
    const once = await paidOrder(OrderStatus.FULFILLING);
    const always = await paidOrder(OrderStatus.FULFILLING);
    const record = stores.payments.recordPaymentWithTransition.bind(stores.payments);
    let lostOnce = false;
    const writing = vi
      .spyOn(stores.payments, 'recordPaymentWithTransition')
      .mockImplementation(async (payment, ...rest) => {
        if (payment.orderId === always || !lostOnce) {
          lostOnce = true;
          return { kind: 'orderChanged' };
        }
        return await record(payment, ...rest);
      });

    expect(await outcomes.markFailed(once, `pi_${once}`, 'no stock')).toBe('failedWithRefund');
    await expect(outcomes.markFailed(always, `pi_${always}`, 'no stock')).rejects.toMatchObject({
      code: 'CONCURRENT_MODIFICATION',
    });
    expect(writing).toHaveBeenCalledTimes(2 + 5);
  });
});
