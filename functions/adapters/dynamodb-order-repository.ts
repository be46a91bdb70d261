import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
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
  ENTITY,
  failedCondition,
  keys,
  noLiveLeaseCheck,
  orderPartition,
  PENDING_INDEX_SHARDS,
  pendingIndexAttributes,
  type TransactItems,
  toEpochSeconds,
  toOrder,
  toPayment,
  toTransition,
  transactWrite,
  transitionItem,
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
    const items: TransactItems = [
      {
        Put: {
          TableName: tableName,
          Item: {
            ...keys.order(order.orderId),
            entityType: ENTITY.order,
            ...order,
            ...pendingIndexAttributes(order),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
      {
        Put: {
          TableName: tableName,
          Item: transitionItem(created),
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
    ];
    const IDEMPOTENCY_INDEX = items.length;
    if (idempotency !== undefined) {
      items.push({
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
      });
    }
    try {
      await transactWrite(this.options.client, items);
      return { kind: 'created' };
    } catch (error) {
      const reasons = cancellationReasons(error);
      const keyReason = reasons[IDEMPOTENCY_INDEX];
      if (idempotency !== undefined && keyReason?.code === 'ConditionalCheckFailed' && keyReason.item) {
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
    const history = items
      .filter((item) => item.entityType === ENTITY.transition)
      .map(toTransition)
      .sort((left, right) => left.version - right.version);
    const payments = items
      .filter((item) => item.entityType === ENTITY.payment)
      .map(toPayment)
      .sort((left, right) => left.createdAt.localeCompare(right.createdAt));
    return { order: toOrder(orderItem), history, payments };
  }

  public async saveTransition(
    previous: Order,
    next: Order,
    transition: OrderTransition,
    guard: TransitionGuard = {},
  ): Promise<void> {
    const items = transitionItems(this.options.tableName, previous, next, transition);
    const LEASE_INDEX = items.length;
    if (guard.noLiveLeaseAt !== undefined) {
      items.push(noLiveLeaseCheck(this.options.tableName, previous.orderId, guard.noLiveLeaseAt));
    }
    try {
      await transactWrite(this.options.client, items);
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (failedCondition(reasons, 0) && reasons[0]?.item === undefined) {
        throw new OrderNotFoundError(previous.orderId);
      }
      if (failedCondition(reasons, 0) || failedCondition(reasons, 1)) {
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

/**
 * The two writes of any order transition: the order, only if its status, version and owner are still the ones
 * the decision was made on (leaving PENDING_PAYMENT also drops it from the pending index), and the timeline
 * entry of the new version, only if that version has none yet.
 */
export function transitionItems(
  tableName: string,
  previous: Order,
  next: Order,
  transition: OrderTransition,
): TransactItems {
  const changed = (Object.keys(next) as (keyof Order)[]).filter(
    (field) => field !== 'orderId' && next[field] !== previous[field],
  );
  const names: Record<string, string> = {
    '#status': 'status',
    '#version': 'version',
    '#customerId': 'customerId',
  };
  const values: Record<string, unknown> = {
    ':expectedStatus': previous.status,
    ':expectedVersion': previous.version,
    ':expectedCustomerId': previous.customerId,
  };
  const assignments = changed.map((field) => {
    names[`#set_${field}`] = field;
    values[`:set_${field}`] = next[field];
    return `#set_${field} = :set_${field}`;
  });
  const leavesPending =
    previous.status === OrderStatus.PENDING_PAYMENT && next.status !== OrderStatus.PENDING_PAYMENT;
  return [
    {
      Update: {
        TableName: tableName,
        Key: keys.order(previous.orderId),
        UpdateExpression: `SET ${assignments.join(', ')}${leavesPending ? ' REMOVE pendingShard, pendingDeadline' : ''}`,
        // The owner is part of the condition: a move decided for one customer's order never lands on another's.
        ConditionExpression:
          '#status = :expectedStatus AND #version = :expectedVersion AND #customerId = :expectedCustomerId',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    {
      Put: {
        TableName: tableName,
        Item: transitionItem(transition),
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    },
  ];
}
