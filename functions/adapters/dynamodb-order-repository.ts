import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConcurrentModificationError, OrderNotFoundError, PaymentInProgressError } from '../domain/errors';
import type { Order, OrderTransition } from '../domain/order';
import { OrderStatus } from '../domain/order-status';
import type {
  CreateOrderOutcome,
  IdempotencyClaim,
  OrderRepository,
  OrderWithHistory,
  TransitionGuard,
} from '../domain/ports';
import {
  cancellationReasons,
  conditionalWrite,
  ENTITY,
  failedCondition,
  historyEntry,
  keys,
  noLiveLeaseCheck,
  orderItem,
  orderPartition,
  PENDING_INDEX_SHARDS,
  type TransactItems,
  toEpochSeconds,
  toHistory,
  toOrder,
  toPayment,
  transactWrite,
} from './dynamodb-table';

export interface DynamoDbOrderRepositoryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The sparse index of orders awaiting payment, by deadline. */
  readonly pendingIndexName: string;
  /** Time of "now" for expiry checks on idempotency keys (DynamoDB's TTL deletion is late, and never locally). */
  readonly now: () => Date;
}

export class DynamoDbOrderRepository implements OrderRepository {
  public constructor(private readonly options: DynamoDbOrderRepositoryOptions) {}

  public async create(
    order: Order,
    created: OrderTransition,
    idempotency?: IdempotencyClaim,
  ): Promise<CreateOrderOutcome> {
    const { tableName } = this.options;
    const put = {
      TableName: tableName,
      Item: orderItem(order, created),
      ConditionExpression: 'attribute_not_exists(PK)',
    };
    if (idempotency === undefined) {
      try {
        await conditionalWrite(() => this.options.client.send(new PutCommand(put)));
        return { kind: 'created' };
      } catch (error) {
        if (
          error instanceof ConditionalCheckFailedException ||
          error instanceof TransactionConflictException
        ) {
          throw new ConcurrentModificationError(order.orderId, { cause: error });
        }
        throw error;
      }
    }
    const IDEMPOTENCY_INDEX = 1;
    const items: TransactItems = [
      { Put: put },
      {
        Put: {
          TableName: tableName,
          Item: {
            ...keys.idempotencyKey(idempotency.key),
            entityType: ENTITY.idempotencyKey,
            orderId: order.orderId,
            requestFingerprint: idempotency.requestFingerprint,
            expiresAt: toEpochSeconds(idempotency.expiresAt),
          },
          ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': toEpochSeconds(this.options.now()) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ];
    try {
      await transactWrite(this.options.client, items);
      return { kind: 'created' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      const keyReason = reasons[IDEMPOTENCY_INDEX];
      if (keyReason?.code === 'ConditionalCheckFailed' && keyReason.item) {
        return {
          kind: 'keyAlreadyUsed',
          orderId: String(keyReason.item.orderId),
          requestFingerprint: String(keyReason.item.requestFingerprint),
        };
      }
      if (reasons.some((reason) => reason.code === 'ConditionalCheckFailed')) {
        // Order ids are generated ULIDs; an existing one means the id generator repeated itself.
        throw new ConcurrentModificationError(order.orderId, { cause: error });
      }
      throw error;
    }
  }

  public async get(orderId: string): Promise<OrderWithHistory | undefined> {
    const items = await orderPartition(this.options.client, this.options.tableName, orderId);

    const orderItem = items.find((item) => item.entityType === ENTITY.order);
    if (orderItem === undefined) {
      return undefined;
    }
    const payments = items
      .filter((item) => item.entityType === ENTITY.payment)
      .map(toPayment)
      .sort((left, right) => left.createdAt.localeCompare(right.createdAt));
    return { order: toOrder(orderItem), history: toHistory(orderItem), payments };
  }

  /**
   * One conditional UpdateItem when nothing else must hold; with a lease guard, a transaction of that update and
   * a ConditionCheck on the lease. Either way a failed order condition reads as the order missing (no old
   * item) or moved on (an old item in another state).
   */
  public async saveTransition(
    previous: Order,
    next: Order,
    transition: OrderTransition,
    guard: TransitionGuard = {},
  ): Promise<void> {
    const update = transitionUpdate(this.options.tableName, previous, next, transition);
    if (guard.noLiveLeaseAt === undefined) {
      try {
        await conditionalWrite(() => this.options.client.send(new UpdateCommand(update)));
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          if (error.Item === undefined) throw new OrderNotFoundError(previous.orderId);
          throw new ConcurrentModificationError(previous.orderId, { cause: error });
        }
        if (error instanceof TransactionConflictException) {
          throw new ConcurrentModificationError(previous.orderId, { cause: error });
        }
        throw error;
      }
      return;
    }
    const LEASE_INDEX = 1;
    try {
      await transactWrite(this.options.client, [
        { Update: update },
        noLiveLeaseCheck(this.options.tableName, previous.orderId, guard.noLiveLeaseAt),
      ]);
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (failedCondition(reasons, 0) && reasons[0]?.item === undefined) {
        throw new OrderNotFoundError(previous.orderId);
      }
      if (failedCondition(reasons, 0)) {
        throw new ConcurrentModificationError(previous.orderId, { cause: error });
      }
      if (failedCondition(reasons, LEASE_INDEX)) {
        throw new PaymentInProgressError(previous.orderId);
      }
      if (reasons.length > 0) {
        throw new ConcurrentModificationError(previous.orderId, { cause: error });
      }
      throw error;
    }
  }

  public async findOverduePendingOrders(now: Date, limit: number): Promise<string[]> {
    // Each shard may hold the whole backlog, so each is read for up to `limit`; merged by deadline, the
    // `limit` most overdue orders of all shards win. Bounded: at most shards x limit small index entries.
    const shards = Array.from({ length: PENDING_INDEX_SHARDS }, (_, shard) => shard);
    const found = await Promise.all(shards.map((shard) => this.overdueInShard(shard, now, limit)));
    return found
      .flat()
      .sort((left, right) => left.pendingDeadline.localeCompare(right.pendingDeadline))
      .slice(0, limit)
      .map((entry) => entry.orderId);
  }

  private async overdueInShard(
    shard: number,
    now: Date,
    limit: number,
  ): Promise<{ orderId: string; pendingDeadline: string }[]> {
    const entries: { orderId: string; pendingDeadline: string }[] = [];
    let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: this.options.pendingIndexName,
          KeyConditionExpression: 'pendingShard = :shard AND pendingDeadline < :now',
          ExpressionAttributeValues: { ':shard': `PENDING#${shard}`, ':now': now.toISOString() },
          ProjectionExpression: 'orderId, pendingDeadline',
          Limit: limit - entries.length,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      entries.push(
        ...(page.Items ?? []).map((item) => ({
          orderId: String(item.orderId),
          pendingDeadline: String(item.pendingDeadline),
        })),
      );
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined && entries.length < limit);
    return entries;
  }
}

export type TransitionUpdate = NonNullable<TransactItems[number]['Update']>;

/**
 * The write of any order transition, for an UpdateItem or a transaction's Update: it sets the changed fields and
 * appends the new version's timeline entry to `history`, only if the order's status, version and owner are still
 * the ones the decision was made on (leaving PENDING_PAYMENT also drops it from the pending index). The version
 * condition is what keeps the timeline at exactly one entry per version: two moves decided on the same version
 * cannot both pass it.
 */
export function transitionUpdate(
  tableName: string,
  previous: Order,
  next: Order,
  transition: OrderTransition,
): TransitionUpdate {
  const changed = (Object.keys(next) as (keyof Order)[]).filter(
    (field) => field !== 'orderId' && next[field] !== previous[field],
  );
  const names: Record<string, string> = {
    '#status': 'status',
    '#version': 'version',
    '#customerId': 'customerId',
    '#history': 'history',
  };
  const values: Record<string, unknown> = {
    ':expectedStatus': previous.status,
    ':expectedVersion': previous.version,
    ':expectedCustomerId': previous.customerId,
    ':entry': [historyEntry(transition)],
  };
  const assignments = changed.map((field) => {
    names[`#set_${field}`] = field;
    values[`:set_${field}`] = next[field];
    return `#set_${field} = :set_${field}`;
  });
  assignments.push('#history = list_append(#history, :entry)');
  const leavesPending =
    previous.status === OrderStatus.PENDING_PAYMENT && next.status !== OrderStatus.PENDING_PAYMENT;
  return {
    TableName: tableName,
    Key: keys.order(previous.orderId),
    UpdateExpression: `SET ${assignments.join(', ')}${leavesPending ? ' REMOVE pendingShard, pendingDeadline' : ''}`,
    // The owner is part of the condition: a move decided for one customer's order never lands on another's.
    ConditionExpression:
      '#status = :expectedStatus AND #version = :expectedVersion AND #customerId = :expectedCustomerId',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}
