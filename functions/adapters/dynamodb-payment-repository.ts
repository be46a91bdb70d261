import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { REFUND_PENDING_INDEX } from '../../lib/model';
import { LeaseNotHeldError } from '../domain/errors';
import type { Order, OrderTransition } from '../domain/order';
import type { Payment } from '../domain/payment';
import type {
  PaymentLease,
  PaymentReference,
  PaymentRepository,
  PaymentWriteOutcome,
  PendingRefunds,
  ProviderEvent,
  ProviderEventClaim,
} from '../domain/ports';
import { transitionUpdate } from './dynamodb-order-repository';
import {
  cancellationReasons,
  ENTITY,
  failedCondition,
  keys,
  paymentItem,
  REFUND_INDEX_SHARDS,
  type TransactItems,
  toCheckpoint,
  toEpochSeconds,
  toPayment,
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

export class DynamoDbPaymentRepository implements PaymentRepository {
  public constructor(private readonly options: DynamoDbPaymentRepositoryOptions) {}

  public async get(orderId: string, paymentId: string): Promise<Payment | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: keys.payment(orderId, paymentId),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : toPayment(Item);
  }

  public async orderOf(paymentId: string): Promise<string | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: keys.paymentOwner(paymentId),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : String(Item.orderId);
  }

  public async recordIntent(payment: Payment, lease: PaymentLease): Promise<void> {
    const { tableName } = this.options;
    try {
      await transactWrite(this.options.client, [
        this.paymentPut(payment, undefined),
        this.ownerPut(payment),
        {
          ConditionCheck: {
            TableName: tableName,
            Key: keys.lease(lease.orderId),
            ConditionExpression: 'leaseOwner = :owner AND fencingToken = :token',
            ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.fencingToken },
          },
        },
      ]);
    } catch (error) {
      if (failedCondition(cancellationReasons(error), 2)) {
        throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
      }
      throw error;
    }
  }

  public async recordPaid(
    payment: Payment,
    previous: Payment | undefined,
    order: { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition },
    event: ProviderEventClaim,
  ): Promise<PaymentWriteOutcome> {
    const orderUpdate = transitionUpdate(
      this.options.tableName,
      order.previous,
      order.next,
      order.transition,
    );
    return await this.write([{ Update: orderUpdate }, ...this.paymentItems(payment, previous, event)], 1);
  }

  public async recordPayment(
    payment: Payment,
    previous: Payment | undefined,
    event: ProviderEventClaim,
  ): Promise<PaymentWriteOutcome> {
    return await this.write(this.paymentItems(payment, previous, event), 0);
  }

  public async recordPaymentWithTransition(
    payment: Payment,
    previous: Payment,
    order: { readonly previous: Order; readonly next: Order; readonly transition: OrderTransition },
  ): Promise<Exclude<PaymentWriteOutcome, { readonly kind: 'duplicateEvent' }>> {
    const orderUpdate = transitionUpdate(
      this.options.tableName,
      order.previous,
      order.next,
      order.transition,
    );
    const PAYMENT_INDEX = 1;
    try {
      await transactWrite(this.options.client, [{ Update: orderUpdate }, this.paymentPut(payment, previous)]);
      return { kind: 'written' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons.length === 0) throw error;
      if (failedCondition(reasons, PAYMENT_INDEX)) return { kind: 'paymentChanged' };
      // The order's conditions failed, or conflicts outlasted their retries: decide again on fresh reads.
      return { kind: 'orderChanged' };
    }
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
  ): Promise<Extract<PaymentWriteOutcome, { readonly kind: 'written' | 'duplicateEvent' }>> {
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

  /** The payment record, its owner (one order per payment id) and the event claim, in that order. */
  private paymentItems(
    payment: Payment,
    previous: Payment | undefined,
    event: ProviderEventClaim,
  ): TransactItems {
    return [
      this.paymentPut(payment, previous),
      this.ownerPut(payment),
      {
        Put: {
          TableName: this.options.tableName,
          Item: this.eventClaimItem(event, payment.paymentId),
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
    ];
  }

  private eventClaimItem(claim: ProviderEventClaim, paymentId: string): Record<string, unknown> {
    return {
      ...keys.providerEvent(claim.eventId),
      entityType: ENTITY.providerEvent,
      paymentId,
      expiresAt: toEpochSeconds(claim.expiresAt),
    };
  }

  private async write(items: TransactItems, paymentOffset: number): Promise<PaymentWriteOutcome> {
    try {
      await transactWrite(this.options.client, items);
      return { kind: 'written' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (reasons.length === 0) throw error;
      if (failedCondition(reasons, paymentOffset + 2)) return { kind: 'duplicateEvent' };
      if (failedCondition(reasons, paymentOffset) || failedCondition(reasons, paymentOffset + 1)) {
        return { kind: 'paymentChanged' };
      }
      // The order's conditions failed, or transaction conflicts outlasted their retries: either way the
      // decision was made on state that moved, and the caller decides again on fresh reads.
      return { kind: 'orderChanged' };
    }
  }

  /** The payment record moves only from the exact state it was read in, or is created if it was absent. */
  private paymentPut(payment: Payment, previous: Payment | undefined): TransactItem {
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

  private ownerPut(payment: Payment): TransactItem {
    return {
      Put: {
        TableName: this.options.tableName,
        Item: {
          ...keys.paymentOwner(payment.paymentId),
          entityType: ENTITY.paymentOwner,
          orderId: payment.orderId,
        },
        ConditionExpression: 'attribute_not_exists(PK) OR orderId = :orderId',
        ExpressionAttributeValues: { ':orderId': payment.orderId },
      },
    };
  }
}
