import { isDeepStrictEqual } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { REFUND_PENDING_INDEX } from '../../lib/model';
import { ConcurrentModificationError, LeaseNotHeldError } from '../domain/errors';
import type { Order, OrderTransition } from '../domain/order';
import { type Payment, PaymentStatus } from '../domain/payment';
import type {
  PaymentLease,
  PaymentReference,
  PaymentRepository,
  PaymentWriteOutcome,
  PendingRefunds,
  ProviderEvent,
  ProviderEventClaim,
  UnmatchedEventOutcome,
} from '../domain/ports';
import { type TransitionUpdate, transitionUpdate } from './dynamodb-order-repository';
import {
  cancellationReasons,
  conditionalWrite,
  EMBEDDED_PAYMENTS,
  ENTITY,
  embeddedPayment,
  failedCondition,
  type Item,
  keys,
  orderPartition,
  paymentItem,
  paymentsOf,
  REFUND_INDEX_SHARDS,
  type TransactItems,
  toCheckpoint,
  toEpochSeconds,
  transactWrite,
} from './dynamodb-table';

export interface DynamoDbPaymentRepositoryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default the model's refund-pending index */
  readonly refundPendingIndexName?: string;
}

type TransactItem = TransactItems[number];

/** A payment item's sort key is this prefix and its payment id (see `keys.payment`). */
const PAYMENT_SORT_KEY_PREFIX = 'PAYMENT#';

type OrderMove = { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition };

/** Where a write found the payment it was to move: in its order item's map, in an item of its own, or moved. */
type Found = 'changed' | 'ownItem';

/**
 * Payments live in their order item's map (`EMBEDDED_PAYMENTS`) from their intent until they owe a refund, then in
 * an item of their own; an order created before the map keeps all its payments in items of their own. Every
 * write tries the map first, conditioned on the entry as it was read; when the failed condition's old item shows
 * no such entry, the payment is in an item of its own and the write is made there (one more request, for those
 * payments only).
 */
export class DynamoDbPaymentRepository implements PaymentRepository {
  public constructor(private readonly options: DynamoDbPaymentRepositoryOptions) {}

  public async get(orderId: string, paymentId: string): Promise<Payment | undefined> {
    const items = await orderPartition(this.options.client, this.options.tableName, orderId);
    return paymentsOf(items).find((payment) => payment.paymentId === paymentId);
  }

  public async recordIntent(payment: Payment, lease: PaymentLease): Promise<void> {
    const { tableName } = this.options;
    const leaseHeld = 'leaseOwner = :owner AND fencingToken = :token';
    const leaseValues = { ':owner': lease.owner, ':token': lease.fencingToken };
    const refused = await this.updateOrderItem({
      TableName: tableName,
      Key: keys.order(payment.orderId),
      UpdateExpression: 'SET #payments.#paymentId = :payment REMOVE leaseOwner, leaseExpiresAt',
      ConditionExpression: `${leaseHeld} AND attribute_exists(#payments) AND attribute_not_exists(#payments.#paymentId)`,
      ExpressionAttributeNames: { '#payments': EMBEDDED_PAYMENTS, '#paymentId': payment.paymentId },
      ExpressionAttributeValues: { ...leaseValues, ':payment': embeddedPayment(payment) },
    });
    if (refused === undefined) return;
    // Already recorded: the SDK retried a request that timed out after DynamoDB had applied it (an UpdateItem
    // carries no idempotency token, unlike the transaction this write once was); the intent's id came from this
    // lease's idempotency key, so no other request records it.
    if (sameEmbeddedPayment(refused.item, payment)) return;
    if (refused.item?.leaseOwner !== lease.owner || refused.item.fencingToken !== lease.fencingToken) {
      throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
    }
    if (refused.item[EMBEDDED_PAYMENTS] !== undefined) {
      throw new ConcurrentModificationError(payment.orderId);
    }
    // An order created before the payment map: the intent is an item of its own, as its other payments.
    try {
      await transactWrite(this.options.client, [
        this.paymentPut(payment, undefined),
        {
          Update: {
            TableName: tableName,
            Key: keys.order(lease.orderId),
            UpdateExpression: 'REMOVE leaseOwner, leaseExpiresAt',
            ConditionExpression: leaseHeld,
            ExpressionAttributeValues: leaseValues,
          },
        },
      ]);
    } catch (error) {
      if (failedCondition(cancellationReasons(error), 1)) {
        throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
      }
      throw error;
    }
  }

