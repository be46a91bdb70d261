import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { REFUND_PENDING_INDEX } from '../../lib/model';
import { LeaseNotHeldError } from '../domain/errors';
import type { Order, OrderTransition } from '../domain/order';
import type { Payment } from '../domain/payment';
import type {
  PaymentLease,
  PaymentRepository,
  PaymentWriteOutcome,
  ProviderEventClaim,
  StuckRefunds,
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

  public async findRefundsPendingSince(before: Date, sampleSize: number): Promise<StuckRefunds> {
    const shards = Array.from({ length: REFUND_INDEX_SHARDS }, (_, shard) => shard);
    const found = await Promise.all(
      shards.map((shard) => this.refundsPendingInShard(shard, before, sampleSize)),
    );
    return {
      count: found.reduce((total, shard) => total + shard.count, 0),
      orderIds: found.flatMap((shard) => shard.orderIds).slice(0, sampleSize),
    };
  }

  /** Counts every entry of the shard older than `before` (a few small index entries: refunds are rare). */
  private async refundsPendingInShard(
    shard: number,
    before: Date,
    sampleSize: number,
  ): Promise<StuckRefunds> {
    let count = 0;
    const orderIds: string[] = [];
    let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: this.options.refundPendingIndexName ?? REFUND_PENDING_INDEX.name,
          KeyConditionExpression: 'refundShard = :shard AND refundPendingSince < :before',
          ExpressionAttributeValues: { ':shard': `REFUND#${shard}`, ':before': before.toISOString() },
          ProjectionExpression: 'orderId',
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      const items = page.Items ?? [];
      count += items.length;
      orderIds.push(...items.slice(0, sampleSize - orderIds.length).map((item) => String(item.orderId)));
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return { count, orderIds };
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
          Item: {
            ...keys.providerEvent(event.eventId),
            entityType: ENTITY.providerEvent,
            paymentId: payment.paymentId,
            expiresAt: toEpochSeconds(event.expiresAt),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
    ];
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
