import { ConditionalCheckFailedException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ConcurrentModificationError, OrderNotFoundError, PaymentInProgressError } from '../domain/errors';
import type { Order, OrderTransition } from '../domain/order';
import { OrderStatus } from '../domain/order-status';
import type {
  CreateOrderOutcome,
  IdempotencyClaim,
  OrderAdvances,
  OrderRepository,
  OrderWithHistory,
  StatusMove,
  StatusMoveResult,
  TransitionGuard,
} from '../domain/ports';
import {
  cancellationReasons,
  conditionalWrite,
  ENTITY,
  failedCondition,
  historyEntry,
  holdsLiveLease,
  keys,
  NO_LIVE_LEASE_CONDITION,
  noLiveLeaseCheck,
  ORDER_FIELDS_FROM_HISTORY,
  orderItem,
  orderPartition,
  PENDING_INDEX_SHARDS,
  paymentsOf,
  type TransactItems,
  toEpochSeconds,
  toOrder,
  toOrderWithHistory,
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

export class DynamoDbOrderRepository implements OrderRepository, OrderAdvances {
  public constructor(private readonly options: DynamoDbOrderRepositoryOptions) {}

  /**
   * One conditional PutItem of the order; with an idempotency key, first one of the key's record, naming the
   * order and the request's fingerprint. Two single-item writes instead of one transaction, which bills every
   * item twice: the key is claimed before the order exists, so no second order can be made under it, and a crash
   * between the two leaves a key naming an order not written yet, which the next request with that key writes
   * (see `OrderService.placeOrder`): a key naming this very order and request lets the order's put go on.
   */
  public async create(
    order: Order,
    created: OrderTransition,
    idempotency?: IdempotencyClaim,
  ): Promise<CreateOrderOutcome> {
    if (idempotency !== undefined) {
      const holder = await this.claimKey(order.orderId, idempotency);
      if (
        holder !== undefined &&
        (holder.orderId !== order.orderId || holder.requestFingerprint !== idempotency.requestFingerprint)
      ) {
        return { kind: 'keyAlreadyUsed', ...holder };
      }
    }
    try {
      await conditionalWrite(() =>
        this.options.client.send(
          new PutCommand({
            TableName: this.options.tableName,
            Item: orderItem(order, created),
            ConditionExpression: 'attribute_not_exists(PK)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { kind: 'created' };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // Under a key, the customer's order with this id is the key's, written by another request with it.
        // Otherwise order ids are generated ULIDs: an existing one means the id generator repeated itself.
        const existing = error.Item === undefined ? undefined : toOrder(unmarshall(error.Item));
        if (idempotency !== undefined && existing?.customerId === order.customerId) {
          return {
            kind: 'keyAlreadyUsed',
            orderId: order.orderId,
            requestFingerprint: idempotency.requestFingerprint,
          };
        }
        throw new ConcurrentModificationError(order.orderId, { cause: error });
      }
      if (error instanceof TransactionConflictException) {
        throw new ConcurrentModificationError(order.orderId, { cause: error });
      }
      throw error;
    }
  }

  /** Claims a free (or expired) idempotency key for `orderId`; a live key's holder when it is taken. */
  private async claimKey(
    orderId: string,
    idempotency: IdempotencyClaim,
  ): Promise<{ readonly orderId: string; readonly requestFingerprint: string } | undefined> {
    try {
      await conditionalWrite(() =>
        this.options.client.send(
          new PutCommand({
            TableName: this.options.tableName,
            Item: {
              ...keys.idempotencyKey(idempotency.key),
              entityType: ENTITY.idempotencyKey,
              orderId,
              requestFingerprint: idempotency.requestFingerprint,
              expiresAt: toEpochSeconds(idempotency.expiresAt),
            },
            ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
            ExpressionAttributeValues: { ':now': toEpochSeconds(this.options.now()) },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || error.Item === undefined) throw error;
      const holder = unmarshall(error.Item);
      return { orderId: String(holder.orderId), requestFingerprint: String(holder.requestFingerprint) };
    }
  }

  public async get(orderId: string): Promise<OrderWithHistory | undefined> {
    const items = await orderPartition(this.options.client, this.options.tableName, orderId);

    const orderItem = items.find((item) => item.entityType === ENTITY.order);
    if (orderItem === undefined) {
      return undefined;
    }
    return toOrderWithHistory(orderItem, paymentsOf(items));
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
    const leaseAt = guard.noLiveLeaseAt;
    try {
      await transactWrite(this.options.client, [
        {
          Update: {
            ...update,
            ConditionExpression: `${update.ConditionExpression} AND ${NO_LIVE_LEASE_CONDITION}`,
            ExpressionAttributeValues: {
              ...update.ExpressionAttributeValues,
              ':leaseNow': leaseAt.getTime(),
            },
          },
        },
        noLiveLeaseCheck(this.options.tableName, previous.orderId, leaseAt),
      ]);
    } catch (error) {
      const reasons = cancellationReasons(error);
      if (failedCondition(reasons, 0) && reasons[0]?.item === undefined) {
        throw new OrderNotFoundError(previous.orderId);
      }
      if (failedCondition(reasons, 0) && holdsLiveLease(reasons[0]?.item, leaseAt)) {
        throw new PaymentInProgressError(previous.orderId);
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

  /**
   * One conditional UpdateItem and no read: the order moves to `move.to` only if its status is one of
   * `move.from`; its version grows by one and the new version's timeline entry is appended in the same write
   * (see `HistoryEntry` in `dynamodb-table.ts`), so one entry per version holds as it does for `saveTransition`. A refusal
   * returns the order as it stood (`ReturnValuesOnConditionCheckFailure`), or throws `OrderNotFoundError` when
   * there is none.
   */
  public async advance(orderId: string, move: StatusMove): Promise<StatusMoveResult> {
    const from = Object.fromEntries(move.from.map((status, index) => [`:from${index}`, status]));
    try {
      const { Attributes } = await conditionalWrite(() =>
        this.options.client.send(
          new UpdateCommand({
            TableName: this.options.tableName,
            Key: keys.order(orderId),
            UpdateExpression:
              'SET #status = :to, #version = #version + :one, #history = list_append(#history, :entry)',
            ConditionExpression: `#status IN (${Object.keys(from).join(', ')})`,
            ExpressionAttributeNames: {
              '#status': 'status',
              '#version': 'version',
              '#history': 'history',
            },
            ExpressionAttributeValues: {
              ...from,
              ':to': move.to,
              ':one': 1,
              ':entry': [historyEntry({ ...move, at: move.at.toISOString() })],
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
      return { moved: true, order: toOrder(Attributes ?? {}) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (error.Item === undefined) throw new OrderNotFoundError(orderId);
      return { moved: false, order: toOrder(unmarshall(error.Item)) };
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
    (field) =>
      field !== 'orderId' && !ORDER_FIELDS_FROM_HISTORY.includes(field) && next[field] !== previous[field],
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
