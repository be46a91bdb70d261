import { CONFLICT_ATTEMPTS, retryOnConflict } from './conflict-retry';
import {
  AppError,
  ConcurrentModificationError,
  LeaseNotHeldError,
  OrderNotPayableError,
  PaymentDeadlineNotReachedError,
  PaymentInProgressError,
} from './errors';
import { transition } from './order';
import { OrderStatus } from './order-status';
import {
  decideSucceededPayment,
  isOpenPayment,
  type Payment,
  PaymentFactSource,
  PaymentStatus,
  paymentFrom,
  type ReportedPayment,
} from './payment';
import {
  type Clock,
  IntentStatus,
  type LeaseStore,
  type OrderRepository,
  type OrderWithHistory,
  type PaymentIntent,
  type PaymentProvider,
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  type PaymentRepository,
  type PaymentTimers,
  type PaymentWriteOutcome,
  type PendingRefunds,
  type ProviderEvent,
  ProviderEventSubject,
  RefundStatus,
} from './ports';

export type ProviderEventOutcome =
  | 'paid'
  | 'refundPending'
  | 'failureRecorded'
  | 'refunded'
  /** The intent was cancelled at the provider; its payment record is closed. */
  | 'cancelled'
  /** Nothing changed: the event, or the payment's outcome, was seen before. */
  | 'duplicate'
  /** Nothing to do: the intent is still on its way, or a refund confirmation for a payment owing none. */
  | 'ignored'
  /** The event names a payment no order of ours holds, or another order than the one holding it. */
  | 'unmatched';

export type ExpiryOutcome =
  | 'cancelled'
  | 'notPending'
  /** The check-back found the order's intent succeeded: the order is paid, as the lost webhook would have made it. */
  | 'paid'
  /** An intent is processing: the order stays open until the provider decides, within the grace period. */
  | 'heldForProcessing';

export interface SweepResult {
  readonly examined: number;
  readonly cancelled: number;
  /** Overdue orders left for the next run because a payment was being prepared on them. */
  readonly leased: number;
  /** Overdue orders the check-back found paid at the provider. */
  readonly paid: number;
  readonly heldForProcessing: number;
  /** Overdue orders left for the next run because the provider could not be asked. */
  readonly checkBackFailed: number;
}

/** What the check-back or the reconciliation changed for one payment. */
export interface ReconciledPayment {
  readonly orderId: string;
  readonly paymentId: string;
  readonly outcome: ProviderEventOutcome;
  /** How the reconciliation came upon it. */
  readonly foundBy: 'undeliveredEvent' | 'openOrder' | 'pendingRefund';
}

/** A payment the pass could not settle, and why; the pass goes on with the rest. */
export interface UnreconciledPayment {
  readonly paymentId: string;
  /** `undefined` for an undelivered event whose payment no order holds. */
  readonly orderId: string | undefined;
  readonly foundBy: ReconciledPayment['foundBy'];
  readonly code: string;
  /**
   * Whether trying again may settle it (the provider was unreachable, a write kept losing its race). An
   * undelivered event that failed so keeps the checkpoint before it; one that will not get better (an intent the
   * provider does not know under this key, say after switching from test to live keys) is passed over, reported
   * here every time it is listed.
   */
  readonly retryable: boolean;
}

export interface ReconciliationReport {
  /** Events created from this instant on were asked for. */
  readonly since: string;
  readonly eventsExamined: number;
  readonly ordersExamined: number;
  readonly refundsExamined: number;
  /** Payments the pass changed: each one a fact no webhook had brought. */
  readonly changed: readonly ReconciledPayment[];
  /** Payments the pass could not settle; one never stops the others. */
  readonly failed: readonly UnreconciledPayment[];
  /** The provider listed more undelivered events than one pass takes; the next pass goes on. */
  readonly moreEvents: boolean;
}

