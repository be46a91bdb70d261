import * as z from 'zod/mini';
import { CONFLICT_ATTEMPTS, retryOnConflict } from './conflict-retry';
import {
  AppError,
  ConcurrentModificationError,
  ErrorCode,
  InvalidTransitionError,
  OrderNotFoundError,
} from './errors';
import type { PickLine, PickReceipt, ShipmentReceipt, Transport, Warehouse } from './fulfillment-ports';
import { type Order, transition } from './order';
import { OrderStatus } from './order-status';
import { type Payment, PaymentFactSource, PaymentStatus, RefundReason } from './payment';
import type { Clock, OrderAdvances, OrderRepository, PaymentRepository } from './ports';
import type { CompensationOutcome, SagaLedger, StepResult } from './saga-ledger';
import { parseWith } from './validation';

/**
 * The participants of the fulfilment saga (`state-machines/fulfillment.asl.json`): one small class per Lambda,
 * so each function builds only the clients it uses. Every action and compensation goes through the step
 * ledger, which makes it idempotent, lets a compensation run before (or without) its action, and refuses an
 * action that arrives after its compensation.
 */

/** The saga's steps; each names one ledger entry per order. */
export const SagaStep = {
  FULFILLMENT_ORDER: 'fulfillment-order',
  PICK: 'warehouse-pick',
  SHIP: 'transport-ship',
} as const;

export type SagaStep = (typeof SagaStep)[keyof typeof SagaStep];

/** Our own record of what is to be fulfilled; it lives in its step's ledger entry as the action's result. */
export interface FulfillmentOrder {
  readonly fulfillmentOrderId: string;
  readonly orderId: string;
  readonly items: readonly PickLine[];
}

/** One line of goods as the saga passes it on (an order's line without its price). */
export const pickLineSchema = z.object({
  sku: z.string().check(z.minLength(1)),
  quantity: z.number().check(z.int(), z.gte(1)),
});
const fulfillmentOrderResult = z.object({
  fulfillmentOrderId: z.string().check(z.minLength(1)),
  orderId: z.string().check(z.minLength(1)),
  items: z.array(pickLineSchema).check(z.minLength(1)),
});
const pickResult = z.object({ pickId: z.string().check(z.minLength(1)) });
const shipmentResult = z.object({
  shipmentId: z.string().check(z.minLength(1)),
  trackingNumber: z.string().check(z.minLength(1)),
});

/** The saga names a payment the order does not have, so there is nothing we could refund. Needs a human. */
export class FulfillmentPaymentNotFoundError extends AppError {
  public override readonly name = 'FulfillmentPaymentNotFoundError';
  public readonly code = ErrorCode.FULFILLMENT_PAYMENT_NOT_FOUND;
  public readonly retryable = false;

  public constructor(
    public readonly orderId: string,
    public readonly paymentId: string,
  ) {
    super(`order ${orderId} has no payment ${paymentId}`);
  }
}

/** A ledger entry's stored result is not what its step writes: a bug or a hand edit, never transient. */
export class CorruptStepResultError extends AppError {
  public override readonly name = 'CorruptStepResultError';
  public readonly code = ErrorCode.FULFILLMENT_CORRUPT_STEP_RESULT;
  public readonly retryable = false;

  public constructor(step: SagaStep, orderId: string, options?: ErrorOptions) {
    super(`the stored result of step ${step} of order ${orderId} is malformed`, options);
  }
}

function parseResult<T>(schema: z.core.$ZodType<T>, step: SagaStep, orderId: string, result: StepResult): T {
  return parseWith(schema, result, (_issues, cause) => new CorruptStepResultError(step, orderId, { cause }));
}

const FULFILLED_OR_LATER: readonly OrderStatus[] = [
  OrderStatus.FULFILLED,
  OrderStatus.OUTBOUND,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
];

async function readOrder(orders: OrderRepository, orderId: string) {
  const found = await orders.get(orderId);
  if (found === undefined) throw new OrderNotFoundError(orderId);
  return found;
}

/**
 * Moves a PAID order to FULFILLING. The order-events consumer may already have done so before starting the
 * saga; either writer may go first, and the conditional write makes the loser re-read and find FULFILLING.
 */
async function enterFulfilling(orders: OrderRepository, clock: Clock, orderId: string): Promise<Order> {
  return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, () =>
    enterFulfillingOnce(orders, clock, orderId),
  );
}

