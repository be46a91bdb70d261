import * as z from 'zod/mini';
import { getPaymentService, reconciliationSettings } from '../composition/payments';
import { logger } from '../composition-root';
import { PaymentsUnreconcilableError, ValidationError } from '../domain/errors';
import type { ReconciliationReport } from '../domain/payment-service';
import { parseWith } from '../domain/validation';
import { BusinessMetric, countMetric, observedHandler, PAYMENT_OUTCOME_METRICS } from '../observability';

/**
 * The schedule sends `{}`. An operator may invoke the function with `{"since": "<ISO time>"}` to look further
 * back than the checkpoint (`npm run ops -- payments reconcile --since` runs the same pass in-process).
 */
const reconcilerInput = z.object({ since: z.optional(z.iso.datetime({ offset: true })) });

/**
 * Runs every five minutes: one reconciliation pass (`PaymentService.reconcile`), which reads from the provider
 * what webhooks did not bring and applies it through the webhook's own code. Every payment it changed is a fact
 * that no webhook delivered, so it counts them every pass (0 included, so the alarm sees a value and recovers)
 * and names them in a warning; each is also counted as the business event it is (an order paid, say), as the
 * webhook would have. With `since`, the pass looks from there and leaves the stored checkpoint alone.
 */
async function reconcilePayments(event: unknown): Promise<ReconciliationReport> {
  const input = parseWith(reconcilerInput, event ?? {}, (issues) => new ValidationError(issues));
  const settings = reconciliationSettings();
  const report = await getPaymentService().reconcile({
    ...(input.since === undefined ? {} : { since: new Date(input.since) }),
    maxEvents: settings.RECONCILE_MAX_EVENTS,
    maxOrders: settings.RECONCILE_MAX_ORDERS,
    openIntentMinAgeSeconds: settings.RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS,
    maxRefunds: settings.RECONCILE_MAX_REFUNDS,
  });
  countMetric(BusinessMetric.PAYMENTS_RECONCILED, report.changed.length);
  for (const { outcome } of report.changed) {
    const metric = PAYMENT_OUTCOME_METRICS[outcome];
    if (metric !== undefined) countMetric(metric);
  }
  if (report.changed.length > 0) {
    logger.warn('reconciliation found payment facts no webhook brought; webhooks are being lost', {
      since: report.since,
      changed: report.changed,
    });
  }
  if (report.failed.length > 0) {
    logger.warn('reconciliation could not settle some payments', { failed: report.failed });
  }
  // What the next pass may settle waits for it; what it will not, fails the invocation, so the function's
  // errors alarm calls an operator (the rest of the pass was applied and counted all the same).
  const hopeless = report.failed.filter((failure) => !failure.retryable);
  if (hopeless.length > 0)
    throw new PaymentsUnreconcilableError(hopeless.map((failure) => failure.paymentId));
  return report;
}

export const handler = observedHandler(reconcilePayments);
