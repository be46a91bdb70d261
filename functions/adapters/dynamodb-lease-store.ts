import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LeaseNotHeldError, OrderNotFoundError, PaymentInProgressError } from '../domain/errors';
import { OrderStatus } from '../domain/order-status';
import { refusalToPay } from '../domain/payment';
import type { LeaseStore, OrderWithHistory, PayLeaseRequest, PaymentLease } from '../domain/ports';
import {
  EMBEDDED_PAYMENTS,
  ENTITY,
  embeddedPaymentsOf,
  holdsLiveLease,
  type Item,
  keys,
  NO_LIVE_LEASE_CONDITION,
  orderPartition,
  paymentsOf,
  toOrder,
  toOrderWithHistory,
} from './dynamodb-table';

export interface DynamoDbLeaseStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** A lease write's extra condition, with its names and values. */
interface LeaseCondition {
  readonly expression: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
}

/**
 * The payment lease in the order item (see `NO_LIVE_LEASE_CONDITION`), taken and released by conditional
 * updates of that item. The fencing counter is never removed, so it only grows: a holder whose lease expired
 * and was taken over has a smaller token than the new holder, and every write it attempts under its old token
 * is refused. Taking the lease to pay also checks the order is payable and answers it, so the payment request's
 * first read is that write.
 */
export class DynamoDbLeaseStore implements LeaseStore {
  public constructor(private readonly options: DynamoDbLeaseStoreOptions) {}

  public async acquire(
    orderId: string,
    owner: string,
    now: Date,
    durationSeconds: number,
  ): Promise<PaymentLease> {
    const taken = await this.take(orderId, owner, now, durationSeconds, {
      expression: 'attribute_exists(PK)',
    });
    if (taken.kind === 'refused') {
      if (taken.item === undefined) throw new OrderNotFoundError(orderId);
      throw new PaymentInProgressError(orderId);
    }
    return taken.lease;
  }

  public async acquireToPay(
    request: PayLeaseRequest,
  ): Promise<{ readonly lease: PaymentLease; readonly order: OrderWithHistory }> {
    const { orderId, customerId, owner, now, durationSeconds } = request;
    const payable: LeaseCondition = {
      expression: '#customerId = :customerId AND #status = :pending AND paymentDeadline > :nowIso',
      names: { '#customerId': 'customerId', '#status': 'status' },
      values: {
        ':customerId': customerId,
        ':pending': OrderStatus.PENDING_PAYMENT,
        ':nowIso': now.toISOString(),
      },
    };
    const refusal = (item: Item | undefined): Error =>
      refusalToPay(orderId, item?.entityType === ENTITY.order ? toOrder(item) : undefined, customerId, now) ??
      new PaymentInProgressError(orderId);
    const taken = await this.take(orderId, owner, now, durationSeconds, {
      ...payable,
      expression: `${payable.expression} AND attribute_exists(${EMBEDDED_PAYMENTS})`,
    });
    if (taken.kind === 'taken') {
      // The payments in the order's map: those in items of their own owe (or owed) a refund, never payable.
      return { lease: taken.lease, order: toOrderWithHistory(taken.item, embeddedPaymentsOf(taken.item)) };
    }
    const error = refusal(taken.item);
    if (
      taken.item === undefined ||
      taken.item[EMBEDDED_PAYMENTS] !== undefined ||
      !(error instanceof PaymentInProgressError) ||
      holdsLiveLease(taken.item, now)
    ) {
      throw error;
    }
    // An order created before the payment map: its payments are items of their own, read with it.
    const legacy = await this.take(orderId, owner, now, durationSeconds, {
      ...payable,
      expression: `${payable.expression} AND attribute_not_exists(${EMBEDDED_PAYMENTS})`,
    });
    if (legacy.kind === 'refused') throw refusal(legacy.item);
    const items = await orderPartition(this.options.client, this.options.tableName, orderId);
    // Its tokens went on in a lease item of its own: the lease goes past them, so that a key named by the token
    // (the provider's idempotency key of a new intent) is never one the previous code used.
    const previousToken = Number(items.find((item) => item.entityType === ENTITY.lease)?.fencingToken ?? 0);
    const lease = previousToken > 0 ? await this.raised(legacy.lease, previousToken) : legacy.lease;
    return { lease, order: toOrderWithHistory(legacy.item, paymentsOf(items)) };
  }

  /** The lease, its token raised by `by` while it is still held. */
  private async raised(lease: PaymentLease, by: number): Promise<PaymentLease> {
    const fencingToken = lease.fencingToken + by;
    try {
      await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.order(lease.orderId),
          UpdateExpression: 'SET fencingToken = :raised',
          ConditionExpression: 'leaseOwner = :owner AND fencingToken = :token',
          ExpressionAttributeValues: {
            ':raised': fencingToken,
            ':owner': lease.owner,
            ':token': lease.fencingToken,
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
      }
      throw error;
    }
    return { ...lease, fencingToken };
  }

  public async release(lease: PaymentLease): Promise<void> {
    try {
      await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.order(lease.orderId),
          UpdateExpression: 'REMOVE leaseOwner, leaseExpiresAt',
          ConditionExpression: 'leaseOwner = :owner AND fencingToken = :token',
          ExpressionAttributeValues: { ':owner': lease.owner, ':token': lease.fencingToken },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
      }
      throw error;
    }
  }

  /** Takes the lease if none is live and `condition` holds; else the item as it was, if any. */
  private async take(
    orderId: string,
    owner: string,
    now: Date,
    durationSeconds: number,
    condition: LeaseCondition,
  ): Promise<
    | { readonly kind: 'taken'; readonly lease: PaymentLease; readonly item: Item }
    | { readonly kind: 'refused'; readonly item: Item | undefined }
  > {
    const expiresAt = new Date(now.getTime() + durationSeconds * 1000);
    try {
      const { Attributes } = await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.order(orderId),
          UpdateExpression: 'SET leaseOwner = :owner, leaseExpiresAt = :expiresAt ADD fencingToken :one',
          ConditionExpression: `${condition.expression} AND ${NO_LIVE_LEASE_CONDITION}`,
          ...(condition.names === undefined ? {} : { ExpressionAttributeNames: condition.names }),
          ExpressionAttributeValues: {
            ...condition.values,
            ':owner': owner,
            ':expiresAt': expiresAt.getTime(),
            ':leaseNow': now.getTime(),
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const item = Attributes ?? {};
      return {
        kind: 'taken',
        item,
        lease: { orderId, owner, fencingToken: Number(item.fencingToken), expiresAt },
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item === undefined ? undefined : unmarshall(error.Item);
      // Our own lease: the SDK retried a request that timed out after DynamoDB had applied it (an UpdateItem
      // carries no idempotency token), and owners are unique per attempt, so it is the lease this call took.
      if (item?.leaseOwner === owner) {
        const heldUntil = new Date(Number(item.leaseExpiresAt));
        return {
          kind: 'taken',
          item,
          lease: { orderId, owner, fencingToken: Number(item.fencingToken), expiresAt: heldUntil },
        };
      }
      return { kind: 'refused', item };
    }
  }
}