/** One read-decide-write round of {@link enterFulfilling}, for callers whose own round already retries. */
async function enterFulfillingOnce(orders: OrderRepository, clock: Clock, orderId: string): Promise<Order> {
  const { order } = await readOrder(orders, orderId);
  if (order.status === OrderStatus.FULFILLING) return order;
  if (order.status !== OrderStatus.PAID) {
    throw new InvalidTransitionError(orderId, order.status, OrderStatus.FULFILLING);
  }
  const decided = transition(order, OrderStatus.FULFILLING, clock.now(), 'fulfilment started');
  await orders.saveTransition(order, decided.next, decided.transition);
  return decided.next;
}

export interface FulfillmentOrdersDependencies {
  readonly ledger: SagaLedger;
  readonly orders: OrderRepository;
  readonly clock: Clock;
}

/** The `fulfillment-order` participant: our own fulfilment order, kept in its ledger entry. */
export class FulfillmentOrders {
  public constructor(private readonly dependencies: FulfillmentOrdersDependencies) {}

  /**
   * Creates the fulfilment order of a paid order (once; a repeat returns the first one). Its only effects are the
   * order's move to FULFILLING (a conditional write a repeat finds made) and the record itself, so the ledger
   * records it DONE in one write, without a claim (`SagaLedger.record`).
   *
   * `lines` are the order's lines when the saga's input carries them: the consumer that started the saga moved
   * the order to FULFILLING first and its move answered with the order, so there is nothing to read or move. A
   * saga started without them (by an older consumer) reads the order and moves a still PAID one itself.
   */
  public async create(orderId: string, lines?: readonly PickLine[]): Promise<FulfillmentOrder> {
    const { ledger, orders, clock } = this.dependencies;
    const result = await ledger.record({ orderId, step: SagaStep.FULFILLMENT_ORDER }, async () => {
      const items = lines ?? (await enterFulfilling(orders, clock, orderId)).items;
      return {
        // One fulfilment order per order: its id is derived, so a crashed attempt's retry builds the same one.
        fulfillmentOrderId: `FO-${orderId}`,
        orderId,
        items: items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
      };
    });
    return parseResult(fulfillmentOrderResult, SagaStep.FULFILLMENT_ORDER, orderId, result);
  }

  /**
   * Cancels the fulfilment order. The record is the ledger entry itself, so marking it COMPENSATED is the
   * whole undo; an in-flight create then loses its DONE write and is refused.
   */
  public async cancel(orderId: string): Promise<CompensationOutcome> {
    return await this.dependencies.ledger.compensate(
      { orderId, step: SagaStep.FULFILLMENT_ORDER },
      async () => undefined,
    );
  }
}

export interface WarehouseParticipantDependencies {
  readonly ledger: SagaLedger;
  readonly warehouse: Warehouse;
}

/** The `warehouse-pick` participant. */
export class WarehouseParticipant {
  public constructor(private readonly dependencies: WarehouseParticipantDependencies) {}

  public async pick(orderId: string, items: readonly PickLine[]): Promise<PickReceipt> {
    const { ledger, warehouse } = this.dependencies;
    const result = await ledger.execute({ orderId, step: SagaStep.PICK }, async (key) => {
      const receipt = await warehouse.pick(orderId, items, key);
      return { pickId: receipt.pickId };
    });
    return parseResult(pickResult, SagaStep.PICK, orderId, result);
  }

  public async returnGoods(orderId: string): Promise<CompensationOutcome> {
    const { ledger, warehouse } = this.dependencies;
    return await ledger.compensate({ orderId, step: SagaStep.PICK }, (key) =>
      warehouse.returnGoods(orderId, key),
    );
  }
}

export interface TransportParticipantDependencies {
  readonly ledger: SagaLedger;
  readonly transport: Transport;
}

/** The `transport-ship` participant. */
export class TransportParticipant {
  public constructor(private readonly dependencies: TransportParticipantDependencies) {}

  public async ship(orderId: string): Promise<ShipmentReceipt> {
    const { ledger, transport } = this.dependencies;
    const result = await ledger.execute({ orderId, step: SagaStep.SHIP }, async (key) => {
      const receipt = await transport.ship(orderId, key);
      return { shipmentId: receipt.shipmentId, trackingNumber: receipt.trackingNumber };
    });
    return parseResult(shipmentResult, SagaStep.SHIP, orderId, result);
  }

