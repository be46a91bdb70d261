import { getPaymentService, logger, sweeperSettings } from '../composition-root';
import type { SweepResult } from '../domain/payment-service';
import { BusinessMetric, countMetric, observedHandler } from '../observability';

/** Order ids named in the stuck-refunds warning: enough to start looking, bounded so the line stays small. */
const STUCK_REFUND_SAMPLE = 20;

export interface SweeperRun extends SweepResult {
  /** Payments REFUND_PENDING for longer than `REFUND_STUCK_AFTER_SECONDS`. */
  readonly refundsStuckPending: number;
}

/**
 * Runs every minute. Cancels orders still awaiting payment past their deadline, found through the sparse
 * pending-payment index; every order it cancels is a timer that never fired, so it is counted as such. Then
 * counts the refunds owed for too long, through the sparse refund-pending index, every run (0 included, so
 * the alarm sees a value and recovers).
 */
async function sweep(): Promise<SweeperRun> {
  const settings = sweeperSettings();
  const service = getPaymentService();
  const result = await service.sweep(settings.SWEEPER_MAX_ORDERS_PER_RUN);
  countMetric(BusinessMetric.ORDERS_CANCELLED_BY_SWEEPER, result.cancelled);
  countMetric(BusinessMetric.OVERDUE_ORDERS_LEASED, result.leased);
  if (result.cancelled > 0) {
    logger.warn('the sweeper cancelled orders whose payment timeout never fired', { ...result });
  }
  const stuck = await service.findStuckRefunds(settings.REFUND_STUCK_AFTER_SECONDS, STUCK_REFUND_SAMPLE);
  countMetric(BusinessMetric.REFUNDS_STUCK_PENDING, stuck.count);
  if (stuck.count > 0) {
    logger.warn('refunds stuck in REFUND_PENDING; check the refund worker and the payment provider', {
      refundsStuckPending: stuck.count,
      stuckAfterSeconds: settings.REFUND_STUCK_AFTER_SECONDS,
      orderIds: stuck.orderIds,
    });
  }
  return { ...result, refundsStuckPending: stuck.count };
}

export const handler = observedHandler(sweep);
