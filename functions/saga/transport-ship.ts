import * as z from 'zod/mini';
import { transportParticipant } from '../composition/saga';
import { logger } from '../composition-root';
import type { ShipmentReceipt } from '../domain/fulfillment-ports';
import type { CompensationOutcome } from '../domain/saga-ledger';
import { orderReferenceSchema } from '../domain/validation';
import { observedHandler } from '../observability';
import { parseTaskInput } from './task-input';

const taskInput = z.discriminatedUnion('operation', [
  z.object({ operation: z.literal('ship'), orderId: orderReferenceSchema }),
  z.object({ operation: z.literal('cancel'), orderId: orderReferenceSchema }),
]);

/**
 * Saga participant `transport-ship`: `ship` books the order's shipment (idempotent by the step's key, refused
 * after a `cancel`), `cancel` cancels it (or leaves a tombstone when nothing was booked).
 */
async function transportShip(event: unknown): Promise<ShipmentReceipt | CompensationOutcome> {
  const input = parseTaskInput(taskInput, event);
  logger.appendKeys({ orderId: input.orderId, operation: input.operation });
  if (input.operation === 'ship') {
    const receipt = await transportParticipant().ship(input.orderId);
    // Routine, so DEBUG: the step's ledger entry, the saga's history and the function's metrics say it.
    logger.debug('shipment booked', { shipmentId: receipt.shipmentId });
    return receipt;
  }
  const outcome = await transportParticipant().cancel(input.orderId);
  logger.info('shipment cancelled', { ...outcome });
  return outcome;
}

/** The state machine's task input names the order; it is the correlation id of the participant's lines. */
export const handler = observedHandler(transportShip, { correlationIdPath: 'orderId' });
