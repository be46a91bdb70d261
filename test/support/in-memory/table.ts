import {
  ConcurrentModificationError,
  LeaseNotHeldError,
  OrderNotFoundError,
  PaymentInProgressError,
} from '../../../functions/domain/errors';
import type { Order, OrderTransition } from '../../../functions/domain/order';
import { OrderStatus } from '../../../functions/domain/order-status';
import { type Payment, PaymentStatus } from '../../../functions/domain/payment';
import type {
  CreateOrderOutcome,
  IdempotencyClaim,
  LeaseStore,
  OrderRepository,
  OrderWithHistory,
  PaymentLease,
  PaymentRepository,
  PaymentWriteOutcome,
  PendingRefunds,
  ProviderEvent,
  ProviderEventClaim,
  TransitionGuard,
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
  /** The order each payment id was first recorded for. */
  public readonly paymentOwners = new Map<string, string>();
  /** Claimed provider event ids, with when each claim may be forgotten. */
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

  public ownerMatches(payment: Payment): boolean {
    const owner = this.paymentOwners.get(payment.paymentId);
    return owner === undefined || owner === payment.orderId;
  }

  public putPayment(payment: Payment): void {
    this.payments.set(paymentKey(payment.orderId, payment.paymentId), copy(payment));
    this.paymentOwners.set(payment.paymentId, payment.orderId);
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
export class InMemoryOrderRepository implements OrderRepository {
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
    if (idempotency !== undefined) {
      const used = this.table.idempotencyKeys.get(idempotency.key);
      if (used !== undefined && epochSeconds(used.expiresAt) >= epochSeconds(this.now())) {
        return { kind: 'keyAlreadyUsed', orderId: used.orderId, requestFingerprint: used.requestFingerprint };
      }
    }
    if (this.table.orders.has(order.orderId)) throw new ConcurrentModificationError(order.orderId);
    this.table.orders.set(order.orderId, { order: copy(order), history: [copy(created)] });
    if (idempotency !== undefined) {
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
    return copy({ order: stored.order, history: stored.history, payments });
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
    if (this.table.hasLiveLease(orderId, now)) throw new PaymentInProgressError(orderId);
    const fencingToken = (this.table.leases.get(orderId)?.fencingToken ?? 0) + 1;
    const expiresAt = new Date(now.getTime() + durationSeconds * 1000);
    this.table.leases.set(orderId, { owner, fencingToken, expiresAt: expiresAt.getTime() });
    return { orderId, owner, fencingToken, expiresAt };
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

  public async orderOf(paymentId: string): Promise<string | undefined> {
    return this.table.paymentOwners.get(paymentId);
  }

  public async recordIntent(payment: Payment, lease: PaymentLease): Promise<void> {
    const current = this.table.leases.get(lease.orderId);
    if (current?.owner !== lease.owner || current.fencingToken !== lease.fencingToken) {
      throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
    }
    if (!this.table.paymentMatches(payment, undefined) || !this.table.ownerMatches(payment)) {
      throw new TransactionRefusedError(`payment ${payment.paymentId} exists or belongs to another order`);
    }
    this.table.putPayment(payment);
  }

  public async recordPaid(
    payment: Payment,
    previous: Payment | undefined,
    order: OrderMove,
    event: ProviderEventClaim,
  ): Promise<PaymentWriteOutcome> {
    const refused = this.refusal(payment, previous, event) ?? this.orderRefusal(order);
    if (refused !== undefined) return refused;
    this.table.applyTransition(order.next, order.transition);
    this.commit(payment, event);
    return { kind: 'written' };
  }

  public async recordPayment(
    payment: Payment,
    previous: Payment | undefined,
    event: ProviderEventClaim,
  ): Promise<PaymentWriteOutcome> {
    const refused = this.refusal(payment, previous, event);
    if (refused !== undefined) return refused;
    this.commit(payment, event);
    return { kind: 'written' };
  }

  public async recordPaymentWithTransition(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<Exclude<PaymentWriteOutcome, { readonly kind: 'duplicateEvent' }>> {
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
  ): Promise<Extract<PaymentWriteOutcome, { readonly kind: 'written' | 'duplicateEvent' }>> {
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

  /** Why the payment part of a write fails, in the adapter's order: a claimed event first. */
  private refusal(
    payment: Payment,
    previous: Payment | undefined,
    event: ProviderEventClaim,
  ): PaymentWriteOutcome | undefined {
    if (this.table.providerEvents.has(event.eventId)) return { kind: 'duplicateEvent' };
    if (!this.table.paymentMatches(payment, previous) || !this.table.ownerMatches(payment)) {
      return { kind: 'paymentChanged' };
    }
    return undefined;
  }

  private orderRefusal(order: OrderMove): { readonly kind: 'orderChanged' } | undefined {
    return this.table.orderMatches(order.previous) ? undefined : { kind: 'orderChanged' };
  }

  private commit(payment: Payment, event: ProviderEventClaim): void {
    this.table.putPayment(payment);
    this.table.providerEvents.set(event.eventId, event.expiresAt);
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
