import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
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
