import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { getPaymentService, logger, metrics, sweeperBudget } from '../composition-root';
import type { SweepResult } from '../domain/payment-service';

/**
 * Runs every minute. Cancels orders still awaiting payment past their deadline, found through the sparse
 * pending-payment index; every order it cancels is a timer that never fired, so it is counted as such.
 */
async function sweep(): Promise<SweepResult> {
  const result = await getPaymentService().sweep(sweeperBudget());
  metrics.addMetric('OrdersCancelledBySweeper', MetricUnit.Count, result.cancelled);
  metrics.addMetric('OverdueOrdersLeased', MetricUnit.Count, result.leased);
  metrics.publishStoredMetrics();
  if (result.cancelled > 0) {
    logger.warn('the sweeper cancelled orders whose payment timeout never fired', { ...result });
  }
  return result;
}

export const handler = middy(sweep).use(injectLambdaContext(logger, { resetKeys: true }));