  public async recordPaid(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<PaymentWriteOutcome> {
    return await this.withTransition(payment, previous, order);
  }

  public async recordPayment(payment: Payment, previous: Payment | undefined): Promise<PaymentWriteOutcome> {
    if (previous === undefined || isOwnItemStatus(previous.status)) {
      return await this.putOwnItem(payment, previous);
    }
    if (!isOwnItemStatus(payment.status)) {
      const refused = await this.updateOrderItem(
        withEmbeddedPayment(this.entryUpdate(payment.orderId), payment, previous, 'set'),
      );
      if (refused === undefined) return { kind: 'written' };
      if (paymentFound(refused.item, previous) === 'changed') return { kind: 'paymentChanged' };
      return await this.putOwnItem(payment, previous);
    }
    // It comes to owe a refund: out of the map, into an item of its own that the refund index finds.
    try {
      await transactWrite(this.options.client, [
        { Update: withEmbeddedPayment(this.entryUpdate(payment.orderId), payment, previous, 'remove') },
        this.paymentPut(payment, undefined),
      ]);
      return { kind: 'written' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons.length === 0) throw error;
      if (failedCondition(reasons, 0) && paymentFound(reasons[0]?.item, previous) === 'ownItem') {
        return await this.putOwnItem(payment, previous);
      }
      return { kind: 'paymentChanged' };
    }
  }

  public async recordPaymentWithTransition(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<PaymentWriteOutcome> {
    return await this.withTransition(payment, previous, order);
  }

  public async findRefundsPendingSince(before: Date, sampleSize: number): Promise<PendingRefunds> {
    const shards = Array.from({ length: REFUND_INDEX_SHARDS }, (_, shard) => shard);
    const found = await Promise.all(
      shards.map((shard) => this.refundsPendingInShard(shard, before, sampleSize)),
    );
    return {
      count: found.reduce((total, shard) => total + shard.count, 0),
      sample: found
        .flatMap((shard) => shard.sample)
        .sort((left, right) => left.since.localeCompare(right.since))
        .slice(0, sampleSize)
        .map(({ orderId, paymentId }) => ({ orderId, paymentId })),
    };
  }

  public async recordUnmatchedEvent(
    event: ProviderEvent,
    claim: ProviderEventClaim,
  ): Promise<UnmatchedEventOutcome> {
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...this.eventClaimItem(claim, event.paymentId),
            unmatched: true,
            eventType: event.type,
            ...(event.orderId === undefined ? {} : { namedOrderId: event.orderId }),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return { kind: 'written' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'duplicateEvent' };
      throw error;
    }
  }

  public async reconciliationCheckpoint(): Promise<Date | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: keys.reconciliationCheckpoint(),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : toCheckpoint(Item);
  }

