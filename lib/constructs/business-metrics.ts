import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * The CloudWatch namespace the functions publish their business metrics in (Powertools Metrics, configured in
 * `functions/composition-root.ts`); each carries one dimension, `service`, the functions' `POWERTOOLS_SERVICE_NAME`.
 */
export const METRICS_NAMESPACE = 'OrderBackbone';

/** The business metrics of the contract between the functions that emit them and the alarms and dashboard. */
export const BusinessMetric = {
  ordersCreated: 'OrdersCreated',
  ordersPaid: 'OrdersPaid',
  ordersFulfilled: 'OrdersFulfilled',
  ordersFulfillmentFailed: 'OrdersFulfillmentFailed',
  ordersCancelledByCustomer: 'OrdersCancelledByCustomer',
  ordersCancelledByTimeout: 'OrdersCancelledByTimeout',
  ordersCancelledBySweeper: 'OrdersCancelledBySweeper',
  refundsRequested: 'RefundsRequested',
  paymentsRefunded: 'PaymentsRefunded',
  paymentTimerScheduleFailed: 'PaymentTimerScheduleFailed',
  refundsStuckPending: 'RefundsStuckPending',
} as const;

export type BusinessMetric = (typeof BusinessMetric)[keyof typeof BusinessMetric];

/** Builds the business metrics of one deployment, whose functions all publish under `serviceName`. */
export class BusinessMetrics {
  public constructor(private readonly serviceName: string) {}

  /**
   * One business metric.
   * @param options - statistic, period and label; the default is the Sum over five minutes
   */
  public metric(metricName: BusinessMetric, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: this.serviceName },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
      ...options,
    });
  }
}