export interface ReconciliationOptions {
  /** Ask for events from this instant instead of the stored checkpoint, and leave the checkpoint alone. */
  readonly since?: Date;
  readonly maxEvents: number;
  /** Orders awaiting payment read at most, oldest deadline first. */
  readonly maxOrders: number;
  /** Only an open intent at least this old is asked about; a younger one's webhook is still on its way. */
  readonly openIntentMinAgeSeconds: number;
  readonly maxRefunds: number;
}

export interface PaymentServiceDependencies {
  readonly orders: OrderRepository;
  readonly payments: PaymentRepository;
  readonly leases: LeaseStore;
  readonly provider: PaymentProvider;
  readonly timers: PaymentTimers;
  readonly clock: Clock;
  readonly newLeaseOwner: () => string;
  readonly leaseSeconds: number;
  /** How long a provider event id is remembered; providers retry for days, so weeks are safe. */
  readonly eventRetentionSeconds: number;
  /** How long past its deadline an order whose intent is processing stays open; then it is cancelled. */
  readonly processingGraceSeconds: number;
  /** Orders the sweeper cancels at the same time; bounded so a backlog cannot flood the table. */
  readonly sweepConcurrency?: number;
  /** Waits between the rounds of a request that found another one preparing the payment; injected by tests. */
  readonly pause?: (milliseconds: number) => Promise<void>;
}

/** Rounds a payment request waits for another one preparing the same order's payment (about 2 s in all). */
const LEASE_WAIT_ROUNDS = 6;
/**
 * A pass asks for events from a little before the last pass started, so an event the provider stamped just
 * before that instant (its clock and ours differ) is not missed; seeing one twice changes nothing.
 */
const RECONCILIATION_OVERLAP_MS = 5 * 60 * 1000;
/** The first pass of a new deployment looks back one day. */
const FIRST_RECONCILIATION_LOOKBACK_MS = 24 * 60 * 60 * 1000;
/** Every order still awaiting payment is due before this far ahead: the reconciliation reads them all. */
const ANY_DEADLINE_MS = 366 * 24 * 60 * 60 * 1000;
/** Intents whose outcome is not known yet: the customer may still pay them. */
const PAYABLE_INTENT_STATUSES: readonly IntentStatus[] = [
  IntentStatus.REQUIRES_PAYMENT_METHOD,
  IntentStatus.REQUIRES_CONFIRMATION,
  IntentStatus.REQUIRES_ACTION,
  IntentStatus.PROCESSING,
];

/**
 * The payment window: preparing a payment under a lease, applying what the provider reports, and expiring
 * orders whose deadline passed. Exactly one of PAID and CANCELLED wins for an order, because both are
 * conditional writes on the order's status and version; money that arrives for an order that cannot take it is
 * recorded as owing a refund, which the refund worker requests once.
 *
 * The provider is the source of truth for an intent: a webhook only says which intent to read again, and the
 * check-back (before a cancellation) and the reconciliation (on a schedule) read the same state through the same
 * code, so a lost webhook delays a payment fact but never loses it.
 */
export class PaymentService {
  public constructor(private readonly dependencies: PaymentServiceDependencies) {}

  /**
   * The order's open payment intent: the one it already has if the provider still lets the customer pay it,
   * else a new one created while holding the order's payment lease, so that neither the timeout nor the
   * sweeper cancels the order while the customer is being sent to pay. Only the order's own customer may: for
   * anyone else the order does not exist, and no lease is taken. A request that finds another one preparing
   * the payment waits for it and answers the same intent.
   */
  public async preparePayment(
    orderId: string,
    customerId: string,
  ): Promise<{ readonly intent: PaymentIntent; readonly created: boolean }> {
    const pause = this.dependencies.pause ?? defaultPause;
    return await retryOnConflict(
      {
        attempts: LEASE_WAIT_ROUNDS,
        isConflict: (error) => error instanceof PaymentInProgressError,
        beforeRetry: (attempt) => pause(Math.min(100 * 2 ** (attempt - 1), 800)),
      },
      () => this.prepareUnderLease(orderId, customerId),
    );
  }

