import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { ENTITY, keys } from '../../functions/adapters/dynamodb-table';
import type { OrderItem } from '../../functions/domain/order';
import type { OrderStatus } from '../../functions/domain/order-status';
import { createTables } from '../../lib/local/aws/resources';
import { appModel } from '../../lib/model';

export const TEST_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface TestTables {
  readonly endpoint: string;
  readonly ordersTableName: string;
  readonly client: DynamoDBClient;
  readonly documentClient: DynamoDBDocumentClient;
}

/**
 * Creates the model's tables under names unique to the calling test file, in the suite's shared DynamoDB
 * Local, so files running in parallel never see each other's items.
 */
export async function createTestTables(): Promise<TestTables> {
  const endpoint = inject('dynamodbEndpoint');
  const suffix = randomUUID().slice(0, 8);
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  const tables = appModel.tables.map((table) => ({ ...table, name: `${table.name}-${suffix}` }));
  await createTables(client, tables);
  const orders = tables.find((table) => table.name.startsWith('orders-'));
  if (orders === undefined) throw new Error('the model declares no orders table');
  return {
    endpoint,
    ordersTableName: orders.name,
    client,
    documentClient: DynamoDBDocumentClient.from(client),
  };
}

/** Points the AWS SDK inside handlers (imported into the test process) at the test tables. */
export function useTablesForHandlers(tables: TestTables, extra: Record<string, string> = {}): void {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: tables.endpoint,
    ORDERS_TABLE_NAME: tables.ordersTableName,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...extra,
  });
}

/** An order as the code before issue 21 stored it, described by its timeline. */
export interface OrderBeforeIssue21 {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderItem[];
  readonly paymentDeadline: string;
  /** Each move in turn, from creation; the order's status and version are the last one's. */
  readonly timeline: readonly { readonly to: OrderStatus; readonly at: string; readonly reason?: string }[];
  /** Further attributes of the item, such as the pending-payment index's. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Stores the order item exactly as the code before issue 21 wrote it: long timeline entries (`version`, `from`,
 * `to`, `at`, `reason`), and `createdAt` and `updatedAt` stored beside them, so tests prove old data is still read
 * and moved.
 */
export async function putOrderBeforeIssue21(tables: TestTables, order: OrderBeforeIssue21): Promise<void> {
  const history = order.timeline.map((move, index) => ({
    version: index + 1,
    from: order.timeline[index - 1]?.to ?? null,
    to: move.to,
    at: move.at,
    reason: move.reason ?? `step ${index + 1}`,
  }));
  const last = history.at(-1);
  if (last === undefined) throw new Error('an order has at least its creation in its timeline');
  await tables.documentClient.send(
    new PutCommand({
      TableName: tables.ordersTableName,
      Item: {
        ...keys.order(order.orderId),
        entityType: ENTITY.order,
        orderId: order.orderId,
        customerId: order.customerId,
        status: last.to,
        version: last.version,
        currency: 'EUR',
        totalAmount: order.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0),
        items: order.items,
        paymentDeadline: order.paymentDeadline,
        createdAt: history[0]?.at,
        updatedAt: last.at,
        history,
        ...order.extra,
      },
    }),
  );
}
