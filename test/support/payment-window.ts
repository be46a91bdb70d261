import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { PENDING_INDEX_SHARDS } from '../../functions/adapters/dynamodb-table';
import type { PlaceOrderCommand } from '../../functions/domain/order';
import { OrderService } from '../../functions/domain/order-service';
import { PaymentService } from '../../functions/domain/payment-service';
import type { Clock, PaymentProvider, PaymentTimers } from '../../functions/domain/ports';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import type { TestTables } from './dynamodb';

/** A clock that stands still until a test moves it. */
export class ManualClock implements Clock {
  public constructor(private current: Date) {}

  public now(): Date {
    return new Date(this.current.getTime());
  }

  public set(to: Date): void {
    this.current = new Date(to.getTime());
  }
}

export function secondsAfter(date: Date | string, seconds: number): Date {
  return new Date(new Date(date).getTime() + seconds * 1000);
}

/** Timers that do nothing: the orders these tests create rely on the sweeper or on a direct firing. */
export const noTimers: PaymentTimers = {
  schedule: async () => undefined,
  cancel: async () => undefined,
};

/** Expiry never talks to the provider; a call means a test went somewhere it should not. */
const unreachableProvider: PaymentProvider = {
  createIntent: async () => {
    throw new Error('the payment provider must not be called');
  },
  refund: async () => {
    throw new Error('the payment provider must not be called');
  },
};

/** The timer settings create-order needs in its environment; the ARNs are plausible but never reached. */
export const timerSettings = {
  PAYMENT_TIMEOUT_GROUP_NAME: 'payment-timeouts',
  PAYMENT_TIMEOUT_TARGET_ARN: 'arn:aws:lambda:us-east-1:000000000000:function:payment-timeout',
  PAYMENT_TIMEOUT_ROLE_ARN: 'arn:aws:iam::000000000000:role/payment-timeouts-scheduler',
  PAYMENT_TIMEOUT_DEAD_LETTER_ARN: 'arn:aws:sqs:us-east-1:000000000000:payment-timeouts-dlq',
  PAYMENT_TIMEOUT_MAX_RETRIES: '10',
  PAYMENT_TIMEOUT_MAX_EVENT_AGE_SECONDS: '3600',
} as const;

export const sampleOrder: PlaceOrderCommand = {
  customerId: 'customer-1',
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }],
};

/** The same Lambda context for every direct handler call. */
export const lambdaContext = {
  functionName: 'test',
  awsRequestId: 'test-request',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

function repositoryOn(tables: TestTables, clock: Clock): DynamoDbOrderRepository {
  return new DynamoDbOrderRepository({
    client: tables.documentClient,
    tableName: tables.ordersTableName,
    pendingIndexName: PENDING_PAYMENT_INDEX.name,
    now: () => clock.now(),
  });
}

/**
 * Sequential order ids of 26 characters, like the ULIDs of production. Deterministic, so the index shards they
 * hash to are the same on every run; each test file has tables of its own, so ids never meet across files.
 */
export function orderIds(prefix: string): () => string {
  let next = 0;
  return () => `${prefix}${(next++).toString().padStart(26 - prefix.length, '0')}`;
}

export function orderServiceOn(
  tables: TestTables,
  options: {
    readonly clock: Clock;
    readonly paymentTimeoutSeconds: number;
    readonly newOrderId: () => string;
  },
): OrderService {
  return new OrderService({
    repository: repositoryOn(tables, options.clock),
    timers: noTimers,
    clock: options.clock,
    ids: { newOrderId: options.newOrderId },
    paymentTimeoutSeconds: options.paymentTimeoutSeconds,
    idempotencyKeyTtlSeconds: 3600,
  });
}

export function leaseStoreOn(tables: TestTables): DynamoDbLeaseStore {
  return new DynamoDbLeaseStore({ client: tables.documentClient, tableName: tables.ordersTableName });
}

export function paymentServiceOn(tables: TestTables, clock: Clock): PaymentService {
  return new PaymentService({
    orders: repositoryOn(tables, clock),
    payments: new DynamoDbPaymentRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    }),
    leases: leaseStoreOn(tables),
    provider: unreachableProvider,
    timers: noTimers,
    clock,
    newLeaseOwner: () => randomUUID(),
    leaseSeconds: 30,
    eventRetentionSeconds: 24 * 60 * 60,
  });
}

/** Every order id in the pending-payment index, read shard by shard, whatever its deadline. */
export async function pendingIndexOrderIds(tables: TestTables): Promise<string[]> {
  const orderIds: string[] = [];
  for (let shard = 0; shard < PENDING_INDEX_SHARDS; shard++) {
    let exclusiveStartKey: QueryCommandOutput['LastEvaluatedKey'];
    do {
      const page = await tables.documentClient.send(
        new QueryCommand({
          TableName: tables.ordersTableName,
          IndexName: PENDING_PAYMENT_INDEX.name,
          KeyConditionExpression: 'pendingShard = :shard',
          ExpressionAttributeValues: { ':shard': `PENDING#${shard}` },
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      orderIds.push(...(page.Items ?? []).map((item) => String(item.orderId)));
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
  }
  return orderIds;
}

/** A loopback port nothing listens on: connections to it are refused at once. */
export async function closedLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}
