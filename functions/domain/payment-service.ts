import { CONFLICT_ATTEMPTS, retryOnConflict } from './conflict-retry';
import {
  ConcurrentModificationError,
  LeaseNotHeldError,
  OrderNotFoundError,
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
  PaymentStatus,
  paymentFrom,
  type ReportedPayment,
} from './payment';
import type {
  Clock,
  LeaseStore,
  OrderRepository,
  PaymentIntent,
  PaymentProvider,
  PaymentRepository,
  PaymentTimers,
  PaymentWriteOutcome,
  ProviderEventClaim,
  StuckRefunds,
} from './ports';

export const ProviderEventType = {
  PAYMENT_SUCCEEDED: 'payment.succeeded',
  PAYMENT_FAILED: 'payment.failed',
  REFUND_SUCCEEDED: 'refund.succeeded',
} as const;

export type ProviderEventType = (typeof ProviderEventType)[keyof typeof ProviderEventType];

/** A verified callback from the payment provider. */
export interface ProviderEvent {
  readonly id: string;
  readonly type: ProviderEventType;
  readonly data: ReportedPayment;
}

export type ProviderEventOutcome =
  | 'paid'
  | 'refundPending'
  | 'failureRecorded'
  | 'refunded'
  /** Nothing changed: the event, or the payment's outcome, was seen before. */
  | 'duplicate'
  /** Nothing to do: e.g. a refund confirmation for a payment we never asked to refund. */
  | 'ignored';

export type ExpiryOutcome = 'cancelled' | 'notPending';

export interface SweepResult {
  readonly examined: number;
  readonly cancelled: number;
  /** Overdue orders left for the next run because a payment was being prepared on them. */
  readonly leased: number;
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
  /** Orders the sweeper cancels at the same time; bounded so a backlog cannot flood the table. */
  readonly sweepConcurrency?: number;
}

/**
 * The payment window: preparing a payment under a lease, applying the provider's callbacks, and expiring
 * orders whose deadline passed. Exactly one of PAID and CANCELLED wins for an order, because both are
 * conditional writes on the order's status and version; money that arrives for an order that cannot take it is
 * recorded as owing a refund, which the refund worker requests once.
 */
export class PaymentService {
  public constructor(private readonly dependencies: PaymentServiceDependencies) {}

  /**
   * Creates a payment intent at the provider while holding the order's payment lease, so that neither the
   * timeout nor the sweeper cancels the order while the customer is being sent to pay. Only the order's own
   * customer may: for anyone else the order does not exist, and no lease is taken.
   */
  public async preparePayment(orderId: string, customerId: string): Promise<PaymentIntent> {
    const { orders, leases, provider, payments, clock } = this.dependencies;
    const found = await orders.get(orderId);
    if (found === undefined || found.order.customerId !== customerId) throw new OrderNotFoundError(orderId);
    const { order } = found;
    const now = clock.now();
    if (order.status !== OrderStatus.PENDING_PAYMENT) {
      throw new OrderNotPayableError(orderId, `it is ${order.status}`);
    }
    if (now.getTime() >= Date.parse(order.paymentDeadline)) {
      throw new OrderNotPayableError(orderId, `its payment deadline ${order.paymentDeadline} has passed`);
    }
    const lease = await leases.acquire(
      orderId,
      this.dependencies.newLeaseOwner(),
      now,
      this.dependencies.leaseSeconds,
    );
    try {
      const intent = await provider.createIntent(
        { orderId, amount: order.totalAmount, currency: order.currency },
        `intent-${orderId}-${lease.fencingToken}`,
      );
      await payments.recordIntent(paymentFrom(intent, PaymentStatus.PENDING, clock.now()), lease);
      return intent;
    } finally {
      await leases.release(lease).catch((error: unknown) => {
        // Expired and taken over meanwhile: there is nothing of ours left to release.
        if (!(error instanceof LeaseNotHeldError)) throw error;
      });
    }
  }

