/**
 * The contract between the functions that publish business metrics (Powertools Metrics, EMF) and the alarms and
 * dashboard that read them: one namespace, one dimension (`service`, the functions' `POWERTOOLS_SERVICE_NAME`),
 * unit Count. Kept apart from the CDK constructs so that function bundles can import it.
 */
export const METRICS_NAMESPACE = 'OrderBackbone';

export const BusinessMetric = {
  ORDERS_CREATED: 'OrdersCreated',
  ORDERS_PAID: 'OrdersPaid',
  ORDERS_CANCELLED_BY_CUSTOMER: 'OrdersCancelledByCustomer',
  ORDERS_CANCELLED_BY_TIMEOUT: 'OrdersCancelledByTimeout',
  ORDERS_CANCELLED_BY_SWEEPER: 'OrdersCancelledBySweeper',
  OVERDUE_ORDERS_LEASED: 'OverdueOrdersLeased',
  REFUNDS_REQUESTED: 'RefundsRequested',
  PAYMENTS_REFUNDED: 'PaymentsRefunded',
  ORDERS_FULFILLED: 'OrdersFulfilled',
  ORDERS_FULFILLMENT_FAILED: 'OrdersFulfillmentFailed',
  PAYMENT_TIMER_SCHEDULE_FAILED: 'PaymentTimerScheduleFailed',
  REFUNDS_STUCK_PENDING: 'RefundsStuckPending',
  /** Payment facts no webhook brought, found by the check-back or the reconciler: webhooks are being lost. */
  PAYMENTS_RECONCILED: 'PaymentsReconciled',
  /** Overdue orders kept open because their intent is processing at the provider. */
  ORDERS_HELD_FOR_PROCESSING: 'OrdersHeldForProcessing',
  /** Overdue orders the sweeper could not check back with the provider (it was unavailable). */
  CHECK_BACK_FAILURES: 'CheckBackFailures',
  /** A verified provider event naming a payment no order of ours holds, or another order than the one holding it. */
  UNMATCHED_PAYMENT_EVENTS: 'UnmatchedPaymentEvents',
} as const;

export type BusinessMetric = (typeof BusinessMetric)[keyof typeof BusinessMetric];
