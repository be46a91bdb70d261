import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { SchedulerPaymentTimers } from '../../functions/adapters/scheduler-payment-timers';
import { stripeClient } from '../../functions/adapters/stripe-client';
import { StripePaymentProvider } from '../../functions/adapters/stripe-payment-provider';
import {
  PaymentService,
  type ReconciledPayment,
  type ReconciliationOptions,
  type ReconciliationReport,
} from '../../functions/domain/payment-service';
import type { PaymentProvider } from '../../functions/domain/ports';
import {
  PENDING_PAYMENT_INDEX,
  PROVIDER_EVENT_RETENTION_SECONDS,
  SETTING_DEFAULTS,
  STRIPE_API_URL,
} from '../model';

/**
 * `payments reconcile [--since <time>] [--json]`: one reconciliation pass on demand, printing what it changed.
 *
 * The pass runs in this process, with the same `PaymentService.reconcile` the scheduled reconciler runs, built from
 * the same adapters (the DynamoDB repositories, the Stripe adapter, the Scheduler timers) pointed at AWS or at the
 * local system; so it is the same code in both places, its report comes back whole (an invoked function would
 * leave it in its logs), and it acts with the operator's own credentials, audited as theirs. Invoking the
 * reconciler function instead would need a Lambda API locally, which the local runtime does not offer, and
 * `lambda:InvokeFunction` rights. A pass run while the scheduled one runs is safe: every fact goes through the
 * webhook's idempotent code, and the checkpoint moves by a conditional write. With `--since` the pass asks for
 * events from that instant and leaves the stored checkpoint alone (looking further back never loses a fact).
 */

export interface PaymentsCommandContext {
  /** Built only once the arguments are valid: a usage mistake needs no credentials and reads no secret. */
  readonly reconciler: () => Promise<Pick<PaymentService, 'reconcile'>>;
  /** Receives every line of output. */
  readonly out: (line: string) => void;
  /** The clock a relative `--since` counts back from. Default: the system clock. */
  readonly now?: () => Date;
}

export interface ReconcileRequest {
  /** Undefined: from the stored checkpoint, as the scheduled pass does. */
  readonly since: Date | undefined;
  readonly json: boolean;
}

export const PaymentsCommandErrorCode = {
  USAGE: 'PAYMENTS_USAGE',
  TIMER_NOT_SCHEDULED: 'PAYMENTS_TIMER_NOT_SCHEDULED',
} as const;

export type PaymentsCommandErrorCode =
  (typeof PaymentsCommandErrorCode)[keyof typeof PaymentsCommandErrorCode];

export const PAYMENTS_USAGE = 'usage: payments reconcile [--since <ISO time | 90m | 6h | 2d>] [--json]';

