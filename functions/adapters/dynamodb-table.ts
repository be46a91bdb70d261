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
import { z } from 'zod';
import { retryOnConflict } from '../domain/conflict-retry';
import { ErrorCode, SchemaViolationError } from '../domain/errors';
import type { CommittedChange } from '../domain/event-derivation';
import type { Order, OrderTransition } from '../domain/order';
import { OrderStatus } from '../domain/order-status';
import { type Payment, PaymentFactSource, PaymentStatus, RefundReason } from '../domain/payment';
import {
  CompensatedFrom,
  type LedgerEntry,
  type StepRef,
  type StepResult,
  StepStatus,
} from '../domain/saga-ledger';
import { type FieldIssue, parseWith } from '../domain/validation';

/**
 * The single-table layout, in one place. An order (its timeline inside it, see {@link orderItem}), its payments,
 * its payment lease and its saga steps share the order's partition, so one strongly consistent query reads the
 * order's whole story and one transaction can condition on any of them. Keys that must be unique across orders
 * (idempotency keys, payment ids, provider event ids) have partitions of their own, so `attribute_not_exists` on
 * them is a lock on the value.
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

/** Write shards of the pending-payment index: enough that no one partition takes every new order. */
export const PENDING_INDEX_SHARDS = 8;

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
export async function conditionalWrite(write: () => Promise<unknown>): Promise<void> {
  await retryOnConflict(
    {
      attempts: TRANSACTION_CONFLICT_ATTEMPTS,
      isConflict: (error) => error instanceof TransactionConflictException,
      beforeRetry: conflictBackoff,
    },
    write,
  );
}

/** A condition that no payment lease on the order is live at `now` (never taken, released, or expired). */
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

/** One entry of the order item's `history` list: the transition without the order id its item already holds. */
export type HistoryEntry = Omit<OrderTransition, 'orderId'>;

export function historyEntry(transition: OrderTransition): HistoryEntry {
  return {
    version: transition.version,
    from: transition.from,
    to: transition.to,
    at: transition.at,
    reason: transition.reason,
  };
}

/**
 * A new order's item: the order, its timeline as the `history` list (one entry per version, appended by the
 * same conditional write that moves the order, see `transitionUpdate`), and the pending index's keys.
 */
export function orderItem(order: Order, created: OrderTransition): Item {
  return {
    ...keys.order(order.orderId),
    entityType: ENTITY.order,
    ...order,
    history: [historyEntry(created)],
    ...pendingIndexAttributes(order),
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
  orderId: z.string().min(1),
  customerId: z.string(),
  status: orderStatus,
  version: z.number().int().min(1),
  currency: z.string(),
  totalAmount: z.number(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number(), unitPrice: z.number() })),
  paymentDeadline: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const historyEntrySchema = z.object({
  version: z.number().int().min(1),
  from: orderStatus.nullish().transform((from) => from ?? null),
  to: orderStatus,
  at: z.string(),
  reason: z.string(),
});

const paymentSchema = z.object({
  paymentId: z.string().min(1),
  orderId: z.string().min(1),
  status: z.enum(PaymentStatus),
  amount: z.number(),
  currency: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  refundReason: z.enum(RefundReason).optional(),
  recordedBy: z.enum(PaymentFactSource).optional(),
});

function decoded<Schema extends z.ZodType>(schema: Schema, value: unknown, item: Item): z.output<Schema> {
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
  return decoded(orderSchema, item, item);
}

/** The timeline an order item holds, by version. */
export function toHistory(item: Item): OrderTransition[] {
  if (!Array.isArray(item.history)) {
    throw new MalformedStreamItemError(keyOf(item), [
      { path: 'history', message: 'the order has no history list' },
    ]);
  }
  const { orderId } = decoded(orderSchema.pick({ orderId: true }), item, item);
  return decoded(z.array(historyEntrySchema), item.history, item)
    .map((entry) => ({ orderId, ...entry }))
    .sort((left, right) => left.version - right.version);
}

export function toPayment(item: Item): Payment {
  return decoded(paymentSchema, item, item);
}

const ledgerEntrySchema = z.object({
  orderId: z.string().min(1),
  step: z.string().min(1),
  status: z.enum(StepStatus),
  compensatedFrom: z.enum(CompensatedFrom).optional(),
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
 * The committed change of an order or a payment that a stream record reports, as domain values; undefined for
 * a removal and for every other item (leases, idempotency keys, payment owners, provider events, saga steps),
 * which is bookkeeping. A payment's old image is optional (its events name the status reached); an order's is
 * not, since without it a status change cannot be told from any other write.
 */
export function committedChangeOf(change: ItemChange): CommittedChange | undefined {
  const { eventName, oldImage, newImage } = change;
  if (eventName === 'REMOVE' || newImage === undefined) return undefined;
  switch (newImage.entityType) {
    case ENTITY.order: {
      const after = toOrder(newImage);
      if (eventName === 'INSERT') {
        if (after.version !== 1) {
          // Any other version would share its event id with that version's status change.
          throw new MalformedStreamItemError(keyOf(newImage), [
            { path: 'version', message: `an order is created at version 1, not ${after.version}` },
          ]);
        }
        return { entity: 'order', after };
      }
      if (oldImage === undefined) {
        throw new MalformedStreamItemError(keyOf(newImage), [
          { path: '', message: 'a modified order has no old image; the stream must be NEW_AND_OLD_IMAGES' },
        ]);
      }
      return { entity: 'order', before: toOrder(oldImage), after };
    }
    case ENTITY.payment: {
      const after = toPayment(newImage);
      return eventName === 'MODIFY' && oldImage !== undefined
        ? { entity: 'payment', before: toPayment(oldImage), after }
        : { entity: 'payment', after };
    }
    default:
      return undefined;
  }
}
