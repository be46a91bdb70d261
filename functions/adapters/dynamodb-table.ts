import { createHash } from 'node:crypto';
import { TransactionCanceledException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import * as z from 'zod/mini';
import { retryOnConflict } from '../domain/conflict-retry';
import { ErrorCode, SchemaViolationError } from '../domain/errors';
import type { CommittedChange } from '../domain/event-derivation';
import type { Order, OrderTransition } from '../domain/order';
import { OrderStatus } from '../domain/order-status';
import { type Payment, PaymentFactSource, PaymentStatus, RefundReason } from '../domain/payment';
import type { OrderWithHistory } from '../domain/ports';
import {
  CompensatedFrom,
  type LedgerEntry,
  type StepRef,
  type StepResult,
  StepStatus,
} from '../domain/saga-ledger';
import { type FieldIssue, parseWith } from '../domain/validation';

/**
 * The single-table layout, in one place. An order (its timeline, its payments and its payment lease inside it, see
 * {@link orderItem}), the payments that owe a refund and its saga steps share the order's partition, so one
 * strongly consistent query reads the order's whole story and one transaction can condition on any of them. Keys
 * that must be unique across orders (idempotency keys, provider event ids) have partitions of their own, so
 * `attribute_not_exists` on them is a lock on the value. Lease items (still checked by a cancellation) and payment
 * owners (no longer read) are the previous layout's.
 */
export const keys = {
  order: (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'ORDER' }),
  payment: (orderId: string, paymentId: string) => ({ PK: `ORDER#${orderId}`, SK: `PAYMENT#${paymentId}` }),
  lease: (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'LEASE' }),
  sagaStep: (orderId: string, step: string) => ({ PK: `ORDER#${orderId}`, SK: `SAGA#${step}` }),
  idempotencyKey: (key: string) => ({ PK: `IDEMPOTENCY#${key}`, SK: 'IDEMPOTENCY' }),
  paymentOwner: (paymentId: string) => ({ PK: `PAYMENT#${paymentId}`, SK: 'OWNER' }),
  providerEvent: (eventId: string) => ({ PK: `PROVIDER_EVENT#${eventId}`, SK: 'EVENT' }),
  reconciliationCheckpoint: () => ({ PK: 'RECONCILIATION', SK: 'CHECKPOINT' }),
} as const;

export const ENTITY = {
  order: 'Order',
  payment: 'Payment',
  lease: 'PaymentLease',
  sagaStep: 'SagaStep',
  idempotencyKey: 'IdempotencyKey',
  paymentOwner: 'PaymentOwner',
  providerEvent: 'ProviderEvent',
  reconciliationCheckpoint: 'ReconciliationCheckpoint',
} as const;

export type Item = Record<string, unknown>;
export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * Write shards of the pending-payment index. Each order writes its shard twice (entering the index and leaving
 * it), and one partition takes 1,000 writes/s, a limit no quota raises: 10,000 orders/s need at least 20 shards.
 * 32 keep each under 625 writes/s and divide 256, so the first byte of the hash spreads orders evenly. Readers
 * query every shard from 0 to n - 1, so entries written when there were 8 shards are still found.
 */
export const PENDING_INDEX_SHARDS = 32;

/** The sparse index's keys, present only while an order awaits payment. */
export function pendingIndexAttributes(order: Order): { pendingShard: string; pendingDeadline: string } {
  return {
    pendingShard: `PENDING#${shardOf(order.orderId)}`,
    pendingDeadline: `${order.paymentDeadline}#${order.orderId}`,
  };
}

/** Shards of the refund-pending index; the same hash of the order id as the pending-payment index. */
export const REFUND_INDEX_SHARDS = PENDING_INDEX_SHARDS;

function shardOf(orderId: string): number {
  return createHash('sha256').update(orderId).digest().readUInt8(0) % PENDING_INDEX_SHARDS;
}

/**
 * The refund-pending index's keys, present only while a payment owes a refund. Every payment write is a whole
 * `Put` conditioned on the state it was read in, so the move to REFUNDED drops them with no extra write.
 */
