import * as z from 'zod/mini';
import { fulfillmentOrders } from '../composition/saga';
import { logger } from '../composition-root';
import { type FulfillmentOrder, pickLineSchema } from '../domain/fulfillment-service';
import type { CompensationOutcome } from '../domain/saga-ledger';
import { orderReferenceSchema } from '../domain/validation';
import { observedHandler } from '../observability';
import { parseTaskInput } from './task-input';

const taskInput = z.discriminatedUnion('operation', [
  z.object({
    operation: z.literal('create'),
    orderId: orderReferenceSchema,
    // The saga's own input; its order lines are optional (executions started by an older consumer, or by an
    // older definition that did not pass it on, have none).
    saga: z.optional(
      z.object({ items: z.optional(z.array(pickLineSchema).check(z.minLength(1), z.maxLength(100))) }),
    ),
  }),
  z.object({ operation: z.literal('cancel'), orderId: orderReferenceSchema }),
]);

/**
 * Saga participant `fulfillment-order`: `create` records the order's fulfilment order (idempotent, refused after
 * a `cancel`), `cancel` compensates it (also when `create` never ran). Errors propagate by name to the state
 * machine's Retry and Catch.
 */
async function fulfillmentOrder(event: unknown): Promise<FulfillmentOrder | CompensationOutcome> {
  const input = parseTaskInput(taskInput, event);
  logger.appendKeys({ orderId: input.orderId, operation: input.operation });
  if (input.operation === 'create') {
    const created = await fulfillmentOrders().create(input.orderId, input.saga?.items);
    // Routine, so DEBUG: the step's ledger entry, the saga's history and the function's metrics say it.
    logger.debug('fulfilment order created', { fulfillmentOrderId: created.fulfillmentOrderId });
    return created;
  }
  const outcome = await fulfillmentOrders().cancel(input.orderId);
  logger.info('fulfilment order cancelled', { ...outcome });
  return outcome;
}

/** The state machine's task input names the order; it is the correlation id of the participant's lines. */
export const handler = observedHandler(fulfillmentOrder, { correlationIdPath: 'orderId' });
