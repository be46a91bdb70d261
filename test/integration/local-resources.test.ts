import { randomUUID } from 'node:crypto';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createTables, ResourceDeclarationConflictError } from '../../lib/local/aws/resources';
import type { TableDeclaration } from '../../lib/model';
import { TEST_CREDENTIALS } from '../support/dynamodb';

const client = new DynamoDBClient({
  endpoint: inject('dynamodbEndpoint'),
  region: 'us-east-1',
  credentials: TEST_CREDENTIALS,
});

afterAll(() => client.destroy());

function table(projectedAttributes: readonly string[], name: string): TableDeclaration {
  return {
    name,
    partitionKey: 'PK',
    sortKey: 'SK',
    indexes: [{ name: 'by-group', partitionKey: 'groupKey', sortKey: 'since', projectedAttributes }],
  };
}

describe('createTables: index projections', () => {
  it('copies only the declared attributes into an index', async () => {
    const declared = table(['orderId'], `projection-${randomUUID().slice(0, 8)}`);
    await createTables(client, [declared]);
    const documents = DynamoDBDocumentClient.from(client);
    await documents.send(
      new PutCommand({
        TableName: declared.name,
        Item: { PK: 'P', SK: 'S', groupKey: 'A', since: '1', orderId: 'O-1', history: [{ version: 1 }] },
      }),
    );

    const { Table } = await client.send(new DescribeTableCommand({ TableName: declared.name }));
    const { Items } = await documents.send(
      new QueryCommand({
        TableName: declared.name,
        IndexName: 'by-group',
        KeyConditionExpression: 'groupKey = :group',
        ExpressionAttributeValues: { ':group': 'A' },
      }),
    );

    expect(Table?.GlobalSecondaryIndexes?.[0]?.Projection).toEqual({
      ProjectionType: 'INCLUDE',
      NonKeyAttributes: ['orderId'],
    });
    expect(Items).toEqual([{ PK: 'P', SK: 'S', groupKey: 'A', since: '1', orderId: 'O-1' }]);
  });

  it('refuses a persisted index whose projection differs from the declaration', async () => {
    const name = `projection-${randomUUID().slice(0, 8)}`;
    await createTables(client, [table(['orderId'], name)]);

    await expect(createTables(client, [table([], name)])).rejects.toBeInstanceOf(
      ResourceDeclarationConflictError,
    );
  });
});
