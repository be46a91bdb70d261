import { z } from 'zod';
import { getPaymentService, logger } from '../composition-root';
import { ValidationError } from '../domain/errors';
import { issuesOf } from '../http/request';
import { BusinessMetric, countMetric, observedHandler } from '../observability';

const timeoutInput = z.object({ orderId: z.string().min(1).max(64) });

/**
 * Target of an order's one-time payment timeout schedule. Cancels the order if it still awaits payment and
 * its deadline passed. While a payment is being prepared (a live lease) it throws, so Scheduler retries it
 * later per the schedule's retry policy; a duplicate or late firing finds nothing to do.
 */
async function paymentTimeout(event: unknown): Promise<{ orderId: string; outcome: string }> {
  const parsed = timeoutInput.safeParse(event);
  if (!parsed.success) {
    throw new ValidationError(issuesOf(parsed.error));
  }
  const { orderId } = parsed.data;
  logger.appendKeys({ orderId });
  const outcome = await getPaymentService().expireOrder(orderId, 'payment deadline passed');
  if (outcome === 'cancelled') countMetric(BusinessMetric.ORDERS_CANCELLED_BY_TIMEOUT);
  logger.info('payment timeout handled', { outcome });
  return { orderId, outcome };
}

/** The schedule's input names the order; it is the correlation id of the invocation's lines. */
export const handler = observedHandler(paymentTimeout, { correlationIdPath: 'orderId' });
