import * as z from 'zod/mini';
import { warehouseParticipant } from '../composition/saga';
import { logger } from '../composition-root';
import type { PickReceipt } from '../domain/fulfillment-ports';
import type { CompensationOutcome } from '../domain/saga-ledger';
import { orderReferenceSchema } from '../domain/validation';
import { observedHandler } from '../observability';
import { parseTaskInput } from './task-input';

const taskInput = z.discriminatedUnion('operation', [
  z.object({
    operation: z.literal('pick'),
    orderId: orderReferenceSchema,
    items: z
      .array(
        z.object({ sku: z.string().check(z.minLength(1)), quantity: z.number().check(z.int(), z.gte(1)) }),
      )
      .check(z.minLength(1), z.maxLength(100)),
  }),
  z.object({ operation: z.literal('return'), orderId: orderReferenceSchema }),
]);

/**
 * Saga participant `warehouse-pick`: `pick` has the warehouse pick the order's goods (idempotent by the step's
 * key, refused after a `return`), `return` puts them back (or leaves a tombstone when nothing was picked).
 */
async function warehousePick(event: unknown): Promise<PickReceipt | CompensationOutcome> {
  const input = parseTaskInput(taskInput, event);
  logger.appendKeys({ orderId: input.orderId, operation: input.operation });
  if (input.operation === 'pick') {
    const receipt = await warehouseParticipant().pick(input.orderId, input.items);
    // Routine, so DEBUG: the step's ledger entry, the saga's history and the function's metrics say it.
    logger.debug('goods picked', { pickId: receipt.pickId });
    return receipt;
  }
  const outcome = await warehouseParticipant().returnGoods(input.orderId);
  logger.info('goods returned', { ...outcome });
  return outcome;
}

/** The state machine's task input names the order; it is the correlation id of the participant's lines. */
export const handler = observedHandler(warehousePick, { correlationIdPath: 'orderId' });