export class PaymentsUsageError extends Error {
  public override readonly name = 'PaymentsUsageError';
  public readonly code: PaymentsCommandErrorCode = PaymentsCommandErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${PAYMENTS_USAGE}`);
  }
}

/** The reconciliation pays orders and cancels their timers; it never schedules one (the checkout alone does). */
export class TimerNotScheduledError extends Error {
  public override readonly name = 'TimerNotScheduledError';
  public readonly code: PaymentsCommandErrorCode = PaymentsCommandErrorCode.TIMER_NOT_SCHEDULED;

  public constructor() {
    super('the reconciliation schedules no payment timer');
  }
}

/** How much one pass takes: as much as the scheduled one; the report's `moreEvents` tells of a backlog left. */
const OPS_RECONCILIATION_LIMITS: Omit<ReconciliationOptions, 'since'> = {
  maxEvents: SETTING_DEFAULTS.RECONCILE_MAX_EVENTS,
  maxOrders: SETTING_DEFAULTS.RECONCILE_MAX_ORDERS,
  // An operator asks because webhooks seem lost: every open intent is read, however young.
  openIntentMinAgeSeconds: 0,
  maxRefunds: SETTING_DEFAULTS.RECONCILE_MAX_REFUNDS,
};

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A date, or a date and time with its zone: a time without a zone would mean the reader's local time. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const DURATION = /^(\d+)([mhd])$/;

/** Reads the words after `payments` (a leading `payments` is accepted too). */
export function parsePaymentsArgs(args: readonly string[], now: Date): ReconcileRequest {
  const words = args[0] === 'payments' ? args.slice(1) : [...args];
  const json = words.includes('--json');
  const rest = words.filter((word) => word !== '--json');
  const sinceIndex = rest.indexOf('--since');
  const sinceValue = sinceIndex < 0 ? undefined : rest[sinceIndex + 1];
  if (sinceIndex >= 0 && (sinceValue === undefined || sinceValue.startsWith('--'))) {
    throw new PaymentsUsageError('--since needs a time');
  }
  if (sinceIndex >= 0) rest.splice(sinceIndex, 2);
  const [command, ...extra] = rest;
  if (command !== 'reconcile') {
    throw new PaymentsUsageError(command === undefined ? 'no command' : `unknown command ${command}`);
  }
  if (extra.length > 0) throw new PaymentsUsageError(`unexpected arguments: ${extra.join(' ')}`);
  return { since: sinceValue === undefined ? undefined : parseSince(sinceValue, now), json };
}

/** An ISO 8601 date or instant, or a duration back from now (`90m`, `6h`, `2d`); never in the future. */
export function parseSince(value: string, now: Date): Date {
  const duration = DURATION.exec(value);
  const since =
    duration !== null
      ? new Date(now.getTime() - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS])
      : ISO_INSTANT.test(value)
        ? new Date(value)
        : undefined;
  if (since === undefined || Number.isNaN(since.getTime())) {
    throw new PaymentsUsageError(
      `--since ${value} is neither an ISO 8601 date or instant with its zone (2026-12-07T02:00:00Z) nor a duration (90m, 6h, 2d)`,
    );
  }
  if (since.getTime() > now.getTime()) throw new PaymentsUsageError(`--since ${value} is in the future`);
  return since;
}

/**
 * Runs `payments reconcile`: one pass, printed readably or as the report's JSON, and returned.
 *
 * @throws {@link PaymentsUsageError} for bad arguments; the provider's and the table's errors as they come (the
 * pass stops at the first; what it applied before stays applied, and the next pass finds the rest)
 */
export async function runPaymentsCommand(
  args: readonly string[],
  context: PaymentsCommandContext,
): Promise<ReconciliationReport> {
  const request = parsePaymentsArgs(args, (context.now ?? (() => new Date()))());
  const service = await context.reconciler();
  const report = await service.reconcile({
    ...OPS_RECONCILIATION_LIMITS,
    ...(request.since === undefined ? {} : { since: request.since }),
  });
  if (request.json) context.out(JSON.stringify(report, null, 2));
  else for (const line of renderReconciliationReport(report, request.since !== undefined)) context.out(line);
  return report;
}

const FOUND_BY: Readonly<Record<ReconciledPayment['foundBy'], string>> = {
  undeliveredEvent: 'an undelivered event',
  openOrder: "an open order's intent",
  pendingRefund: 'a pending refund',
};

/** The window asked, what the pass examined, and one line per payment it changed or could not settle. */
export function renderReconciliationReport(report: ReconciliationReport, sinceAsked: boolean): string[] {
  const lines = [
    `Reconciliation: undelivered events since ${report.since} ${
      sinceAsked ? '(--since; the stored checkpoint is left as it was)' : '(from the stored checkpoint)'
    }`,
    `  examined ${report.eventsExamined} undelivered event(s), ${report.ordersExamined} order(s) awaiting payment, ${report.refundsExamined} pending refund(s)`,
  ];
  if (report.changed.length === 0) {
    lines.push('  changed nothing: the webhooks had brought every payment fact');
  } else {
    lines.push(`  changed ${report.changed.length} payment(s) that no webhook had:`);
    for (const change of report.changed) {
      lines.push(
        `    ${change.orderId}\t${change.paymentId}\t${change.outcome}\tfound by ${FOUND_BY[change.foundBy]}`,
      );
    }
  }
  if (report.failed.length > 0) {
    lines.push(`  could not settle ${report.failed.length} payment(s) (exit code 1):`);
    for (const failure of report.failed) {
      lines.push(
        `    ${failure.orderId ?? '(no order)'}\t${failure.paymentId}\t${failure.code}\tfound by ${FOUND_BY[failure.foundBy]}\t${
          failure.retryable ? 'the next pass tries again' : 'will not get better by itself: look at it'
        }`,
      );
    }
  }
  if (report.moreEvents) {
    lines.push('  more undelivered events wait than one pass takes: run it again');
  }
  return lines;
}

export interface ReconcilerParts {
  /** A client for the orders table's region and endpoint. */
  readonly dynamodb: DynamoDBClient;
  /** The stack output `OrdersTableName`, locally `orders`. */
  readonly tableName: string;
  /** {@link stripeProvider} outside tests. */
  readonly provider: PaymentProvider;
  readonly scheduler: SchedulerClient;
  /** The payment timers' schedule group: the stack output `PaymentTimeoutsTimerGroupName`. */
  readonly timerGroupName: string;
  /** Told when a paid order's timer could not be deleted (it fires later and changes nothing). */
  readonly warn: (line: string) => void;
}

/**
 * The Stripe adapter at `apiBase` (the local fake) or at Stripe itself, with the functions' own client. The pass
 * creates no intent, so the payment method types do not matter.
 */
export function stripeProvider(secretKey: string, apiBase: string = STRIPE_API_URL): StripePaymentProvider {
  return new StripePaymentProvider({ stripe: stripeClient(apiBase, secretKey), paymentMethodTypes: [] });
}

/** The reconciliation's PaymentService: the functions' adapters, built for this one process. */
export function reconcilingPaymentService(parts: ReconcilerParts): PaymentService {
  const client = DynamoDBDocumentClient.from(parts.dynamodb);
  const { tableName } = parts;
  // The functions' own timers, given the group alone: the pass pays orders and cancels their timers, and never
  // schedules one (the checkout alone does), so asking it to is a bug.
  const timers = new SchedulerPaymentTimers({
    client: parts.scheduler,
    groupName: parts.timerGroupName,
    target: () => {
      throw new TimerNotScheduledError();
    },
    onCancelFailure: (orderId, error) =>
      parts.warn(
        `could not delete the payment timer of ${orderId} (it will fire and change nothing): ${String(error)}`,
      ),
  });
  return new PaymentService({
    orders: new DynamoDbOrderRepository({
      client,
      tableName,
      pendingIndexName: PENDING_PAYMENT_INDEX.name,
      now: () => new Date(),
    }),
    payments: new DynamoDbPaymentRepository({ client, tableName }),
    leases: new DynamoDbLeaseStore({ client, tableName }),
    provider: parts.provider,
    timers,
    clock: { now: () => new Date() },
    newLeaseOwner: () => randomUUID(),
    leaseSeconds: SETTING_DEFAULTS.PAYMENT_LEASE_SECONDS,
    eventRetentionSeconds: PROVIDER_EVENT_RETENTION_SECONDS,
    processingGraceSeconds: SETTING_DEFAULTS.PAYMENT_PROCESSING_GRACE_SECONDS,
  });
}