  /** Applies one verified provider event; safe to call any number of times with the same event. */
  public async handleProviderEvent(
    event: ProviderEvent,
    source: PaymentFactSource,
  ): Promise<ProviderEventOutcome> {
    return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, () =>
      this.applyProviderEvent(event, source),
    );
  }

  /**
   * Cancels an order whose payment deadline has passed, after asking the provider about each intent the order
   * still has open (the check-back): a succeeded one pays the order as its webhook would have; a processing one
   * keeps the order open for the grace period; any other is cancelled at the provider first, so it cannot be
   * paid once the order is gone. Throws `PaymentProviderUnavailableError` when the provider cannot be asked
   * (nothing is cancelled on a guess), and `PaymentInProgressError` while a payment lease is live. An order no
   * longer awaiting payment is left alone, so duplicate timer firings and the sweeper change nothing.
   */
  public async expireOrder(orderId: string, reason: string): Promise<ExpiryOutcome> {
    const { orders, clock } = this.dependencies;
    return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, async () => {
      const found = await orders.get(orderId);
      if (found === undefined || found.order.status !== OrderStatus.PENDING_PAYMENT) return 'notPending';
      if (clock.now().getTime() < Date.parse(found.order.paymentDeadline)) {
        throw new PaymentDeadlineNotReachedError(orderId, found.order.paymentDeadline);
      }
      // A lease is taken only before the deadline and this read comes after it, so a request preparing the
      // payment holds it now or never will: its intent, perhaps being handed to the customer, is not cancelled
      // under it. The timer and the sweeper come back once it is released (with the intent recorded) or expired.
      if ((found.paymentLeaseUntil?.getTime() ?? 0) > clock.now().getTime()) {
        throw new PaymentInProgressError(orderId);
      }
      const checked = await this.checkBack(found);
      if (checked !== 'nothingPayable') return checked;
      const now = clock.now();
      const decided = transition(found.order, OrderStatus.CANCELLED, now, reason);
      await orders.saveTransition(found.order, decided.next, decided.transition, { noLiveLeaseAt: now });
      return 'cancelled';
    });
  }

  /** Expires overdue orders that their timers missed, at most `maxOrders` per run. */
  public async sweep(maxOrders: number): Promise<SweepResult> {
    const overdue = await this.dependencies.orders.findOverduePendingOrders(
      this.dependencies.clock.now(),
      maxOrders,
    );
    const counts = { cancelled: 0, leased: 0, paid: 0, heldForProcessing: 0, checkBackFailed: 0 };
    // Once the provider cannot be asked, the rest of the run would only wait on it (a hanging provider takes a
    // call's whole timeout each): they wait for the next run, counted as failed check-backs.
    let providerUnavailable = false;
    await forEachConcurrently(overdue, this.dependencies.sweepConcurrency ?? 8, async (orderId) => {
      if (providerUnavailable) {
        counts.checkBackFailed += 1;
        return;
      }
      try {
        const outcome = await this.expireOrder(orderId, 'payment deadline passed; cancelled by the sweeper');
        if (outcome !== 'notPending') counts[outcome] += 1;
      } catch (error) {
        if (error instanceof PaymentInProgressError) counts.leased += 1;
        else if (error instanceof PaymentProviderUnavailableError) {
          providerUnavailable = true;
          counts.checkBackFailed += 1;
        } else if (
          error instanceof PaymentProviderRejectedError ||
          error instanceof PaymentProviderInvalidResponseError
        ) {
          // This order's intent cannot be read (unknown to the provider under this key, say): it is not
          // cancelled on a guess, and the others go on.
          counts.checkBackFailed += 1;
        } else if (!(error instanceof PaymentDeadlineNotReachedError)) throw error;
      }
    });
    return { examined: overdue.length, ...counts };
  }

  /**
   * Refunds owed for longer than `stuckAfterSeconds`: the refund worker or the provider's confirmation has
   * failed them, and an operator must look (the sweeper counts them every run, and they are alarmed).
   */
  public async findStuckRefunds(stuckAfterSeconds: number, sampleSize: number): Promise<PendingRefunds> {
    const before = new Date(this.dependencies.clock.now().getTime() - stuckAfterSeconds * 1000);
    return await this.dependencies.payments.findRefundsPendingSince(before, sampleSize);
  }

  /**
   * One reconciliation pass: what webhooks did not bring, read from the provider. Events it could not deliver
   * since the checkpoint, the intents of orders still awaiting payment, and refunds still owed, each applied
   * through the same code as a webhook. Without `since`, the checkpoint moves to this pass's start once every
   * undelivered event was taken (or to the last one taken, when there were more than one pass takes).
   */
  public async reconcile(options: ReconciliationOptions): Promise<ReconciliationReport> {
    const { payments, clock } = this.dependencies;
    const startedAt = clock.now();
    const checkpoint = options.since === undefined ? await payments.reconciliationCheckpoint() : undefined;
    const since =
      options.since ??
      new Date(
        checkpoint === undefined
          ? startedAt.getTime() - FIRST_RECONCILIATION_LOOKBACK_MS
          : checkpoint.getTime() - RECONCILIATION_OVERLAP_MS,
      );
    const changed: ReconciledPayment[] = [];
    const failed: UnreconciledPayment[] = [];
    /** Settles one payment; a failure of ours (an AppError) is reported and the pass goes on. */
    const settle = async (
      found: Omit<UnreconciledPayment, 'code' | 'retryable'>,
      apply: () => Promise<ProviderEventOutcome>,
    ): Promise<UnreconciledPayment | undefined> => {
      try {
        const outcome = await apply();
        if (changesSomething(outcome) && found.orderId !== undefined) {
          changed.push({
            orderId: found.orderId,
            paymentId: found.paymentId,
            outcome,
            foundBy: found.foundBy,
          });
        }
        return undefined;
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const failure = { ...found, code: error.code, retryable: error.retryable };
        failed.push(failure);
        return failure;
      }
    };

    const undelivered = await this.dependencies.provider.undeliveredEvents(since, options.maxEvents);
    let firstRetryableFailure: Date | undefined;
    for (const event of undelivered.events) {
      // An event naming no order is reported with the order its intent names, once the provider was asked.
      const found = {
        orderId: event.orderId,
        paymentId: event.paymentId,
        foundBy: 'undeliveredEvent' as const,
      };
      const failure = await settle(found, async () => {
        const named = await this.namedEvent(event);
        found.orderId = named.orderId;
        return await this.handleProviderEvent(named, PaymentFactSource.RECONCILIATION);
      });
      if (failure?.retryable === true) firstRetryableFailure ??= event.created;
    }

    const openOrders = await this.dependencies.orders.findOverduePendingOrders(
      new Date(startedAt.getTime() + ANY_DEADLINE_MS),
      options.maxOrders,
    );
    // An intent younger than this is left to its webhook, which normally comes within seconds: at a flash sale
    // the pass would otherwise ask the provider about every order being paid at that moment.
    const askedBefore = new Date(startedAt.getTime() - options.openIntentMinAgeSeconds * 1000).toISOString();
    for (const orderId of openOrders) {
      const found = await this.dependencies.orders.get(orderId);
      const overdue = found?.payments.filter(
        (candidate) => isOpenPayment(candidate) && candidate.createdAt <= askedBefore,
      );
      for (const payment of overdue ?? []) {
        await settle({ orderId, paymentId: payment.paymentId, foundBy: 'openOrder' }, async () =>
          this.applyIntentState(
            await this.dependencies.provider.retrieveIntent(payment.paymentId),
            PaymentFactSource.RECONCILIATION,
          ),
        );
      }
    }

    const refunds = await payments.findRefundsPendingSince(startedAt, options.maxRefunds);
    for (const reference of refunds.sample) {
      await settle({ ...reference, foundBy: 'pendingRefund' }, () =>
        retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, async () =>
          this.applyRefunds(
            await payments.get(reference.orderId, reference.paymentId),
            PaymentFactSource.RECONCILIATION,
          ),
        ),
      );
    }

    if (options.since === undefined) {
      const lastTaken = undelivered.events.at(-1);
      // With none taken (maxEvents 0) it stays before every event still to take.
      const taken = undelivered.hasMore ? (lastTaken?.created ?? since) : startedAt;
      // An event that may yet be applied is listed again by the next pass.
      const next =
        firstRetryableFailure !== undefined && firstRetryableFailure < taken ? firstRetryableFailure : taken;
      await payments.saveReconciliationCheckpoint(next, checkpoint);
    }
    return {
      since: since.toISOString(),
      eventsExamined: undelivered.events.length,
      ordersExamined: openOrders.length,
      refundsExamined: refunds.sample.length,
      changed,
      failed,
      moreEvents: undelivered.hasMore,
    };
  }

  /** The newest intent of the order the customer can still pay, as the provider reports it now. */
  private async openIntentOf(found: OrderWithHistory): Promise<PaymentIntent | undefined> {
    const pending = found.payments
      .filter((payment) => isOpenPayment(payment))
      .sort((left, right) => right.createdAt.localeCompare(left.createdAt));
    for (const payment of pending) {
      const intent = await this.dependencies.provider.retrieveIntent(payment.paymentId);
      if (PAYABLE_INTENT_STATUSES.includes(intent.status)) return intent;
      if (intent.status === IntentStatus.SUCCEEDED) {
        // Paid while its webhook is still on the way: apply it now rather than offer a second intent.
        await this.applyIntentState(intent, PaymentFactSource.CHECK_BACK);
        throw new OrderNotPayableError(found.order.orderId, `its payment ${intent.paymentId} has succeeded`);
      }
    }
    return undefined;
  }

  /**
   * Takes the order's payment lease, which also reads the order, answers the open intent if it has one, and
   * otherwise creates one and records it, which releases the lease in the same write.
   */
  private async prepareUnderLease(
    orderId: string,
    customerId: string,
  ): Promise<{ readonly intent: PaymentIntent; readonly created: boolean }> {
    const { leases, provider, payments, clock } = this.dependencies;
    const { lease, order: found } = await leases.acquireToPay({
      orderId,
      customerId,
      owner: this.dependencies.newLeaseOwner(),
      now: clock.now(),
      durationSeconds: this.dependencies.leaseSeconds,
    });
    let recorded = false;
    try {
      const open = await this.openIntentOf(found);
      if (open !== undefined) return { intent: open, created: false };
      const intent = await provider.createIntent(
        { orderId, amount: found.order.totalAmount, currency: found.order.currency },
        `intent-${orderId}-${lease.fencingToken}`,
      );
      await payments.recordIntent(
        paymentFrom(reportedBy(intent, orderId), PaymentStatus.PENDING, clock.now(), {
          recordedBy: PaymentFactSource.CHECKOUT,
        }),
        lease,
      );
      recorded = true;
      return { intent, created: true };
    } finally {
      if (!recorded) {
        await leases.release(lease).catch((error: unknown) => {
          // Expired and taken over meanwhile: there is nothing of ours left to release.
          if (!(error instanceof LeaseNotHeldError)) throw error;
        });
      }
    }
  }

  /**
   * The check-back: each intent of the order that may still be paid is read from the provider and settled.
   * `nothingPayable` once no intent can take money any more, so the order may be cancelled.
   */
  private async checkBack(
    found: OrderWithHistory,
  ): Promise<Exclude<ExpiryOutcome, 'cancelled' | 'notPending'> | 'nothingPayable'> {
    const { provider } = this.dependencies;
    const { order } = found;
    for (const payment of found.payments.filter((candidate) => isOpenPayment(candidate))) {
      let intent = await provider.retrieveIntent(payment.paymentId);
      if (PAYABLE_INTENT_STATUSES.includes(intent.status) && intent.status !== IntentStatus.PROCESSING) {
        intent = await this.cancelAtProvider(intent);
      }
      if (intent.status === IntentStatus.PROCESSING) {
        const graceEnds = Date.parse(order.paymentDeadline) + this.dependencies.processingGraceSeconds * 1000;
        // Past the grace the order is cancelled anyway: should the payment still succeed, it is refunded.
        if (this.dependencies.clock.now().getTime() < graceEnds) return 'heldForProcessing';
        continue;
      }
      const outcome = await this.applyIntentState(intent, PaymentFactSource.CHECK_BACK);
      if (outcome === 'paid') return 'paid';
    }
    return 'nothingPayable';
  }

  /** Cancels an intent at the provider; if it can no longer be cancelled, its state as the provider has it. */
  private async cancelAtProvider(intent: PaymentIntent): Promise<PaymentIntent> {
    const { provider } = this.dependencies;
    try {
      return await provider.cancelIntent(intent.paymentId, `cancel-${intent.paymentId}`);
    } catch (error) {
      if (!(error instanceof PaymentProviderRejectedError)) throw error;
      // It succeeded or started processing between our read and the cancel: read it again to learn which.
      const current = await provider.retrieveIntent(intent.paymentId);
      if (PAYABLE_INTENT_STATUSES.includes(current.status) && current.status !== IntentStatus.PROCESSING) {
        throw error;
      }
      return current;
    }
  }

  /** Applies an intent's state read from the provider exactly as the event announcing it would be applied. */
  private async applyIntentState(
    intent: PaymentIntent,
    source: PaymentFactSource,
  ): Promise<ProviderEventOutcome> {
    const event = intentEvent(
      intent,
      `${source}:${intent.paymentId}:${intent.status}`,
      this.dependencies.clock.now(),
    );
    return await this.handleProviderEvent(event, source);
  }

  /** The event, naming the order its intent's metadata names when the event itself names none (a refund's). */
  private async namedEvent(event: ProviderEvent): Promise<ProviderEvent> {
    if (event.orderId !== undefined) return event;
    const { orderId } = await this.dependencies.provider.retrieveIntent(event.paymentId);
    return orderId === undefined ? event : { ...event, orderId };
  }

  /**
   * The event is applied to the order its intent's `metadata.orderId` names, and only if that order holds the
   * payment: an order holds only intents
   * it recorded when creating them. No claim of the event's id is written for it: each fact is a conditional write
   * from the payment's and the order's state as read, so an event seen again finds its fact applied (`duplicate`)
   * or no longer applicable (`ignored`). Only an unmatched event, which changes no order, is remembered by its id.
   */
  private async applyProviderEvent(
    event: ProviderEvent,
    source: PaymentFactSource,
  ): Promise<ProviderEventOutcome> {
    const { orders, payments, provider, clock } = this.dependencies;
    const { orderId } = await this.namedEvent(event);
    const found = orderId === undefined ? undefined : await orders.get(orderId);
    const existing = found?.payments.find((payment) => payment.paymentId === event.paymentId);
    if (found === undefined || existing === undefined) {
      const recorded = await payments.recordUnmatchedEvent(event, {
        eventId: event.id,
        expiresAt: new Date(clock.now().getTime() + this.dependencies.eventRetentionSeconds * 1000),
      });
      return recorded.kind === 'written' ? 'unmatched' : 'duplicate';
    }
    if (event.subject === ProviderEventSubject.REFUND) {
      return await this.applyRefunds(existing, source);
    }
    const intent = await provider.retrieveIntent(event.paymentId);
    const reported = reportedBy(intent, found.order.orderId);
    switch (intent.status) {
      case IntentStatus.SUCCEEDED:
        return await this.applySucceeded(reported, found, existing, source);
      case IntentStatus.CANCELED:
        if (existing.status === PaymentStatus.CANCELLED) return 'duplicate';
        if (!isOpenPayment(existing)) return 'ignored';
        return await this.record(reported, PaymentStatus.CANCELLED, existing, source, 'cancelled');
      case IntentStatus.REQUIRES_PAYMENT_METHOD:
        // Back to asking for a payment method after an attempt: that attempt failed.
        if (intent.lastPaymentError === undefined || !isOpenPayment(existing)) return 'ignored';
        if (existing.status === PaymentStatus.FAILED) return 'duplicate';
        return await this.record(reported, PaymentStatus.FAILED, existing, source, 'failureRecorded');
      default:
        return 'ignored';
    }
  }

  private async record(
    reported: ReportedPayment,
    status: PaymentStatus,
    existing: Payment,
    source: PaymentFactSource,
    success: ProviderEventOutcome,
  ): Promise<ProviderEventOutcome> {
    const payment = paymentFrom(reported, status, this.dependencies.clock.now(), {
      existing,
      recordedBy: source,
    });
    return outcomeOf(
      reported.orderId,
      await this.dependencies.payments.recordPayment(payment, existing),
      success,
    );
  }

  /** A refund owed is settled once the provider reports one of the payment's refunds succeeded. */
  private async applyRefunds(
    existing: Payment | undefined,
    source: PaymentFactSource,
  ): Promise<ProviderEventOutcome> {
    if (existing === undefined) return 'ignored';
    if (existing.status === PaymentStatus.REFUNDED) return 'duplicate';
    if (existing.status !== PaymentStatus.REFUND_PENDING) return 'ignored';
    const refunds = await this.dependencies.provider.refundsOf(existing.paymentId);
    if (!refunds.some((refund) => refund.status === RefundStatus.SUCCEEDED)) return 'ignored';
    const refunded: Payment = {
      ...existing,
      status: PaymentStatus.REFUNDED,
      updatedAt: this.dependencies.clock.now().toISOString(),
      recordedBy: source,
    };
    return outcomeOf(
      existing.orderId,
      await this.dependencies.payments.recordPayment(refunded, existing),
      'refunded',
    );
  }

  private async applySucceeded(
    reported: ReportedPayment,
    found: OrderWithHistory,
    existing: Payment,
    source: PaymentFactSource,
  ): Promise<ProviderEventOutcome> {
    const { payments, timers, clock } = this.dependencies;
    const decision = decideSucceededPayment(reported, found.order, existing);
    const now = clock.now();
    if (decision.kind === 'alreadySettled') return 'duplicate';
    if (decision.kind === 'refund') {
      return outcomeOf(
        reported.orderId,
        await payments.recordPayment(
          paymentFrom(reported, PaymentStatus.REFUND_PENDING, now, {
            existing,
            refundReason: decision.reason,
            recordedBy: source,
          }),
          existing,
        ),
        'refundPending',
      );
    }
    const paid = transition(found.order, OrderStatus.PAID, now, `paid by ${reported.paymentId}`);
    const outcome = outcomeOf(
      reported.orderId,
      await payments.recordPaid(
        paymentFrom(reported, PaymentStatus.SUCCEEDED, now, { existing, recordedBy: source }),
        existing,
        { previous: found.order, next: paid.next, transition: paid.transition },
      ),
      'paid',
    );
    if (outcome === 'paid') {
      await timers.cancel(reported.orderId);
    }
    return outcome;
  }
}

