import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { BusinessMetric } from '../lib/business-metrics';
import { logger, metrics, tracer } from './composition-root';
import type { ProviderEventOutcome } from './domain/payment-service';

export { BusinessMetric } from '../lib/business-metrics';

/** Counts a business outcome (docs/architecture.md, "Telemetry", says where each is emitted); the count is flushed as EMF when the invocation ends (`logMetrics`). */
export function countMetric(name: BusinessMetric, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
}

/**
 * Logs a handler's outcome: at DEBUG when it is routine, the happy path's own step, which a metric counts and
 * the order's stored story (`ops order`) shows; at INFO otherwise (a duplicate, a stale event, a refund), so
 * INFO holds what an operator may act on (docs/decisions.md, "Routine outcomes at DEBUG").
 */
export function logOutcome(routine: boolean, message: string, attributes: LogAttributes): void {
  if (routine) logger.debug(message, attributes);
  else logger.info(message, attributes);
}

/**
 * The business events among the outcomes of applying a payment fact, whoever brought it (the webhook, the
 * check-back, the reconciler): the first to apply a fact counts it, the others find a duplicate. The rest
 * (duplicates, ignored events, failures, cancelled intents) change no count.
 */
export const PAYMENT_OUTCOME_METRICS: Readonly<Record<ProviderEventOutcome, BusinessMetric | undefined>> = {
  paid: BusinessMetric.ORDERS_PAID,
  refundPending: BusinessMetric.REFUNDS_REQUESTED,
  refunded: BusinessMetric.PAYMENTS_REFUNDED,
  unmatched: BusinessMetric.UNMATCHED_PAYMENT_EVENTS,
  failureRecorded: undefined,
  cancelled: undefined,
  duplicate: undefined,
  ignored: undefined,
};

export interface ObservedHandlerOptions {
  /**
   * JMESPath into the event for the `correlation_id` of every log line of the invocation. Batch handlers leave
   * it out and set one per record instead.
   */
  readonly correlationIdPath?: string;
}

/**
 * The middleware every Lambda handler of this system is wrapped in: an X-Ray subsegment for the handler
 * (`captureLambdaHandler`), metrics flushed as one EMF line per invocation with a cold-start count
 * (`logMetrics`), and the Lambda context, the correlation id and keys reset per invocation on every log line
 * (`injectLambdaContext`). Anything a trigger needs besides (problem details for HTTP) is added by the caller.
 */
export function observedHandler<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
  options: ObservedHandlerOptions = {},
) {
  return middy<TEvent, TResult, Error, Context>(handler)
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(
      injectLambdaContext(logger, {
        resetKeys: true,
        ...(options.correlationIdPath === undefined ? {} : { correlationIdPath: options.correlationIdPath }),
      }),
    );
}
