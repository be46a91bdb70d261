import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type Stripe from 'stripe';
import { type MockInstance, vi } from 'vitest';
import { DynamoDbLeaseStore } from '../../functions/adapters/dynamodb-lease-store';
import { DynamoDbOrderRepository } from '../../functions/adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from '../../functions/adapters/dynamodb-payment-repository';
import { PENDING_INDEX_SHARDS } from '../../functions/adapters/dynamodb-table';
import { stripeClient } from '../../functions/adapters/stripe-client';
import { StripePaymentProvider } from '../../functions/adapters/stripe-payment-provider';
import type { Order, PlaceOrderCommand } from '../../functions/domain/order';
import { OrderService } from '../../functions/domain/order-service';
import { PaymentService, type SweepResult } from '../../functions/domain/payment-service';
import type { Clock, PaymentProvider, PaymentTimers } from '../../functions/domain/ports';
import {
  type FakePaymentProvider,
  type FakePaymentProviderOptions,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { PENDING_PAYMENT_INDEX } from '../../lib/model';
import { type TestTables, useTablesForHandlers } from './dynamodb';
import { InMemoryPaymentProvider } from './in-memory/outside';

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

/** A sweep's result: these counts, every other one zero. */
export function swept(counts: Partial<SweepResult>): SweepResult {
  return {
    examined: 0,
    cancelled: 0,
    leased: 0,
    paid: 0,
    heldForProcessing: 0,
    checkBackFailed: 0,
    ...counts,
  };
}

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

/**
 * The payment service on the test tables, with the in-memory provider unless a test passes its own (to pay or
 * fail the intents it prepares).
 */
export function paymentServiceOn(
  tables: TestTables,
  clock: Clock,
  options: { readonly provider?: PaymentProvider; readonly processingGraceSeconds?: number } = {},
): PaymentService {
  return new PaymentService({
    orders: repositoryOn(tables, clock),
    payments: new DynamoDbPaymentRepository({
      client: tables.documentClient,
      tableName: tables.ordersTableName,
    }),
    leases: leaseStoreOn(tables),
    provider: options.provider ?? new InMemoryPaymentProvider({ now: () => clock.now() }),
    timers: noTimers,
    clock,
    newLeaseOwner: () => randomUUID(),
    leaseSeconds: 30,
    eventRetentionSeconds: 24 * 60 * 60,
    processingGraceSeconds: options.processingGraceSeconds ?? 600,
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

/** What a test file that calls the payment handlers directly drives them with and watches them through. */
export interface PaymentHandlersHarness {
  readonly fake: FakePaymentProvider;
  /** The official SDK on the fake, as a shop front uses it. */
  readonly stripe: Stripe;
  readonly addMetric: MockInstance;
  readonly warnings: MockInstance;
}

/**
 * Starts a fake Stripe with no webhook endpoint, so that what it reports reaches the system only when the
 * handlers ask it, and points the handlers' environment at it and at `tables` (plus `environment`). Deleting a
 * paid order's timer fails at once, on a closed port: the handlers log it and go on. The spies are on the
 * composition root, imported after the environment is set, as the handlers are. The caller stops `fake`.
 */
export async function paymentHandlersHarness(
  tables: TestTables,
  options: {
    readonly environment: Record<string, string>;
    readonly processingMs?: FakePaymentProviderOptions['processingMs'];
  },
): Promise<PaymentHandlersHarness> {
  const apiKey = 'sk_test_payment_handlers';
  const fake = await startFakePaymentProvider({
    apiKey,
    webhookSecret: 'whsec_payment_handlers',
    deliveryRetry: { attempts: 1 },
    processingMs: options.processingMs,
  });
  useTablesForHandlers(tables, {
    PAYMENT_PROVIDER_URL: fake.url,
    PAYMENT_PROVIDER_API_KEY: apiKey,
    PAYMENT_TIMEOUT_GROUP_NAME: 'payment-timeouts',
    AWS_ENDPOINT_URL_SCHEDULER: `http://127.0.0.1:${await closedLoopbackPort()}`,
    ...options.environment,
  });
  const { logger, metrics } = await import('../../functions/composition-root');
  return {
    fake,
    stripe: stripeClient(fake.url, apiKey),
    addMetric: vi.spyOn(metrics, 'addMetric'),
    warnings: vi.spyOn(logger, 'warn'),
  };
}

/**
 * The customer pays `order` at Stripe: its intent is prepared through the Stripe adapter at `clock`'s time, then
 * confirmed with `paymentMethod`. Returns the intent's id.
 */
export async function confirmedAtStripe(
  tables: TestTables,
  stripe: Stripe,
  order: Order,
  options: {
    readonly clock: Clock;
    readonly paymentMethod: string;
    readonly paymentMethodTypes: readonly string[];
  },
): Promise<string> {
  const checkout = paymentServiceOn(tables, options.clock, {
    provider: new StripePaymentProvider({ stripe, paymentMethodTypes: options.paymentMethodTypes }),
  });
  const { intent } = await checkout.preparePayment(order.orderId, order.customerId);
  await stripe.paymentIntents.confirm(intent.paymentId, { payment_method: options.paymentMethod });
  return intent.paymentId;
}
