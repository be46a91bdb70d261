import * as z from 'zod/mini';
import { fulfillmentOutcomes } from '../composition/saga';
import { logger } from '../composition-root';
import type { FailedOutcome, FulfilledOutcome } from '../domain/fulfillment-service';
import { orderReferenceSchema } from '../domain/validation';
import { BusinessMetric, countMetric, logOutcome, observedHandler } from '../observability';
import { parseTaskInput } from './task-input';

/** The error a Catch put at `$.failure`: Step Functions' `{ Error, Cause }`. */
const caughtError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });

const taskInput = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('FULFILLED'), orderId: orderReferenceSchema }),
  z.object({ outcome: z.literal('CHECK'), orderId: orderReferenceSchema }),
  z.object({
    outcome: z.literal('FAILED'),
    orderId: orderReferenceSchema,
    paymentId: z.string().check(z.minLength(1), z.maxLength(255)),
    error: z.optional(caughtError),
  }),
]);

/** Reasons are kept short: they land in the order's timeline, and a Lambda cause can be kilobytes long. */
const MAX_REASON_LENGTH = 300;

type TaskResult =
  | { readonly orderId: string; readonly outcome: FulfilledOutcome | FailedOutcome }
  | { readonly orderId: string; readonly fulfilled: boolean };

/**
 * Saga participant `fulfillment-outcome`: `FULFILLED` moves the order FULFILLING -> FULFILLED; `FAILED` moves it
 * to FULFILLMENT_FAILED and its payment to REFUND_PENDING in one transaction. Both are idempotent. `CHECK` only
 * reads: whether the order is fulfilled, asked before a failed `FULFILLED` is compensated.
 */
async function fulfillmentOutcome(event: unknown): Promise<TaskResult> {
  const input = parseTaskInput(taskInput, event);
  logger.appendKeys({ orderId: input.orderId, outcome: input.outcome });
  if (input.outcome === 'CHECK') {
    const fulfilled = await fulfillmentOutcomes().isFulfilled(input.orderId);
    logger.info('checked whether the order is fulfilled before compensating', { fulfilled });
    return { orderId: input.orderId, fulfilled };
  }
  if (input.outcome === 'FULFILLED') {
    const outcome = await fulfillmentOutcomes().markFulfilled(input.orderId);
    if (outcome === 'fulfilled') countMetric(BusinessMetric.ORDERS_FULFILLED);
    logOutcome(outcome === 'fulfilled', 'order fulfilled', { result: outcome });
    return { orderId: input.orderId, outcome };
  }
  const cause = input.error === undefined ? 'unknown error' : input.error.Error;
  const reason = `fulfilment failed (${cause}); compensated`.slice(0, MAX_REASON_LENGTH);
  const outcome = await fulfillmentOutcomes().markFailed(input.orderId, input.paymentId, reason);
  if (outcome !== 'alreadyFailed') countMetric(BusinessMetric.ORDERS_FULFILLMENT_FAILED);
  if (outcome === 'failedWithRefund') countMetric(BusinessMetric.REFUNDS_REQUESTED);
  // The cause's head only: its whole text (a Lambda error's stack) is in the failed step's log and the execution.
  logger.warn('order fulfilment failed', {
    result: outcome,
    error: input.error?.Error,
    cause: input.error?.Cause?.slice(0, MAX_REASON_LENGTH),
  });
  return { orderId: input.orderId, outcome };
}

/** The state machine's task input names the order; it is the correlation id of the participant's lines. */
export const handler = observedHandler(fulfillmentOutcome, { correlationIdPath: 'orderId' });