  public async saveReconciliationCheckpoint(next: Date, previous: Date | undefined): Promise<boolean> {
    try {
      await this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: {
            ...keys.reconciliationCheckpoint(),
            entityType: ENTITY.reconciliationCheckpoint,
            checkpoint: next.toISOString(),
          },
          ...(previous === undefined
            ? { ConditionExpression: 'attribute_not_exists(PK)' }
            : {
                ConditionExpression: 'checkpoint = :previous',
                ExpressionAttributeValues: { ':previous': previous.toISOString() },
              }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Counts every entry of the shard older than `before` (a few small index entries: refunds are rare). */
  private async refundsPendingInShard(
    shard: number,
    before: Date,
    sampleSize: number,
  ): Promise<{ count: number; sample: (PaymentReference & { since: string })[] }> {
    let count = 0;
    const sample: (PaymentReference & { since: string })[] = [];
    let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: this.options.refundPendingIndexName ?? REFUND_PENDING_INDEX.name,
          KeyConditionExpression: 'refundShard = :shard AND refundPendingSince < :before',
          ExpressionAttributeValues: { ':shard': `REFUND#${shard}`, ':before': before.toISOString() },
          // The index projects the order id besides the keys; the payment id is read from the table's sort key.
          ProjectionExpression: 'orderId, SK, refundPendingSince',
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      const items = page.Items ?? [];
      count += items.length;
      sample.push(
        ...items.slice(0, sampleSize - sample.length).map((item) => ({
          orderId: String(item.orderId),
          paymentId: String(item.SK).slice(PAYMENT_SORT_KEY_PREFIX.length),
          since: String(item.refundPendingSince),
        })),
      );
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return { count, sample };
  }

  private eventClaimItem(claim: ProviderEventClaim, paymentId: string): Record<string, unknown> {
    return {
      ...keys.providerEvent(claim.eventId),
      entityType: ENTITY.providerEvent,
      paymentId,
      expiresAt: toEpochSeconds(claim.expiresAt),
    };
  }

  /**
   * The order's move and the payment's, together or not at all: one write of the order item while the payment stays
   * in its map; with the move of the payment into an item of its own when it comes to owe a refund; with that item
   * when it is one already.
   */
  private async withTransition(
    payment: Payment,
    previous: Payment,
    order: OrderMove,
  ): Promise<PaymentWriteOutcome> {
    const update = transitionUpdate(this.options.tableName, order.previous, order.next, order.transition);
    const ownItem = async () => await this.transitionWithOwnItem(update, this.paymentPut(payment, previous));
    if (isOwnItemStatus(previous.status)) return await ownItem();
    let refused: Item | undefined;
    if (isOwnItemStatus(payment.status)) {
      try {
        await transactWrite(this.options.client, [
          { Update: withEmbeddedPayment(update, payment, previous, 'remove') },
          this.paymentPut(payment, undefined),
        ]);
        return { kind: 'written' };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons.length === 0) throw error;
        if (!failedCondition(reasons, 0)) return { kind: 'orderChanged' };
        refused = reasons[0]?.item;
      }
    } else {
      const failed = await this.updateOrderItem(withEmbeddedPayment(update, payment, previous, 'set'));
      if (failed === undefined) return { kind: 'written' };
      refused = failed.item;
    }
    if (!orderAsRead(refused, order.previous)) return { kind: 'orderChanged' };
    if (paymentFound(refused, previous) === 'changed') return { kind: 'paymentChanged' };
    return await ownItem();
  }

  /** An update of the order item that only changes one entry of its payment map. */
  private entryUpdate(orderId: string): TransitionUpdate {
    return {
      TableName: this.options.tableName,
      Key: keys.order(orderId),
      UpdateExpression: '',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
  }

  /** One conditional update of an order item; when its condition fails, the item as it was (if any). */
  private async updateOrderItem(
    update: TransitionUpdate,
  ): Promise<{ readonly item: Item | undefined } | undefined> {
    try {
      await conditionalWrite(() =>
        this.options.client.send(
          new UpdateCommand({ ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        ),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { item: error.Item === undefined ? undefined : unmarshall(error.Item) };
    }
  }

  private async putOwnItem(payment: Payment, previous: Payment | undefined): Promise<PaymentWriteOutcome> {
    try {
      await conditionalWrite(() =>
        this.options.client.send(new PutCommand(this.paymentPut(payment, previous).Put)),
      );
      return { kind: 'written' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { kind: 'paymentChanged' };
      throw error;
    }
  }

  /** The order's move with a payment that is an item of its own, together or not at all. */
  private async transitionWithOwnItem(
    update: TransitionUpdate,
    paymentPut: TransactItem,
  ): Promise<PaymentWriteOutcome> {
    try {
      await transactWrite(this.options.client, [{ Update: update }, paymentPut]);
      return { kind: 'written' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons.length === 0) throw error;
      if (failedCondition(reasons, 1)) return { kind: 'paymentChanged' };
      // The order's conditions failed, or conflicts outlasted their retries: decide again on fresh reads.
      return { kind: 'orderChanged' };
    }
  }

  /** The payment record moves only from the exact state it was read in, or is created if it was absent. */
  private paymentPut(
    payment: Payment,
    previous: Payment | undefined,
  ): TransactItem & { readonly Put: NonNullable<TransactItem['Put']> } {
    return {
      Put: {
        TableName: this.options.tableName,
        Item: paymentItem(payment),
        ...(previous === undefined
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#status = :previousStatus AND updatedAt = :previousUpdatedAt',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: {
                ':previousStatus': previous.status,
                ':previousUpdatedAt': previous.updatedAt,
              },
            }),
      },
    };
  }
}

/** Statuses a payment holds in an item of its own: owing a refund (the refund index reads those items) or refunded. */
function isOwnItemStatus(status: Payment['status']): boolean {
  return status === PaymentStatus.REFUND_PENDING || status === PaymentStatus.REFUNDED;
}

/**
 * `update` also setting (or removing) the payment's entry in the order item's map, only if the entry is as
 * `previous` was read.
 */
function withEmbeddedPayment(
  update: TransitionUpdate,
  payment: Payment,
  previous: Payment,
  change: 'set' | 'remove',
): TransitionUpdate {
  const entry = '#payments.#paymentId';
  const clauses = update.UpdateExpression ?? '';
  const set = /^SET (.*?)( REMOVE (.*))?$/.exec(clauses);
  const assignments = set?.[1] === undefined ? [] : [set[1]];
  const removals = set?.[3] === undefined ? [] : [set[3]];
  if (change === 'set') assignments.unshift(`${entry} = :payment`);
  else removals.unshift(entry);
  const condition = `${entry}.#paymentStatus = :previousPaymentStatus AND ${entry}.updatedAt = :previousPaymentUpdatedAt`;
  return {
    ...update,
    UpdateExpression: [
      ...(assignments.length === 0 ? [] : [`SET ${assignments.join(', ')}`]),
      ...(removals.length === 0 ? [] : [`REMOVE ${removals.join(', ')}`]),
    ].join(' '),
    ConditionExpression:
      update.ConditionExpression === undefined ? condition : `${update.ConditionExpression} AND ${condition}`,
    ExpressionAttributeNames: {
      ...update.ExpressionAttributeNames,
      '#payments': EMBEDDED_PAYMENTS,
      '#paymentId': payment.paymentId,
      '#paymentStatus': 'status',
    },
    ExpressionAttributeValues: {
      ...update.ExpressionAttributeValues,
      ...(change === 'set' ? { ':payment': embeddedPayment(payment) } : {}),
      ':previousPaymentStatus': previous.status,
      ':previousPaymentUpdatedAt': previous.updatedAt,
    },
  };
}

/** From the old item of a failed write: the entry moved on (`changed`) or is not in the map (`ownItem`). */
function paymentFound(item: Item | undefined, previous: Payment): Found {
  const map = item?.[EMBEDDED_PAYMENTS];
  const entry =
    typeof map === 'object' && map !== null
      ? (map as Record<string, unknown>)[previous.paymentId]
      : undefined;
  return entry === undefined ? 'ownItem' : 'changed';
}

/** Whether a failed write's old order item holds this very payment entry (an earlier attempt of the write). */
function sameEmbeddedPayment(item: Item | undefined, payment: Payment): boolean {
  const map = item?.[EMBEDDED_PAYMENTS];
  const entry =
    typeof map === 'object' && map !== null ? (map as Record<string, unknown>)[payment.paymentId] : undefined;
  return isDeepStrictEqual(entry, embeddedPayment(payment));
}

/** Whether a failed write's old order item still has the status, version and owner the move was decided on. */
function orderAsRead(item: Item | undefined, previous: Order): boolean {
  return (
    item !== undefined &&
    item.status === previous.status &&
    item.version === previous.version &&
    item.customerId === previous.customerId
  );
}
