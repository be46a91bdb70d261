import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { FunctionInvocationError } from '../../lib/local/invoker';
import type { FunctionHost } from '../../lib/local/runtime/function-host';
import type { FaultKind } from '../../lib/local/runtime/sdk-instrumentation';
import { useTableFunctionHosts } from '../support/table-function-host';

/**
 * The local runtime's SDK instrumentation, through the real function host and DynamoDB Local: each fault kind
 * at rate 1 reaches the handler as the SDK would report the real failure, an injected crash fails the invocation
 * whatever the handler does, and every request is metered with the capacity it consumed.
 */

const hosts = useTableFunctionHosts();

function start(kind?: FaultKind): FunctionHost {
  return hosts.start(
    'writer',
    'test/fixtures/functions/sdk-writer.ts',
    kind === undefined ? undefined : { rate: 1, seed: 42, kinds: [kind], timeoutMs: 20 },
  );
}

async function stored(id: string): Promise<boolean> {
  const found = await hosts
    .tables()
    .documentClient.send(
      new GetCommand({ TableName: hosts.tables().ordersTableName, Key: { PK: id, SK: 'item' } }),
    );
  return found.Item !== undefined;
}

function ids() {
  return { first: `fault-${randomUUID()}`, second: `fault-${randomUUID()}` };
}

describe('SDK fault injection in the function host', () => {
  it('meters every request and the write capacity it consumed when no fault is configured', async () => {
    // Prepare
    const functions = start();
    const event = ids();

    // Act
    const result = await functions.invoke('writer', event);

    // Assess
    expect(result).toEqual({ first: null, second: null });
    expect(await stored(event.first)).toBe(true);
    expect(functions.meter.snapshot()['DynamoDB:PutItem@writer']).toEqual({
      requests: 2,
      readCapacityUnits: 0,
      writeCapacityUnits: 2,
    });
    expect(functions.meter.snapshot()['Lambda:Invoke(writer)']?.requests).toBe(1);
  });

  // The SDK's retry strategy classifies throttling by this error name.
  it('answers throttling as DynamoDB does: ProvisionedThroughputExceededException, 400, nothing written', async () => {
    const functions = start('throttling');
    const event = ids();

    const result = await functions.invoke('writer', event);

    expect(result).toMatchObject({
      first: { name: 'ProvisionedThroughputExceededException', httpStatusCode: 400 },
    });
    expect(await stored(event.first)).toBe(false);
  });

  it('answers a server error as InternalServerError with status 500, nothing written', async () => {
    const functions = start('server-error');
    const event = ids();

    const result = await functions.invoke('writer', event);

    expect(result).toMatchObject({ first: { name: 'InternalServerError', httpStatusCode: 500 } });
    expect(await stored(event.first)).toBe(false);
  });

  it('lets a request go unanswered until the SDK sees a TimeoutError', async () => {
    const functions = start('timeout');

    const result = await functions.invoke('writer', ids());

    expect(result).toMatchObject({ first: { name: 'TimeoutError' }, second: { name: 'TimeoutError' } });
  });

  it('crashes after a write: the write lands, the next never happens, and the invocation fails though the handler caught everything', async () => {
    const functions = start('crash-after-write');
    const event = ids();

    const invocation = functions.invoke('writer', event);

    await expect(invocation).rejects.toBeInstanceOf(FunctionInvocationError);
    await expect(invocation).rejects.toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(await stored(event.first)).toBe(true);
    expect(await stored(event.second)).toBe(false);
  });
});
