import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandOutput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ConcurrentModificationError, OrderNotFoundError } from '../domain/errors';
import type { Order, OrderItem, OrderTransition } from '../domain/order';
import { isOrderStatus, type OrderStatus } from '../domain/order-status';
import type {
  CreateOrderOutcome,
  IdempotencyClaim,
  OrderRepository,
  OrderWithHistory,
} from '../domain/ports';

type Item = Record<string, unknown>;
type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * The single-table layout. An order and its timeline share a partition, so one strongly consistent query reads
 * both; the idempotency key has its own partition so that its `attribute_not_exists` check is a lock on the key.
 */
export const keys = {
  order: (orderId: string) => ({ PK: `ORDER#${orderId}`, SK: 'ORDER' }),
  transition: (orderId: string, version: number) => ({
    PK: `ORDER#${orderId}`,
    SK: `TRANSITION#${version.toString().padStart(10, '0')}`,
  }),
  idempotencyKey: (key: string) => ({ PK: `IDEMPOTENCY#${key}`, SK: 'IDEMPOTENCY' }),
} as const;

const ENTITY = { order: 'Order', transition: 'OrderTransition', idempotencyKey: 'IdempotencyKey' } as const;

const TRANSACTION_CONFLICT_ATTEMPTS = 4;

export interface DynamoDbOrderRepositoryOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
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
          Item: { ...keys.order(order.orderId), entityType: ENTITY.order, ...order },
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
    const IDEMPOTENCY_INDEX = 2;
    try {
      await this.transact(items);
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
    const items: Item[] = [];
    let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.options.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.order(orderId).PK },
          ConsistentRead: true,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);

    const orderItem = items.find((item) => item.entityType === ENTITY.order);
    if (orderItem === undefined) {
      return undefined;
    }
    const history = items
      .filter((item) => item.entityType === ENTITY.transition)
      .map(toTransition)
      .sort((left, right) => left.version - right.version);
    return { order: toOrder(orderItem), history };
  }

  public async saveTransition(previous: Order, next: Order, transition: OrderTransition): Promise<void> {
    const changed = (Object.keys(next) as (keyof Order)[]).filter(
      (field) => field !== 'orderId' && next[field] !== previous[field],
    );
    const names: Record<string, string> = { '#status': 'status', '#version': 'version' };
    const values: Record<string, unknown> = {
      ':expectedStatus': previous.status,
      ':expectedVersion': previous.version,
    };
    const assignments = changed.map((field) => {
      names[`#set_${field}`] = field;
      values[`:set_${field}`] = next[field];
      return `#set_${field} = :set_${field}`;
    });
    try {
      await this.transact([
        {
          Update: {
            TableName: this.options.tableName,
            Key: keys.order(previous.orderId),
            UpdateExpression: `SET ${assignments.join(', ')}`,
            ConditionExpression: '#status = :expectedStatus AND #version = :expectedVersion',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Put: {
            TableName: this.options.tableName,
            Item: transitionItem(transition),
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
      ]);
    } catch (error) {
      const reasons = cancellationReasons(error);
      const orderReason = reasons[0];
      if (orderReason?.code === 'ConditionalCheckFailed' && orderReason.item === undefined) {
        throw new OrderNotFoundError(previous.orderId);
      }
      if (reasons.length > 0) {
        throw new ConcurrentModificationError(previous.orderId, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Runs a transaction, retrying only DynamoDB's `TransactionConflict` (another transaction held one of the items
   * at that instant, so our conditions were never evaluated). Condition failures are answers, not retried.
   */
  private async transact(items: TransactItems): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.client.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        const reasons = cancellationReasons(error);
        const conflictOnly =
          reasons.some((reason) => reason.code === 'TransactionConflict') &&
          !reasons.some((reason) => reason.code === 'ConditionalCheckFailed');
        if (!conflictOnly || attempt >= TRANSACTION_CONFLICT_ATTEMPTS) {
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }
}

interface CancellationReason {
  readonly code: string | undefined;
  readonly item: Item | undefined;
}

function cancellationReasons(error: unknown): CancellationReason[] {
  if (!(error instanceof TransactionCanceledException)) {
    return [];
  }
  return (error.CancellationReasons ?? []).map((reason) => ({
    code: reason.Code,
    item: reason.Item === undefined ? undefined : unmarshall(reason.Item),
  }));
}

function transitionItem(transition: OrderTransition): Item {
  return {
    ...keys.transition(transition.orderId, transition.version),
    entityType: ENTITY.transition,
    ...transition,
  };
}

function toEpochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function toStatus(value: unknown): OrderStatus {
  const text = String(value);
  if (!isOrderStatus(text)) {
    throw new Error(`stored status ${text} is not an order status`);
  }
  return text;
}

function toOrder(item: Item): Order {
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

function toTransition(item: Item): OrderTransition {
  return {
    orderId: String(item.orderId),
    version: Number(item.version),
    from: item.from === null || item.from === undefined ? null : toStatus(item.from),
    to: toStatus(item.to),
    at: String(item.at),
    reason: String(item.reason),
  };
}
