import { isDeepStrictEqual } from 'node:util';
import {
  ConcurrentModificationError,
  LeaseNotHeldError,
  OrderNotFoundError,
  PaymentInProgressError,
} from '../../../functions/domain/errors';
import type { Order, OrderTransition } from '../../../functions/domain/order';
import { OrderStatus } from '../../../functions/domain/order-status';
import { type Payment, PaymentStatus, refusalToPay } from '../../../functions/domain/payment';
import type {
  CreateOrderOutcome,
  IdempotencyClaim,
  LeaseStore,
  OrderAdvances,
  OrderRepository,
  OrderWithHistory,
  PayLeaseRequest,
  PaymentLease,
  PaymentRepository,
  PaymentWriteOutcome,
  PendingRefunds,
  ProviderEvent,
  ProviderEventClaim,
  StatusMove,
  StatusMoveResult,
  TransitionGuard,
  UnmatchedEventOutcome,
} from '../../../functions/domain/ports';

/**
 * The order table's items as plain maps: what the in-memory ports share, as the DynamoDB adapters share one
 * table. Values are copied in and out, so a caller never holds the stored object.
 */
export class InMemoryTable {
  public readonly orders = new Map<string, { order: Order; history: OrderTransition[] }>();
  public readonly idempotencyKeys = new Map<
    string,
    { orderId: string; requestFingerprint: string; expiresAt: Date }
  >();
  /** By `orderId|paymentId`. */
  public readonly payments = new Map<string, Payment>();
  /** Claimed ids of unmatched provider events, with when each claim may be forgotten. */
  public readonly providerEvents = new Map<string, Date>();
  /** Verified events that named no payment of the order holding it, by event id. */
  public readonly unmatchedEvents = new Map<string, ProviderEvent>();
  public reconciliationCheckpoint: Date | undefined;
  /** A released lease keeps its token (so it only grows) and loses its owner. */
  public readonly leases = new Map<string, { owner?: string; fencingToken: number; expiresAt: number }>();

  /** The order still has the status, version and owner the move was decided on. */
  public orderMatches(previous: Order): boolean {
    const stored = this.orders.get(previous.orderId)?.order;
    return (
      stored !== undefined &&
      stored.status === previous.status &&
      stored.version === previous.version &&
      stored.customerId === previous.customerId
    );
  }

  public applyTransition(next: Order, transition: OrderTransition): void {
    const stored = this.orders.get(next.orderId);
    if (stored === undefined) throw new OrderNotFoundError(next.orderId);
    this.orders.set(next.orderId, { order: copy(next), history: [...stored.history, copy(transition)] });
  }

  public hasLiveLease(orderId: string, at: Date): boolean {
    const lease = this.leases.get(orderId);
    return lease !== undefined && lease.expiresAt > at.getTime();
  }

  /** The payment record is absent and expected absent, or is exactly as it was read. */
  public paymentMatches(payment: Payment, previous: Payment | undefined): boolean {
    const stored = this.payments.get(paymentKey(payment.orderId, payment.paymentId));
    if (previous === undefined) return stored === undefined;
    return stored?.status === previous.status && stored.updatedAt === previous.updatedAt;
  }

  public putPayment(payment: Payment): void {
    this.payments.set(paymentKey(payment.orderId, payment.paymentId), copy(payment));
  }
}