  public async cancel(orderId: string): Promise<CompensationOutcome> {
    const { ledger, transport } = this.dependencies;
    return await ledger.compensate({ orderId, step: SagaStep.SHIP }, (key) => transport.cancel(orderId, key));
  }
}

export interface FulfillmentOutcomesDependencies {
  readonly orders: OrderRepository & OrderAdvances;
  readonly payments: PaymentRepository;
  readonly clock: Clock;
}

export type FulfilledOutcome = 'fulfilled' | 'alreadyFulfilled';
export type FailedOutcome = 'failedWithRefund' | 'failedWithoutRefund' | 'alreadyFailed';

/**
 * The `fulfillment-outcome` participant: the saga's last word on the order. Both outcomes are conditional
 * writes on the order's status and version, and idempotent: a repeat finds the order already moved.
 */
export class FulfillmentOutcomes {
  public constructor(private readonly dependencies: FulfillmentOutcomesDependencies) {}

  /**
   * Whether the order is FULFILLED or later. The saga asks before it compensates a failed `markFulfilled`,
   * whose write may have landed although its answer was lost: a fulfilled order's goods must not be undone.
   */
  public async isFulfilled(orderId: string): Promise<boolean> {
    const { order } = await readOrder(this.dependencies.orders, orderId);
    return FULFILLED_OR_LATER.includes(order.status);
  }

  /**
   * FULFILLING -> FULFILLED in one conditional write and no read: the stored status alone decides, and a refused
   * move returns the order as it stood. An order already FULFILLED (or moved on by logistics events) is left
   * alone; any other status cannot become FULFILLED.
   */
  public async markFulfilled(orderId: string): Promise<FulfilledOutcome> {
    const { orders, clock } = this.dependencies;
    const { moved, order } = await orders.advance(orderId, {
      from: [OrderStatus.FULFILLING],
      to: OrderStatus.FULFILLED,
      at: clock.now(),
      reason: 'fulfilment saga completed',
    });
    if (moved) return 'fulfilled';
    if (FULFILLED_OR_LATER.includes(order.status)) return 'alreadyFulfilled';
    throw new InvalidTransitionError(orderId, order.status, OrderStatus.FULFILLED);
  }

  /**
   * FULFILLING -> FULFILLMENT_FAILED and the order's SUCCEEDED payment -> REFUND_PENDING (reason
   * FULFILLMENT_FAILED), in one transaction, so the refund is owed if and only if the order failed. The refund
   * itself is requested from the resulting stream record, not here. A payment that is no longer SUCCEEDED
   * (already refunding, refunded) owes nothing more and only the order moves. An order still PAID (the saga
   * failed before it entered FULFILLING) is moved to FULFILLING first, so the failure is recorded all the same.
   */
  public async markFailed(orderId: string, paymentId: string, reason: string): Promise<FailedOutcome> {
    const { orders, payments, clock } = this.dependencies;
    return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, async () => {
      let found = await readOrder(orders, orderId);
      if (found.order.status === OrderStatus.PAID) {
        await enterFulfillingOnce(orders, clock, orderId);
        found = await readOrder(orders, orderId);
      }
      const { order, payments: recorded } = found;
      if (order.status === OrderStatus.FULFILLMENT_FAILED) return 'alreadyFailed';
      const now = clock.now();
      const decided = transition(order, OrderStatus.FULFILLMENT_FAILED, now, reason);
      const payment = recorded.find((candidate) => candidate.paymentId === paymentId);
      if (payment === undefined) throw new FulfillmentPaymentNotFoundError(orderId, paymentId);
      if (payment.status === PaymentStatus.SUCCEEDED) {
        const refundOwed: Payment = {
          ...payment,
          status: PaymentStatus.REFUND_PENDING,
          refundReason: RefundReason.FULFILLMENT_FAILED,
          recordedBy: PaymentFactSource.FULFILMENT,
          updatedAt: now.toISOString(),
        };
        const outcome = await payments.recordPaymentWithTransition(refundOwed, payment, {
          previous: order,
          ...decided,
        });
        if (outcome.kind !== 'written') throw new ConcurrentModificationError(orderId);
        return 'failedWithRefund';
      }
      await orders.saveTransition(order, decided.next, decided.transition);
      return 'failedWithoutRefund';
    });
  }
}