export function refundIndexAttributes(payment: Payment): { refundShard: string; refundPendingSince: string } {
  return {
    refundShard: `REFUND#${shardOf(payment.orderId)}`,
    refundPendingSince: `${payment.updatedAt}#${payment.orderId}#${payment.paymentId}`,
  };
}

/** Every item of one order's partition (the order with its history, payments, saga steps), read consistently. */
export async function orderPartition(
  client: DynamoDBDocumentClient,
  tableName: string,
  orderId: string,
): Promise<Item[]> {
  const items: Item[] = [];
  let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.order(orderId).PK },
        ConsistentRead: true,
        ExclusiveStartKey: exclusiveStartKey,
      }),
    );
    items.push(...(page.Items ?? []));
    exclusiveStartKey = page.LastEvaluatedKey;
  } while (exclusiveStartKey !== undefined);
  return items;
}

export function toEpochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

export interface CancellationReason {
  readonly code: string | undefined;
  readonly item: Item | undefined;
}

/** The per-item reasons of a cancelled transaction, in the order of its items; empty for any other error. */
export function cancellationReasons(error: unknown): CancellationReason[] {
  if (!(error instanceof TransactionCanceledException)) {
    return [];
  }
  return (error.CancellationReasons ?? []).map((reason) => ({
    code: reason.Code,
    item: reason.Item === undefined ? undefined : unmarshall(reason.Item),
  }));
}

export function failedCondition(reasons: readonly CancellationReason[], index: number): boolean {
  return reasons[index]?.code === 'ConditionalCheckFailed';
}

const TRANSACTION_CONFLICT_ATTEMPTS = 4;

/**
 * Runs a transaction, retrying only DynamoDB's `TransactionConflict` (another transaction held one of the items
 * at that instant, so our conditions were never evaluated). Condition failures are answers, not retried.
 */
export async function transactWrite(client: DynamoDBDocumentClient, items: TransactItems): Promise<void> {
  await retryOnConflict(
    {
      attempts: TRANSACTION_CONFLICT_ATTEMPTS,
      isConflict: (error) => {
        const reasons = cancellationReasons(error);
        return (
          reasons.some((reason) => reason.code === 'TransactionConflict') &&
          !reasons.some((reason) => reason.code === 'ConditionalCheckFailed')
        );
      },
      beforeRetry: conflictBackoff,
    },
    () => client.send(new TransactWriteCommand({ TransactItems: items })),
  );
}

function conflictBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
}

/**
 * Runs one conditional single-item write, retrying only `TransactionConflictException` (a transaction held the
 * item at that instant, so the condition was never evaluated), as {@link transactWrite} does for transactions.
 */
export async function conditionalWrite<T>(write: () => Promise<T>): Promise<T> {
  return await retryOnConflict(
    {
      attempts: TRANSACTION_CONFLICT_ATTEMPTS,
      isConflict: (error) => error instanceof TransactionConflictException,
      beforeRetry: conflictBackoff,
    },
    write,
  );
}

/**
 * A condition that no payment lease item of the previous layout is live at `now`. Leases live in the order item
 * now (see {@link NO_LIVE_LEASE_CONDITION}); an item of the old layout is live at most one lease duration after the
 * deploy, so this check may go once every old lease expired.
 */
export function noLiveLeaseCheck(tableName: string, orderId: string, now: Date): TransactItems[number] {
  return {
    ConditionCheck: {
      TableName: tableName,
      Key: keys.lease(orderId),
      ConditionExpression: 'attribute_not_exists(PK) OR leaseExpiresAt <= :now',
      ExpressionAttributeValues: { ':now': now.getTime() },
    },
  };
}

/**
 * The payment lease lives in the order item: its holder (`leaseOwner`) and expiry (`leaseExpiresAt`, epoch
 * milliseconds), both removed on release, and the fencing counter (`fencingToken`), never removed, so it only
 * grows. That no lease is live is one more clause of the order's own conditional write, not another item.
 */
export const NO_LIVE_LEASE_CONDITION =
  '(attribute_not_exists(leaseExpiresAt) OR leaseExpiresAt <= :leaseNow)';

/** Whether an order item (as read, or as a failed condition returned it) holds a lease live at `now`. */
export function holdsLiveLease(item: Item | undefined, now: Date): boolean {
  return typeof item?.leaseExpiresAt === 'number' && item.leaseExpiresAt > now.getTime();
}

