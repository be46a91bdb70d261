import { AppError, ErrorCode } from './errors';

/**
 * The logistics systems the fulfilment saga drives, as the domain needs them. Both are idempotent by the key
 * the caller passes (a repeat replays the first answer and does nothing twice), and both honour a cancellation
 * that arrives before its action: the cancellation leaves a tombstone under the key and the action is later
 * refused with `ActionRefusedError` (from `saga-ledger.ts`). That pair of guarantees is what lets the step
 * ledger compensate an action that is still in flight.
 */

/** One line of goods to pick. */
export interface PickLine {
  readonly sku: string;
  readonly quantity: number;
}

export interface PickReceipt {
  readonly pickId: string;
}

export interface ShipmentReceipt {
  readonly shipmentId: string;
  readonly trackingNumber: string;
}

export interface Warehouse {
  /** Picks the goods of an order; the same `idempotencyKey` always answers with the first pick. */
  pick(orderId: string, items: readonly PickLine[], idempotencyKey: string): Promise<PickReceipt>;
  /**
   * Puts back the goods picked under `idempotencyKey`. Idempotent; with no such pick yet it records a
   * tombstone so that a later pick under that key is refused.
   */
  returnGoods(orderId: string, idempotencyKey: string): Promise<void>;
}

export interface Transport {
  /** Books the shipment of an order; the same `idempotencyKey` always answers with the first shipment. */
  ship(orderId: string, idempotencyKey: string): Promise<ShipmentReceipt>;
  /**
   * Cancels the shipment booked under `idempotencyKey`. Idempotent; with no such shipment yet it records a
   * tombstone so that a later booking under that key is refused.
   */
  cancel(orderId: string, idempotencyKey: string): Promise<void>;
}

export type LogisticsSystem = 'warehouse' | 'transport';

/**
 * A call to a logistics system failed. `name` is matched by the saga's Retry (transient) and Catch (the rest),
 * so it is part of the contract with `state-machines/fulfillment.asl.json`.
 */
export abstract class LogisticsError extends AppError {
  public constructor(
    public readonly system: LogisticsSystem,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * No usable answer (network error, timeout, 5xx, 429): the system may or may not have acted. Retrying under the
 * same idempotency key is safe and may succeed.
 */
export class LogisticsUnavailableError extends LogisticsError {
  public override readonly name = 'LogisticsUnavailableError';
  public readonly code = ErrorCode.LOGISTICS_UNAVAILABLE;
  public readonly retryable = true;
}

/** The system refused the request as invalid (a 4xx); the same request gets the same refusal. */
export class LogisticsRejectedError extends LogisticsError {
  public override readonly name = 'LogisticsRejectedError';
  public readonly code = ErrorCode.LOGISTICS_REJECTED;
  public readonly retryable = false;
}
