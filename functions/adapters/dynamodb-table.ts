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
import type { Order, OrderItem, OrderTransition } from '../domain/order';
import { isOrderStatus, type OrderStatus } from '../domain/order-status';
import { PAYMENT_STATUSES, type Payment, PaymentStatus, type RefundReason } from '../domain/payment';

/**
 * The single-table layout, in one place. An order (its timeline inside it, see {@link orderItem}), its payments
 * and its payment lease share the order's partition, so one strongly consistent query reads the order's whole
 * story and one transaction can condition on any of them. Keys that must be unique across orders (idempotency
 * keys, payment ids, provider event ids) have partitions of their own, so `attribute_not_exists` on them is a
 * lock on the value.
 */
export const keys = {
  order: (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'ORDER' }),
  payment: (orderId: string, paymentId: string) => ({ PK: `ORDER#${orderId}`, SK: `PAYMENT#${paymentId}` }),
  lease: (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'LEASE' }),
  idempotencyKey: (key: string) => ({ PK: `IDEMPOTENCY#${key}`, SK: 'IDEMPOTENCY' }),
  paymentOwner: (paymentId: string) => ({ PK: `PAYMENT#${paymentId}`, SK: 'OWNER' }),
  providerEvent: (eventId: string) => ({ PK: `PROVIDER_EVENT#${eventId}`, SK: 'EVENT' }),
} as const;

export const ENTITY = {
  order: 'Order',
  payment: 'Payment',
  lease: 'PaymentLease',
  idempotencyKey: 'IdempotencyKey',
  paymentOwner: 'PaymentOwner',
  providerEvent: 'ProviderEvent',
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
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(new TransactWriteCommand({ TransactItems: items }));
      return;
    } catch (error) {
      const reasons = cancellationReasons(error);
      const conflictOnly =
        reasons.some((reason) => reason.code === 'TransactionConflict') &&
        !reasons.some((reason) => reason.code === 'ConditionalCheckFailed');
      if (!conflictOnly || attempt >= TRANSACTION_CONFLICT_ATTEMPTS) {
        throw error;
      }
      await conflictBackoff(attempt);
    }
  }
}

function conflictBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
}

/**
 * Runs one conditional single-item write, retrying only `TransactionConflictException` (a transaction held the
 * item at that instant, so the condition was never evaluated), as {@link transactWrite} does for transactions.
 */
export async function conditionalWrite(write: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (!(error instanceof TransactionConflictException) || attempt >= TRANSACTION_CONFLICT_ATTEMPTS) {
        throw error;
      }
      await conflictBackoff(attempt);
    }
  }
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

export function paymentItem(payment: Payment): Item {
  return {
    ...keys.payment(payment.orderId, payment.paymentId),
    entityType: ENTITY.payment,
    ...payment,
    ...(payment.status === PaymentStatus.REFUND_PENDING ? refundIndexAttributes(payment) : {}),
  };
}

function toStatus(value: unknown): OrderStatus {
  const text = String(value);
  if (!isOrderStatus(text)) {
    throw new Error(`stored status ${text} is not an order status`);
  }
  return text;
}

export function toOrder(item: Item): Order {
  const items = (item.items as Item[]).map(
    (line): OrderItem => ({
      sku: String(line.sku),
      quantity: Number(line.quantity),
      unitPrice: Number(line.unitPrice),
    }),
  );
  return {
    orderId: String(item.orderId),
    customerId: String(item.customerId),
    status: toStatus(item.status),
    version: Number(item.version),
    currency: String(item.currency),
    totalAmount: Number(item.totalAmount),
    items,
    paymentDeadline: String(item.paymentDeadline),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
  };
}

/** The timeline an order item holds, by version. */
export function toHistory(item: Item): OrderTransition[] {
  const orderId = String(item.orderId);
  if (!Array.isArray(item.history)) {
    throw new Error(`stored order ${orderId} has no history list`);
  }
  return (item.history as Item[])
    .map((entry) => toTransition(orderId, entry))
    .sort((left, right) => left.version - right.version);
}

function toTransition(orderId: string, entry: Item): OrderTransition {
  return {
    orderId,
    version: Number(entry.version),
    from: entry.from === null || entry.from === undefined ? null : toStatus(entry.from),
    to: toStatus(entry.to),
    at: String(entry.at),
    reason: String(entry.reason),
  };
}

export function toPayment(item: Item): Payment {
  const status = String(item.status);
  if (!(PAYMENT_STATUSES as readonly string[]).includes(status)) {
    throw new Error(`stored status ${status} is not a payment status`);
  }
  return {
    paymentId: String(item.paymentId),
    orderId: String(item.orderId),
    status: status as PaymentStatus,
    amount: Number(item.amount),
    currency: String(item.currency),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    ...(item.refundReason === undefined ? {} : { refundReason: item.refundReason as RefundReason }),
  };
}