/**
 * One entry of the order item's `history` list: the status reached (`t`), when (`a`, epoch milliseconds) and why
 * (`r`). Every write of the order carries the whole item, so the names are short and nothing derivable is
 * stored: the list holds one entry per version from 1, each appended by the write that sets its version
 * (`transitionUpdate`, `advance` in `dynamodb-order-repository.ts`), so the n-th entry is version n and moved from
 * the status the entry before it reached. Items written before issue 21 hold long entries (`version`, `from`,
 * `to`, `at`, `reason`); a list may begin with those and go on with short ones, and {@link toHistory} reads both.
 */
export interface HistoryEntry {
  readonly t: OrderStatus;
  readonly a: number;
  readonly r: string;
}

export function historyEntry(move: Pick<OrderTransition, 'to' | 'at' | 'reason'>): HistoryEntry {
  return { t: move.to, a: Date.parse(move.at), r: move.reason };
}

/**
 * The order's fields that its item does not store, since its timeline holds them: `createdAt` is the first
 * entry's time, `updatedAt` the last one's (a move sets both from one clock reading). An item written before
 * issue 21 stores them too; {@link toOrder} reads them from the timeline all the same.
 */
export const ORDER_FIELDS_FROM_HISTORY: readonly (keyof Order)[] = ['createdAt', 'updatedAt'];

/** The order's fields that its item stores. */
function storedFields(order: Order): Partial<Order> {
  return Object.fromEntries(
    Object.entries(order).filter(([field]) => !ORDER_FIELDS_FROM_HISTORY.includes(field as keyof Order)),
  );
}

/**
 * A new order's item: the order, its timeline as the `history` list (one entry per version, appended by the
 * same conditional write that moves the order, see `transitionUpdate`), the pending index's keys, and the map of
 * its payments (see {@link EMBEDDED_PAYMENTS}).
 */
export function orderItem(order: Order, created: OrderTransition): Item {
  return {
    ...keys.order(order.orderId),
    entityType: ENTITY.order,
    ...storedFields(order),
    history: [historyEntry(created)],
    ...pendingIndexAttributes(order),
    // Empty until its first payment intent: present, so recording a payment is a plain SET of its entry.
    [EMBEDDED_PAYMENTS]: {},
  };
}

/** A new saga step entry: its key and reference, with the attributes of the status it starts in. */
export function sagaStepItem(ref: StepRef, attributes: Item): Item {
  return {
    ...keys.sagaStep(ref.orderId, ref.step),
    entityType: ENTITY.sagaStep,
    orderId: ref.orderId,
    step: ref.step,
    ...attributes,
  };
}

export function paymentItem(payment: Payment): Item {
  return {
    ...keys.payment(payment.orderId, payment.paymentId),
    entityType: ENTITY.payment,
    ...payment,
    ...(payment.status === PaymentStatus.REFUND_PENDING ? refundIndexAttributes(payment) : {}),
  };
}

/**
 * The order item's map of its payments, by payment id. A payment lives there from its intent on, so recording
 * the intent, and its outcome (PAID with SUCCEEDED, say), is each one write of one item; it moves to an item of
 * its own (`paymentItem`) when it comes to owe a refund, so the sparse refund-pending index finds it. New orders
 * are created with the map (empty); an order created before it has none, and its payments are items of their own.
 */
export const EMBEDDED_PAYMENTS = 'payments';

/** A payment as an entry of its order item's map: its ids are the map's key and the item's. */
export function embeddedPayment(payment: Payment): Item {
  const { paymentId: _paymentId, orderId: _orderId, ...entry } = payment;
  return entry;
}

/**
 * Every payment one order's items hold, in the order item's map or in items of their own (each payment is in
 * exactly one place), by creation time.
 */
export function paymentsOf(items: readonly Item[]): Payment[] {
  const orderItem = items.find((item) => item.entityType === ENTITY.order);
  return [
    ...(orderItem === undefined ? [] : embeddedPaymentsOf(orderItem)),
    ...items.filter((item) => item.entityType === ENTITY.payment).map(toPayment),
  ].sort((left, right) => left.createdAt.localeCompare(right.createdAt));
}