/** The outcomes that changed a payment; the rest leave everything as it was. */
function changesSomething(outcome: ProviderEventOutcome): boolean {
  return outcome !== 'duplicate' && outcome !== 'ignored' && outcome !== 'unmatched';
}

/** The payment facts an intent reports, for the order that holds it (never the order its metadata names). */
function reportedBy(intent: PaymentIntent, orderId: string): ReportedPayment {
  return { paymentId: intent.paymentId, orderId, amount: intent.amount, currency: intent.currency };
}

/**
 * A fact read from the provider, in the shape of the event that would have brought it; its id names the source,
 * the payment and the state read.
 */
function intentEvent(intent: PaymentIntent, id: string, at: Date): ProviderEvent {
  return {
    id,
    type: `payment_intent.${intent.status}`,
    subject: ProviderEventSubject.PAYMENT_INTENT,
    paymentId: intent.paymentId,
    orderId: intent.orderId,
    created: at,
  };
}

function defaultPause(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** A write that lost its race (the order or the payment changed since it was read) is retried from a new read. */
function outcomeOf(
  orderId: string,
  write: PaymentWriteOutcome,
  success: ProviderEventOutcome,
): ProviderEventOutcome {
  if (write.kind === 'written') return success;
  throw new ConcurrentModificationError(orderId);
}

async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  action: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await action(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
