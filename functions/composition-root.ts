import { Logger } from '@aws-lambda-powertools/logger';
import { search } from '@aws-lambda-powertools/logger/correlationId';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { DynamoDbOrderRepository } from './adapters/dynamodb-order-repository';
import { loadConfig } from './config';
import { OrderService } from './domain/order-service';
import type { Clock, IdGenerator } from './domain/ports';

/**
 * The one place where AWS clients and services are built, once per execution environment (cold start), never
 * per invocation. Endpoints come from the SDK's own configuration (`AWS_ENDPOINT_URL_<SERVICE>`), which is how
 * the same code reaches DynamoDB Local on a laptop and DynamoDB in AWS.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'order-backbone',
  correlationIdSearchFn: search,
});

const systemClock: Clock = { now: () => new Date() };
const ulidGenerator: IdGenerator = { newOrderId: () => ulid() };

let orderService: OrderService | undefined;

export function getOrderService(): OrderService {
  if (orderService === undefined) {
    const config = loadConfig(process.env);
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    orderService = new OrderService({
      repository: new DynamoDbOrderRepository({
        client,
        tableName: config.ORDERS_TABLE_NAME,
        now: systemClock.now,
      }),
      clock: systemClock,
      ids: ulidGenerator,
      paymentTimeoutSeconds: config.PAYMENT_TIMEOUT_SECONDS,
      idempotencyKeyTtlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS,
    });
  }
  return orderService;
}