/** The payments in an order item's map; none for an order created before the map. */
export function embeddedPaymentsOf(orderItem: Item): Payment[] {
  const map = orderItem[EMBEDDED_PAYMENTS];
  if (map === undefined) return [];
  const orderId = String(orderItem.orderId);
  return Object.entries(decoded(embeddedPaymentsSchema, map, orderItem)).map(([paymentId, entry]) =>
    decoded(paymentSchema, { ...entry, paymentId, orderId }, orderItem),
  );
}

/**
 * A stored order, payment or saga step, read from the table (by a repository, the saga ledger or `ops order`) or
 * from its stream, lacks the shape the table's writers give it (an unknown status, a missing field). Never
 * transient: the relay fails its batch rather than skip the item, since publishing a guess, or nothing, would
 * break the promise that every committed change is announced.
 */
export class MalformedStreamItemError extends SchemaViolationError {
  public override readonly name = 'MalformedStreamItemError';
  public readonly code = ErrorCode.MALFORMED_STREAM_ITEM;

  public constructor(
    /** The item's keys (`PK`, `SK`) when present, to find it in the table. */
    public readonly itemKey: string,
    issues: readonly FieldIssue[],
  ) {
    super(`stored item ${itemKey} is malformed`, issues);
  }
}

const orderStatus = z.enum(OrderStatus);

const orderSchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  customerId: z.string(),
  status: orderStatus,
  version: z.number().check(z.int(), z.gte(1)),
  currency: z.string(),
  totalAmount: z.number(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number(), unitPrice: z.number() })),
  paymentDeadline: z.string(),
});

/** A history entry as written since issue 21 ({@link HistoryEntry}) or before it (every field, long names). */
const historyEntrySchema = z.union([
  z.object({ t: orderStatus, a: z.number(), r: z.string() }),
  z.object({
    version: z.number().check(z.int(), z.gte(1)),
    from: z.nullish(orderStatus),
    to: orderStatus,
    at: z.string(),
    reason: z.string(),
  }),
]);

const paymentSchema = z.object({
  paymentId: z.string().check(z.minLength(1)),
  orderId: z.string().check(z.minLength(1)),
  status: z.enum(PaymentStatus),
  amount: z.number(),
  currency: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  refundReason: z.optional(z.enum(RefundReason)),
  recordedBy: z.optional(z.enum(PaymentFactSource)),
});

const embeddedPaymentsSchema = z.record(z.string().check(z.minLength(1)), z.record(z.string(), z.unknown()));

function decoded<Schema extends z.core.$ZodType>(
  schema: Schema,
  value: unknown,
  item: Item,
): z.output<Schema> {
  return parseWith(schema, value, (issues) => new MalformedStreamItemError(keyOf(item), issues));
}

function keyOf(item: Item): string {
  return `${String(item.PK)}/${String(item.SK)}`;
}

const checkpointSchema = z.object({ checkpoint: z.iso.datetime() });

/** Where the payment reconciliation's last complete pass left off. */
export function toCheckpoint(item: Item): Date {
  return new Date(decoded(checkpointSchema, item, item).checkpoint);
}

/** The order an order item holds, without its timeline and index keys. */
export function toOrder(item: Item): Order {
  const history = toHistory(item);
  const [first, last] = [history[0], history.at(-1)];
  if (first === undefined || last === undefined) {
    throw new MalformedStreamItemError(keyOf(item), [
      { path: 'history', message: 'the order has no history' },
    ]);
  }
  return { ...decoded(orderSchema, item, item), createdAt: first.at, updatedAt: last.at };
}

/** The order an order item holds with its timeline, the payments read with it, and its payment lease if held. */
export function toOrderWithHistory(item: Item, payments: readonly Payment[]): OrderWithHistory {
  const { leaseExpiresAt } = item;
  return {
    order: toOrder(item),
    history: toHistory(item),
    payments,
    ...(typeof leaseExpiresAt === 'number' ? { paymentLeaseUntil: new Date(leaseExpiresAt) } : {}),
  };
}

