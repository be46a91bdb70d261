import { z } from 'zod';
import { getPaymentService, logger } from '../composition-root';
import { ValidationError } from '../domain/errors';
import { orderReferenceSchema, parseWith } from '../domain/validation';
import { BusinessMetric, countMetric, observedHandler } from '../observability';

const timeoutInput = z.object({ orderId: orderReferenceSchema });

/**
 * Target of an order's one-time payment timeout schedule. Cancels the order if it still awaits payment and
 * its deadline passed. While a payment is being prepared (a live lease) it throws: Scheduler invokes the function
 * asynchronously, so Lambda retries the event later (its asynchronous retries, then the timer's dead-letter
 * queue; see `lib/constructs/model-timer.ts`). A duplicate or late firing finds nothing to do.
 */
async function paymentTimeout(event: unknown): Promise<{ orderId: string; outcome: string }> {
  const { orderId } = parseWith(timeoutInput, event, (issues) => new ValidationError(issues));
  logger.appendKeys({ orderId });
  const outcome = await getPaymentService().expireOrder(orderId, 'payment deadline passed');
  if (outcome === 'cancelled') countMetric(BusinessMetric.ORDERS_CANCELLED_BY_TIMEOUT);
  logger.info('payment timeout handled', { outcome });
  return { orderId, outcome };
}

/** The schedule's input names the order; it is the correlation id of the invocation's lines. */
export const handler = observedHandler(paymentTimeout, { correlationIdPath: 'orderId' });
