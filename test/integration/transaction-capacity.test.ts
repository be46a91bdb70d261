import { randomUUID } from 'node:crypto';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { FunctionHost } from '../../lib/local/runtime/function-host';
import { useTableFunctionHosts } from '../support/table-function-host';

/**
 * DynamoDB Local under-reports what a transaction consumes; the function host's meter counts what DynamoDB bills
 * (two write units per started KB of each item), so the cost report prices transactions as AWS does.
 */

const hosts = useTableFunctionHosts();

function start(): FunctionHost {
  return hosts.start('transactor', 'test/fixtures/functions/transaction-writer.ts');
}

function smallPuts(count: number) {
  const prefix = `txn-${randomUUID()}`;
  return Array.from({ length: count }, (_, index) => ({
    Put: { TableName: hosts.tables().ordersTableName, Item: { PK: `${prefix}-${index}`, SK: 'item' } },
  }));
}

describe('write units of transactions', () => {
  it('DynamoDB Local reports five small items as 2 units, where DynamoDB bills 10', async () => {
    const written = await hosts
      .tables()
      .documentClient.send(
        new TransactWriteCommand({ TransactItems: smallPuts(5), ReturnConsumedCapacity: 'TOTAL' }),
      );

    expect(written.ConsumedCapacity?.[0]?.CapacityUnits).toBe(2);
  });

  it('meters five small items as 10 units', async () => {
    const functions = start();

    await functions.invoke('transactor', { prefix: `txn-${randomUUID()}`, smallItems: 5 });

    expect(functions.meter.snapshot()['DynamoDB:TransactWriteItems@transactor']).toEqual({
      requests: 1,
      readCapacityUnits: 0,
      writeCapacityUnits: 10,
    });
  });

  it('meters an item of 1.5 KB as 4 units beside 2 for each of two small ones (Local: 6)', async () => {
    const functions = start();

    await functions.invoke('transactor', {
      prefix: `txn-${randomUUID()}`,
      smallItems: 2,
      largeItemBytes: 1500,
    });

    expect(functions.meter.snapshot()['DynamoDB:TransactWriteItems@transactor']?.writeCapacityUnits).toBe(8);
  });
});
