import { getPaymentService, sweeperSettings } from '../composition/payments';
import { logger } from '../composition-root';
import type { SweepResult } from '../domain/payment-service';
import { BusinessMetric, countMetric, observedHandler } from '../observability';

/** Payments named in the stuck-refunds warning: enough to start looking, bounded so the line stays small. */
const STUCK_REFUND_SAMPLE = 20;

export interface SweeperRun extends SweepResult {
  /** Payments REFUND_PENDING for longer than `REFUND_STUCK_AFTER_SECONDS`. */
  readonly refundsStuckPending: number;
}

/**
 * Runs every minute. Expires orders still awaiting payment past their deadline, found through the sparse
 * pending-payment index, each after the check-back with the provider: every order it cancels is a timer that
 * never fired, every one it finds paid a webhook that never came, and every one it could not check back is left
 * for the next run; all are counted every run (0 included, so the alarms see a value and recover). Then counts
 * the refunds owed for too long, through the sparse refund-pending index.
 */
async function sweep(): Promise<SweeperRun> {
  const settings = sweeperSettings();
  const service = getPaymentService();
  const result = await service.sweep(settings.SWEEPER_MAX_ORDERS_PER_RUN);
  countMetric(BusinessMetric.ORDERS_CANCELLED_BY_SWEEPER, result.cancelled);
  countMetric(BusinessMetric.OVERDUE_ORDERS_LEASED, result.leased);
  countMetric(BusinessMetric.PAYMENTS_RECONCILED, result.paid);
  countMetric(BusinessMetric.ORDERS_PAID, result.paid);
  countMetric(BusinessMetric.ORDERS_HELD_FOR_PROCESSING, result.heldForProcessing);
  countMetric(BusinessMetric.CHECK_BACK_FAILURES, result.checkBackFailed);
  if (result.cancelled > 0) {
    logger.warn('the sweeper cancelled orders whose payment timeout never fired', { ...result });
  }
  if (result.paid > 0) {
    logger.warn('the check-back found overdue orders paid; their payment webhooks were lost', { ...result });
  }
  if (result.checkBackFailed > 0) {
    logger.warn('the payment provider could not be asked about overdue orders; they stay open', {
      ...result,
    });
  }
  const stuck = await service.findStuckRefunds(settings.REFUND_STUCK_AFTER_SECONDS, STUCK_REFUND_SAMPLE);
  countMetric(BusinessMetric.REFUNDS_STUCK_PENDING, stuck.count);
  if (stuck.count > 0) {
    logger.warn('refunds stuck in REFUND_PENDING; check the refund worker and the payment provider', {
      refundsStuckPending: stuck.count,
      stuckAfterSeconds: settings.REFUND_STUCK_AFTER_SECONDS,
      sample: stuck.sample,
    });
  }
  return { ...result, refundsStuckPending: stuck.count };
}

export const handler = observedHandler(sweep);