/** The timeline an order item holds, by version. */
export function toHistory(item: Item): OrderTransition[] {
  if (!Array.isArray(item.history)) {
    throw new MalformedStreamItemError(keyOf(item), [
      { path: 'history', message: 'the order has no history list' },
    ]);
  }
  const { orderId } = decoded(z.pick(orderSchema, { orderId: true }), item, item);
  const entries = decoded(z.array(historyEntrySchema), item.history, item);
  // A short entry takes its version and `from` from its place in the list (see HistoryEntry).
  const history: OrderTransition[] = [];
  for (const [index, entry] of entries.entries()) {
    history.push(
      't' in entry
        ? {
            orderId,
            version: index + 1,
            from: history.at(-1)?.to ?? null,
            to: entry.t,
            at: new Date(entry.a).toISOString(),
            reason: entry.r,
          }
        : { orderId, ...entry, from: entry.from ?? null },
    );
  }
  return history.sort((left, right) => left.version - right.version);
}

export function toPayment(item: Item): Payment {
  return decoded(paymentSchema, item, item);
}

const ledgerEntrySchema = z.object({
  orderId: z.string().check(z.minLength(1)),
  step: z.string().check(z.minLength(1)),
  status: z.enum(StepStatus),
  compensatedFrom: z.optional(z.enum(CompensatedFrom)),
  updatedAt: z.string(),
});

/** A saga step's ledger entry (see `dynamodb-saga-ledger.ts` for its attributes). */
export function toLedgerEntry(item: Item): LedgerEntry {
  const entry = decoded(ledgerEntrySchema, item, item);
  return { ...entry, ...(isStepResult(item.result) && { result: item.result }) };
}

/** The document client unmarshalls maps to plain objects, which is what the ledger stored. */
function isStepResult(value: unknown): value is StepResult {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One change of one table item, as the table's stream reports it (NEW_AND_OLD_IMAGES), images unmarshalled. */
export interface ItemChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly oldImage?: Item;
  readonly newImage?: Item;
}

/**
 * The committed changes of an order and its payments that a stream record reports, as domain values: none for
 * a removal and for every other item (leases, idempotency keys, payment owners, provider events, saga steps),
 * which is bookkeeping. An order item's record reports the order's change and each change of a payment in its
 * map (those first: the payment is why the order moved, as when both became PAID and SUCCEEDED in one write). A
 * payment's old image is optional (its events name the status reached); an order's is not, since without it a
 * status change cannot be told from any other write.
 */
export function committedChangesOf(change: ItemChange): CommittedChange[] {
  const { eventName, oldImage, newImage } = change;
  if (eventName === 'REMOVE' || newImage === undefined) return [];
  switch (newImage.entityType) {
    case ENTITY.order: {
      const after = toOrder(newImage);
      const payments = embeddedPaymentChanges(oldImage, newImage);
      if (eventName === 'INSERT') {
        if (after.version !== 1) {
          // Any other version would share its event id with that version's status change.
          throw new MalformedStreamItemError(keyOf(newImage), [
            { path: 'version', message: `an order is created at version 1, not ${after.version}` },
          ]);
        }
        return [...payments, { entity: 'order', after }];
      }
      if (oldImage === undefined) {
        throw new MalformedStreamItemError(keyOf(newImage), [
          { path: '', message: 'a modified order has no old image; the stream must be NEW_AND_OLD_IMAGES' },
        ]);
      }
      return [...payments, { entity: 'order', before: toOrder(oldImage), after }];
    }
    case ENTITY.payment: {
      const after = toPayment(newImage);
      return [
        eventName === 'MODIFY' && oldImage !== undefined
          ? { entity: 'payment', before: toPayment(oldImage), after }
          : { entity: 'payment', after },
      ];
    }
    default:
      return [];
  }
}

/** Each payment of the new image's map, with its value in the old image's map when it was there. */
function embeddedPaymentChanges(oldImage: Item | undefined, newImage: Item): CommittedChange[] {
  const before = new Map(
    (oldImage === undefined ? [] : embeddedPaymentsOf(oldImage)).map((payment) => [
      payment.paymentId,
      payment,
    ]),
  );
  return embeddedPaymentsOf(newImage).map((after) => {
    const previous = before.get(after.paymentId);
    return previous === undefined
      ? { entity: 'payment', after }
      : { entity: 'payment', before: previous, after };
  });
}