export function paymentKey(orderId: string, paymentId: string): string {
  return `${orderId}|${paymentId}`;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** {@link OrderRepository} over an {@link InMemoryTable}, with the DynamoDB adapter's conditions. */
export class InMemoryOrderRepository implements OrderRepository, OrderAdvances {
  public constructor(
    protected readonly table: InMemoryTable,
    /** "Now" for the expiry of idempotency keys, as the adapter is given. */
    private readonly now: () => Date,
  ) {}

  public async create(
    order: Order,
    created: OrderTransition,
    idempotency?: IdempotencyClaim,
  ): Promise<CreateOrderOutcome> {
    const used = idempotency === undefined ? undefined : this.table.idempotencyKeys.get(idempotency.key);
    const live = used !== undefined && epochSeconds(used.expiresAt) >= epochSeconds(this.now());
    // A live key naming this order and request was claimed by a request that never wrote the order: go on.
    const resumes =
      live && used.orderId === order.orderId && used.requestFingerprint === idempotency?.requestFingerprint;
    if (live && !resumes) {
      return { kind: 'keyAlreadyUsed', orderId: used.orderId, requestFingerprint: used.requestFingerprint };
    }
    const existing = this.table.orders.get(order.orderId)?.order;
    if (existing !== undefined && idempotency !== undefined && existing.customerId === order.customerId) {
      return {
        kind: 'keyAlreadyUsed',
        orderId: order.orderId,
        requestFingerprint: idempotency.requestFingerprint,
      };
    }
    if (existing !== undefined) throw new ConcurrentModificationError(order.orderId);
    this.table.orders.set(order.orderId, { order: copy(order), history: [copy(created)] });
    if (idempotency !== undefined && !resumes) {
      this.table.idempotencyKeys.set(idempotency.key, {
        orderId: order.orderId,
        requestFingerprint: idempotency.requestFingerprint,
        expiresAt: idempotency.expiresAt,
      });
    }
    return { kind: 'created' };
  }

  public async get(orderId: string): Promise<OrderWithHistory | undefined> {
    const stored = this.table.orders.get(orderId);
    if (stored === undefined) return undefined;
    const payments = [...this.table.payments.values()]
      .filter((payment) => payment.orderId === orderId)
      .sort((left, right) => left.createdAt.localeCompare(right.createdAt));
    const lease = this.table.leases.get(orderId);
    const leased = lease?.owner === undefined ? {} : { paymentLeaseUntil: new Date(lease.expiresAt) };
    return copy({ order: stored.order, history: stored.history, payments, ...leased });
  }

  public async saveTransition(
    previous: Order,
    next: Order,
    transition: OrderTransition,
    guard: TransitionGuard = {},
  ): Promise<void> {
    if (!this.table.orders.has(previous.orderId)) throw new OrderNotFoundError(previous.orderId);
    if (!this.table.orderMatches(previous)) throw new ConcurrentModificationError(previous.orderId);
    if (guard.noLiveLeaseAt !== undefined && this.table.hasLiveLease(previous.orderId, guard.noLiveLeaseAt)) {
      throw new PaymentInProgressError(previous.orderId);
    }
    this.table.applyTransition(next, transition);
  }

  /** As the adapter's: the stored status alone decides; a refused move returns the order as it stood. */
  public async advance(orderId: string, move: StatusMove): Promise<StatusMoveResult> {
    const stored = this.table.orders.get(orderId);
    if (stored === undefined) throw new OrderNotFoundError(orderId);
    const { order } = stored;
    if (!move.from.includes(order.status)) return { moved: false, order: copy(order) };
    const at = move.at.toISOString();
    const next: Order = { ...order, status: move.to, version: order.version + 1, updatedAt: at };
    this.table.applyTransition(next, {
      orderId,
      version: next.version,
      from: order.status,
      to: move.to,
      at,
      reason: move.reason,
    });
    return { moved: true, order: copy(next) };
  }

  public async findOverduePendingOrders(now: Date, limit: number): Promise<string[]> {
    return [...this.table.orders.values()]
      .map(({ order }) => order)
      .filter(
        (order) => order.status === OrderStatus.PENDING_PAYMENT && order.paymentDeadline < now.toISOString(),
      )
      .sort(
        (left, right) =>
          left.paymentDeadline.localeCompare(right.paymentDeadline) ||
          left.orderId.localeCompare(right.orderId),
      )
      .slice(0, limit)
      .map((order) => order.orderId);
  }
}

/** {@link LeaseStore} over an {@link InMemoryTable}: a lease is taken only when none is live, tokens only grow. */
export class InMemoryLeaseStore implements LeaseStore {
  public constructor(protected readonly table: InMemoryTable) {}

  public async acquire(
    orderId: string,
    owner: string,
    now: Date,
    durationSeconds: number,
  ): Promise<PaymentLease> {
    if (!this.table.orders.has(orderId)) throw new OrderNotFoundError(orderId);
    const held = this.table.leases.get(orderId);
    if (held?.owner === owner && held.expiresAt > now.getTime()) {
      return { orderId, owner, fencingToken: held.fencingToken, expiresAt: new Date(held.expiresAt) };
    }
    if (this.table.hasLiveLease(orderId, now)) throw new PaymentInProgressError(orderId);
    const fencingToken = (this.table.leases.get(orderId)?.fencingToken ?? 0) + 1;
    const expiresAt = new Date(now.getTime() + durationSeconds * 1000);
    this.table.leases.set(orderId, { owner, fencingToken, expiresAt: expiresAt.getTime() });
    return { orderId, owner, fencingToken, expiresAt };
  }

  public async acquireToPay(
    request: PayLeaseRequest,
  ): Promise<{ readonly lease: PaymentLease; readonly order: OrderWithHistory }> {
    const { orderId, customerId, owner, now, durationSeconds } = request;
    const refused = refusalToPay(orderId, this.table.orders.get(orderId)?.order, customerId, now);
    if (refused !== undefined) throw refused;
    const lease = await this.acquire(orderId, owner, now, durationSeconds);
    const order = await new InMemoryOrderRepository(this.table, () => now).get(orderId);
    if (order === undefined) throw new OrderNotFoundError(orderId);
    return { lease, order };
  }

  public async release(lease: PaymentLease): Promise<void> {
    const stored = this.table.leases.get(lease.orderId);
    if (stored?.owner !== lease.owner || stored.fencingToken !== lease.fencingToken) {
      throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
    }
    this.table.leases.set(lease.orderId, { fencingToken: stored.fencingToken, expiresAt: 0 });
  }
}

/** Refused like a cancelled DynamoDB transaction whose failure the adapter does not translate. */
export class TransactionRefusedError extends Error {
  public override readonly name = 'TransactionRefusedError';
}

type OrderMove = { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition };

/** {@link PaymentRepository} over an {@link InMemoryTable}: each write all or nothing, conditions as in DynamoDB. */
export class InMemoryPaymentRepository implements PaymentRepository {
  public constructor(protected readonly table: InMemoryTable) {}

  public async get(orderId: string, paymentId: string): Promise<Payment | undefined> {
    const stored = this.table.payments.get(paymentKey(orderId, paymentId));
    return stored === undefined ? undefined : copy(stored);
  }

  public async recordIntent(payment: Payment, lease: PaymentLease): Promise<void> {
    const recorded = this.table.payments.get(paymentKey(payment.orderId, payment.paymentId));
    if (recorded !== undefined && isDeepStrictEqual(recorded, payment)) return;
    const current = this.table.leases.get(lease.orderId);
    if (current?.owner !== lease.owner || current.fencingToken !== lease.fencingToken) {
      throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
    }
    if (!this.table.paymentMatches(payment, undefined)) {
      throw new TransactionRefusedError(`payment ${payment.paymentId} exists`);
    }
    this.table.putPayment(payment);
    this.table.leases.set(lease.orderId, { fencingToken: current.fencingToken, expiresAt: 0 });
  }

  public async recordPaid(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<PaymentWriteOutcome> {
    const refused = this.refusal(payment, previous) ?? this.orderRefusal(order);
    if (refused !== undefined) return refused;
    this.table.applyTransition(order.next, order.transition);
    this.table.putPayment(payment);
    return { kind: 'written' };
  }

  public async recordPayment(payment: Payment, previous: Payment | undefined): Promise<PaymentWriteOutcome> {
    const refused = this.refusal(payment, previous);
    if (refused !== undefined) return refused;
    this.table.putPayment(payment);
    return { kind: 'written' };
  }

  public async recordPaymentWithTransition(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<PaymentWriteOutcome> {
    if (!this.table.paymentMatches(payment, previous)) return { kind: 'paymentChanged' };
    const refused = this.orderRefusal(order);
    if (refused !== undefined) return refused;
    this.table.applyTransition(order.next, order.transition);
    this.table.putPayment(payment);
    return { kind: 'written' };
  }

  public async findRefundsPendingSince(before: Date, sampleSize: number): Promise<PendingRefunds> {
    const pending = [...this.table.payments.values()]
      .filter(
        (payment) =>
          payment.status === PaymentStatus.REFUND_PENDING && payment.updatedAt < before.toISOString(),
      )
      .sort((left, right) => left.updatedAt.localeCompare(right.updatedAt));
    return {
      count: pending.length,
      sample: pending.slice(0, sampleSize).map(({ orderId, paymentId }) => ({ orderId, paymentId })),
    };
  }

  public async recordUnmatchedEvent(
    event: ProviderEvent,
    claim: ProviderEventClaim,
  ): Promise<UnmatchedEventOutcome> {
    if (this.table.providerEvents.has(claim.eventId)) return { kind: 'duplicateEvent' };
    this.table.providerEvents.set(claim.eventId, claim.expiresAt);
    this.table.unmatchedEvents.set(claim.eventId, copy(event));
    return { kind: 'written' };
  }

  public async reconciliationCheckpoint(): Promise<Date | undefined> {
    const stored = this.table.reconciliationCheckpoint;
    return stored === undefined ? undefined : new Date(stored.getTime());
  }

  public async saveReconciliationCheckpoint(next: Date, previous: Date | undefined): Promise<boolean> {
    if (this.table.reconciliationCheckpoint?.getTime() !== previous?.getTime()) return false;
    this.table.reconciliationCheckpoint = new Date(next.getTime());
    return true;
  }

  /** Why the payment part of a write fails. */
  private refusal(payment: Payment, previous: Payment | undefined): PaymentWriteOutcome | undefined {
    return this.table.paymentMatches(payment, previous) ? undefined : { kind: 'paymentChanged' };
  }

  private orderRefusal(order: OrderMove): { readonly kind: 'orderChanged' } | undefined {
    return this.table.orderMatches(order.previous) ? undefined : { kind: 'orderChanged' };
  }
}

/** The three stores over one table, as the services are given them. */
export function inMemoryStores(now: () => Date): {
  readonly table: InMemoryTable;
  readonly orders: InMemoryOrderRepository;
  readonly payments: InMemoryPaymentRepository;
  readonly leases: InMemoryLeaseStore;
} {
  const table = new InMemoryTable();
  return {
    table,
    orders: new InMemoryOrderRepository(table, now),
    payments: new InMemoryPaymentRepository(table),
    leases: new InMemoryLeaseStore(table),
  };
}
