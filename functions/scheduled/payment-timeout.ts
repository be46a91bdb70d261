import * as z from 'zod/mini';
import { getPaymentService } from '../composition/payments';
import { logger } from '../composition-root';
import { ValidationError } from '../domain/errors';
import type { ExpiryOutcome } from '../domain/payment-service';
import { orderReferenceSchema, parseWith } from '../domain/validation';
import { BusinessMetric, countMetric, observedHandler } from '../observability';

const timeoutInput = z.object({ orderId: orderReferenceSchema });

/**
 * What each outcome counts. A payment the check-back found is a fact the webhook did not bring, and an order
 * paid as the webhook would have counted it.
 */
const OUTCOME_METRICS: Readonly<Record<ExpiryOutcome, readonly BusinessMetric[]>> = {
  cancelled: [BusinessMetric.ORDERS_CANCELLED_BY_TIMEOUT],
  paid: [BusinessMetric.PAYMENTS_RECONCILED, BusinessMetric.ORDERS_PAID],
  heldForProcessing: [BusinessMetric.ORDERS_HELD_FOR_PROCESSING],
  notPending: [],
};

/**
 * Target of an order's one-time payment timeout schedule. If the order still awaits payment and its deadline
 * passed, asks the provider about its intents first (the check-back): one that succeeded pays the order, one
 * processing keeps it open, and only otherwise is the order cancelled. While a payment is being prepared (a
 * live lease), or when the provider cannot be asked (nothing is cancelled on a guess), it throws: Scheduler
 * invokes the function asynchronously, so Lambda retries the event later (its asynchronous retries, then the
 * timer's dead-letter queue; see `lib/constructs/model-timer.ts`), and the sweeper catches what that misses.
 * A duplicate or late firing finds nothing to do.
 */
async function paymentTimeout(event: unknown): Promise<{ orderId: string; outcome: string }> {
  const { orderId } = parseWith(timeoutInput, event, (issues) => new ValidationError(issues));
  logger.appendKeys({ orderId });
  const outcome = await getPaymentService().expireOrder(orderId, 'payment deadline passed');
  for (const metric of OUTCOME_METRICS[outcome]) countMetric(metric);
  logger.info('payment timeout handled', { outcome });
  return { orderId, outcome };
}

/** The schedule's input names the order; it is the correlation id of the invocation's lines. */
export const handler = observedHandler(paymentTimeout, { correlationIdPath: 'orderId' });