  /** Applies one verified provider callback; safe to call any number of times with the same event. */
  public async handleProviderEvent(event: ProviderEvent): Promise<ProviderEventOutcome> {
    return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, () => this.applyProviderEvent(event));
  }

  /**
   * Cancels an order whose payment deadline has passed, unless a payment lease is live (then
   * `PaymentInProgressError`: try later). An order no longer awaiting payment is left alone, so duplicate
   * timer firings and the sweeper change nothing.
   */
  public async expireOrder(orderId: string, reason: string): Promise<ExpiryOutcome> {
    const { orders, clock } = this.dependencies;
    return await retryOnConflict({ attempts: CONFLICT_ATTEMPTS }, async () => {
      const found = await orders.get(orderId);
      if (found === undefined || found.order.status !== OrderStatus.PENDING_PAYMENT) return 'notPending';
      const now = clock.now();
      if (now.getTime() < Date.parse(found.order.paymentDeadline)) {
        throw new PaymentDeadlineNotReachedError(orderId, found.order.paymentDeadline);
      }
      const decided = transition(found.order, OrderStatus.CANCELLED, now, reason);
      await orders.saveTransition(found.order, decided.next, decided.transition, { noLiveLeaseAt: now });
      return 'cancelled';
    });
  }

  /** Cancels overdue orders that their timers missed, at most `maxOrders` per run. */
  public async sweep(maxOrders: number): Promise<SweepResult> {
    const overdue = await this.dependencies.orders.findOverduePendingOrders(
      this.dependencies.clock.now(),
      maxOrders,
    );
    let cancelled = 0;
    let leased = 0;
    await forEachConcurrently(overdue, this.dependencies.sweepConcurrency ?? 8, async (orderId) => {
      try {
        if (
          (await this.expireOrder(orderId, 'payment deadline passed; cancelled by the sweeper')) ===
          'cancelled'
        ) {
          cancelled += 1;
        }
      } catch (error) {
        if (error instanceof PaymentInProgressError) leased += 1;
        else if (!(error instanceof PaymentDeadlineNotReachedError)) throw error;
      }
    });
    return { examined: overdue.length, cancelled, leased };
  }

  /**
   * Refunds owed for longer than `stuckAfterSeconds`: the refund worker or the provider's confirmation has
   * failed them, and an operator must look (the sweeper counts them every run, and they are alarmed).
   */
  public async findStuckRefunds(stuckAfterSeconds: number, sampleSize: number): Promise<StuckRefunds> {
    const before = new Date(this.dependencies.clock.now().getTime() - stuckAfterSeconds * 1000);
    return await this.dependencies.payments.findRefundsPendingSince(before, sampleSize);
  }

  private claimOf(event: ProviderEvent): ProviderEventClaim {
    const now = this.dependencies.clock.now();
    return {
      eventId: event.id,
      expiresAt: new Date(now.getTime() + this.dependencies.eventRetentionSeconds * 1000),
    };
  }

  private async applyProviderEvent(event: ProviderEvent): Promise<ProviderEventOutcome> {
    const { payments } = this.dependencies;
    // A payment id belongs to the order it was first recorded for, whatever a later callback names.
    const orderId = (await payments.orderOf(event.data.paymentId)) ?? event.data.orderId;
    const reported: ReportedPayment = { ...event.data, orderId };
    const existing = await payments.get(orderId, reported.paymentId);
    switch (event.type) {
      case ProviderEventType.PAYMENT_SUCCEEDED:
        return await this.applySucceeded(event, reported, existing);
      case ProviderEventType.PAYMENT_FAILED:
        if (!isOpenPayment(existing) || existing?.status === PaymentStatus.FAILED) return 'duplicate';
        return outcomeOf(
          event.data.orderId,
          await payments.recordPayment(
            paymentFrom(reported, PaymentStatus.FAILED, this.dependencies.clock.now(), existing),
            existing,
            this.claimOf(event),
          ),
          'failureRecorded',
        );
      case ProviderEventType.REFUND_SUCCEEDED:
        if (existing === undefined) return 'ignored';
        if (existing.status === PaymentStatus.REFUNDED) return 'duplicate';
        if (existing.status !== PaymentStatus.REFUND_PENDING) return 'ignored';
        return outcomeOf(
          event.data.orderId,
          await payments.recordPayment(
            {
              ...existing,
              status: PaymentStatus.REFUNDED,
              updatedAt: this.dependencies.clock.now().toISOString(),
            },
            existing,
            this.claimOf(event),
          ),
          'refunded',
        );
    }
  }

  private async applySucceeded(
    event: ProviderEvent,
    reported: ReportedPayment,
    existing: Payment | undefined,
  ): Promise<ProviderEventOutcome> {
    const { orders, payments, timers, clock } = this.dependencies;
    const found = await orders.get(reported.orderId);
    const decision = decideSucceededPayment(reported, found?.order, existing);
    const now = clock.now();
    if (decision.kind === 'alreadySettled') return 'duplicate';
    if (decision.kind === 'refund') {
      return outcomeOf(
        event.data.orderId,
        await payments.recordPayment(
          paymentFrom(reported, PaymentStatus.REFUND_PENDING, now, existing, decision.reason),
          existing,
          this.claimOf(event),
        ),
        'refundPending',
      );
    }
    if (found === undefined) throw new OrderNotFoundError(reported.orderId);
    const paid = transition(found.order, OrderStatus.PAID, now, `paid by ${reported.paymentId}`);
    const outcome = outcomeOf(
      event.data.orderId,
      await payments.recordPaid(
        paymentFrom(reported, PaymentStatus.SUCCEEDED, now, existing),
        existing,
        { previous: found.order, next: paid.next, transition: paid.transition },
        this.claimOf(event),
      ),
      'paid',
    );
    if (outcome === 'paid') {
      await timers.cancel(reported.orderId);
    }
    return outcome;
  }
}

/** A write that lost its race (the order or the payment changed since it was read) is retried from a new read. */
function outcomeOf(
  orderId: string,
  write: PaymentWriteOutcome,
  success: ProviderEventOutcome,
): ProviderEventOutcome {
  if (write.kind === 'written') return success;
  if (write.kind === 'duplicateEvent') return 'duplicate';
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
