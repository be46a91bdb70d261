import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

import { type BusinessMetric, METRICS_NAMESPACE } from '../business-metrics';

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
