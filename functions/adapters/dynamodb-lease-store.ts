import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LeaseNotHeldError, PaymentInProgressError } from '../domain/errors';
import type { LeaseStore, PaymentLease } from '../domain/ports';
import { ENTITY, keys } from './dynamodb-table';

export interface DynamoDbLeaseStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The payment lease as one item per order, taken and released by conditional updates. The item is never
 * deleted, so its fencing counter only grows: a holder whose lease expired and was taken over has a smaller
 * token than the new holder, and every write it attempts under its old token is refused.
 */
export class DynamoDbLeaseStore implements LeaseStore {
  public constructor(private readonly options: DynamoDbLeaseStoreOptions) {}

  public async acquire(
    orderId: string,
    owner: string,
    now: Date,
    durationSeconds: number,
  ): Promise<PaymentLease> {
    const expiresAt = new Date(now.getTime() + durationSeconds * 1000);
    try {
      const { Attributes } = await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.lease(orderId),
          UpdateExpression:
            'SET entityType = :entity, orderId = :orderId, leaseOwner = :owner, leaseExpiresAt = :expiresAt ADD fencingToken :one',
          ConditionExpression: 'attribute_not_exists(PK) OR leaseExpiresAt <= :now',
          ExpressionAttributeValues: {
            ':entity': ENTITY.lease,
            ':orderId': orderId,
            ':owner': owner,
            ':expiresAt': expiresAt.getTime(),
            ':now': now.getTime(),
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { orderId, owner, fencingToken: Number(Attributes?.fencingToken), expiresAt };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new PaymentInProgressError(orderId);
      }
      throw error;
    }
  }

  public async release(lease: PaymentLease): Promise<void> {
    try {
      await this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.lease(lease.orderId),
          UpdateExpression: 'SET leaseExpiresAt = :released REMOVE leaseOwner',
          ConditionExpression: 'leaseOwner = :owner AND fencingToken = :token',
          ExpressionAttributeValues: { ':released': 0, ':owner': lease.owner, ':token': lease.fencingToken },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new LeaseNotHeldError(lease.orderId, lease.fencingToken);
      }
      throw error;
    }
  }
}
