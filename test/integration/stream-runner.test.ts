import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTables } from '../../lib/local/aws/resources';
import type { RunnerLogger } from '../../lib/local/runtime/runner-support';
import {
  type StreamBatchFailure,
  type StreamRunner,
  type StreamRunnerOptions,
  startStreamRunner,
} from '../../lib/local/runtime/stream-runner';
import { invokerFor, waitFor } from '../support/local-functions';

const REGION = 'eu-west-1';
const FUNCTION = 'relay';
const quietLogger: RunnerLogger = { info: () => undefined, warn: () => undefined };

type Handler = (event: DynamoDBStreamEvent) => Promise<unknown>;

/** Forwards every request to `target` and counts them by API operation (`X-Amz-Target`). */
async function countingProxy(target: string): Promise<{
  readonly endpoint: string;
  readonly counts: Map<string, number>;
  readonly server: Server;
}> {
  const counts = new Map<string, number>();
  const server = createServer((incoming, outgoing) => {
    const operation =
      String(incoming.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const forwarded = request(
      new URL(incoming.url ?? '/', target),
      { method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, counts, server };
}

function idOf(record: DynamoDBRecord): string | undefined {
  return (record.dynamodb?.NewImage ?? record.dynamodb?.Keys)?.PK?.S;
}

describe('local DynamoDB stream event source runner', () => {
  // The suite's DynamoDB Local; this file's tables carry a suffix of their own, so no other file sees their streams.
  const endpoint = inject('dynamodbEndpoint');
  const suffix = randomUUID().slice(0, 8);
  let client: DynamoDBClient;
  const runners: StreamRunner[] = [];
  let tableCounter = 0;

  beforeAll(() => {
    client = new DynamoDBClient({
      endpoint,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  });

  afterAll(() => {
    client.destroy();
  });

  async function freshTable(): Promise<string> {
    tableCounter += 1;
    const name = `stream-test-${suffix}-${tableCounter}`;
    await createTables(client, [{ name, partitionKey: 'PK', sortKey: 'SK', stream: 'NEW_AND_OLD_IMAGES' }]);
    return name;
  }

  async function put(tableName: string, id: string, extra: Record<string, string> = {}): Promise<void> {
    const attributes = Object.fromEntries(Object.entries(extra).map(([key, value]) => [key, { S: value }]));
    await client.send(
      new PutItemCommand({ TableName: tableName, Item: { PK: { S: id }, SK: { S: 'ITEM' }, ...attributes } }),
    );
  }

  async function run(
    tableName: string,
    handler: Handler,
    options: Partial<Omit<StreamRunnerOptions, 'invoker' | 'tableName'>> = {},
  ): Promise<StreamRunner> {
    const runner = await startStreamRunner({
      connection: { endpoint, region: REGION },
      tableName,
      functionName: FUNCTION,
      batchSize: 10,
      startingPosition: 'TRIM_HORIZON',
      maxRetryAttempts: 2,
      bisectBatchOnError: false,
      reportBatchItemFailures: false,
      invoker: invokerFor({ [FUNCTION]: handler }),
      pollIntervalMs: 50,
      retryDelayMs: 10,
      logger: quietLogger,
      ...options,
    });
    runners.push(runner);
    return runner;
  }

  it('delivers INSERT, MODIFY and REMOVE in order as Lambda records, from LATEST on', async () => {
    // Prepare
    const tableName = await freshTable();
    await put(tableName, 'written-before-start');
    const records: DynamoDBRecord[] = [];
    const runner = await run(
      tableName,
      async (event) => {
        records.push(...event.Records);
      },
      { startingPosition: 'LATEST' },
    );
    const key = { PK: { S: 'order-1' }, SK: { S: 'ITEM' } };

    // Act
    await put(tableName, 'order-1', { status: 'NEW' });
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #status = :paid',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':paid': { S: 'PAID' } },
      }),
    );
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: key }));
    await waitFor(() => records.length >= 3);

    // Assess
    expect(records.map((record) => record.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = records;
    expect(insert).toMatchObject({
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: REGION,
      eventSourceARN: runner.streamArn,
      dynamodb: {
        Keys: key,
        NewImage: { ...key, status: { S: 'NEW' } },
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(insert?.dynamodb?.OldImage).toBeUndefined();
    expect(modify?.dynamodb?.OldImage?.status).toEqual({ S: 'NEW' });
    expect(modify?.dynamodb?.NewImage?.status).toEqual({ S: 'PAID' });
    expect(remove?.dynamodb?.NewImage).toBeUndefined();
    expect(remove?.dynamodb?.OldImage?.status).toEqual({ S: 'PAID' });
    expect(insert?.eventID).toMatch(/\S/);
    expect(insert?.dynamodb?.SizeBytes).toBeGreaterThan(0);
    const seconds = insert?.dynamodb?.ApproximateCreationDateTime ?? 0;
    expect(Math.abs(seconds - Date.now() / 1000)).toBeLessThan(120);
    const sequence = records.map((record) => BigInt(record.dynamodb?.SequenceNumber ?? '0'));
    expect([...sequence].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequence);
    expect(runner.streamArn).toMatch(new RegExp(`table/${tableName}/stream/`));
  });

  it('delivers an empty map as an empty map, as DynamoDB Streams do (DynamoDB Local writes it without a type)', async () => {
    // Prepare
    const tableName = await freshTable();
    const records: DynamoDBRecord[] = [];
    await run(tableName, async (event) => {
      records.push(...event.Records);
    });

    // Act
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          PK: { S: 'order-1' },
          SK: { S: 'ITEM' },
          payments: { M: {} },
          nested: { M: { inner: { M: {} } } },
        },
      }),
    );
    await waitFor(() => records.length >= 1);

    // Assess
    expect(records[0]?.dynamodb?.NewImage?.payments).toEqual({ M: {} });
    expect(records[0]?.dynamodb?.NewImage?.nested).toEqual({ M: { inner: { M: {} } } });
  });

  it('reads batch after batch without describing the stream again while its shards stay open', async () => {
    // Prepare
    const tableName = await freshTable();
    const proxy = await countingProxy(endpoint);
    const delivered: string[] = [];
    try {
      await run(
        tableName,
        async (event) => {
          delivered.push(...event.Records.map((record) => idOf(record) ?? ''));
        },
        { connection: { endpoint: proxy.endpoint, region: REGION }, shardRefreshIntervalMs: 3_600_000 },
      );

      // Act: one write at a time, each delivered before the next, so every one is a batch of its own.
      for (let index = 0; index < 5; index += 1) {
        await put(tableName, `item-${index}`);
        await waitFor(() => delivered.length > index);
      }

      // Assess: the shard list was read once, when the runner started.
      expect(delivered).toEqual(['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
      expect(proxy.counts.get('GetRecords')).toBeGreaterThanOrEqual(5);
      expect(proxy.counts.get('DescribeStream')).toBe(1);
    } finally {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await new Promise((resolve) => proxy.server.close(resolve));
    }
  });

  it('retries a failing batch and moves on once it succeeds, without calling onFailure', async () => {
    // Prepare
    const tableName = await freshTable();
    await put(tableName, 'r1');
    await put(tableName, 'r2');
    const attempts: (string | undefined)[][] = [];
    const failures: StreamBatchFailure[] = [];

    // Act
    await run(
      tableName,
      async (event) => {
        attempts.push(event.Records.map(idOf));
        if (attempts.length <= 2) {
          throw new Error('downstream is not ready yet');
        }
      },
      { maxRetryAttempts: 3, onFailure: async (failure) => void failures.push(failure) },
    );
    await waitFor(() => attempts.length >= 3);
    await put(tableName, 'r3');
    await waitFor(() => attempts.length >= 4);

    // Assess
    expect(attempts).toEqual([['r1', 'r2'], ['r1', 'r2'], ['r1', 'r2'], ['r3']]);
    expect(failures).toEqual([]);
  });

  it('hands a poison record to onFailure after its retries, isolated by bisection, and keeps going', async () => {
    // Prepare
    const tableName = await freshTable();
    for (const id of ['good-1', 'poison', 'good-2']) {
      await put(tableName, id);
    }
    const succeeded: (string | undefined)[] = [];
    const poisonAttempts: number[] = [];
    const failures: StreamBatchFailure[] = [];
    const poisonSequence: string[] = [];

    // Act
    const runner = await run(
      tableName,
      async (event) => {
        const ids = event.Records.map(idOf);
        if (ids.includes('poison')) {
          poisonAttempts.push(ids.length);
          const poison = event.Records.find((record) => idOf(record) === 'poison');
          poisonSequence.push(poison?.dynamodb?.SequenceNumber ?? '');
          throw new Error('cannot relay this record');
        }
        succeeded.push(...ids);
      },
      {
        maxRetryAttempts: 1,
        bisectBatchOnError: true,
        onFailure: async (failure) => void failures.push(failure),
      },
    );
    await waitFor(() => succeeded.length >= 2);
    await put(tableName, 'good-3');
    await waitFor(() => succeeded.length >= 3);

    // Assess
    expect(succeeded).toEqual(['good-1', 'good-2', 'good-3']);
    // The whole batch, its first half, then the poison record alone: the first try and one retry.
    expect(poisonAttempts).toEqual([3, 2, 1, 1]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      version: '1.0',
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 2,
        functionArn: `arn:aws:lambda:${REGION}:000000000000:function:${FUNCTION}`,
      },
      responseContext: { functionError: 'Unhandled' },
      DDBStreamBatchInfo: {
        batchSize: 1,
        startSequenceNumber: poisonSequence[0],
        endSequenceNumber: poisonSequence[0],
        streamArn: runner.streamArn,
      },
    });
    expect(failures[0]?.DDBStreamBatchInfo.shardId).toMatch(/^shardId-/);
  });

  it('resumes from the first reported batch item failure, not from the start of the batch', async () => {
    // Prepare
    const tableName = await freshTable();
    for (const id of ['p1', 'p2', 'p3']) {
      await put(tableName, id);
    }
    const attempts: (string | undefined)[][] = [];

    // Act
    await run(
      tableName,
      async (event): Promise<DynamoDBBatchResponse> => {
        attempts.push(event.Records.map(idOf));
        const second = event.Records[1];
        if (attempts.length === 1 && second?.dynamodb?.SequenceNumber !== undefined) {
          return { batchItemFailures: [{ itemIdentifier: second.dynamodb.SequenceNumber }] };
        }
        return { batchItemFailures: [] };
      },
      { reportBatchItemFailures: true },
    );
    await waitFor(() => attempts.length >= 2);
    await put(tableName, 'p4');
    await waitFor(() => attempts.length >= 3);

    // Assess
    expect(attempts).toEqual([['p1', 'p2', 'p3'], ['p2', 'p3'], ['p4']]);
  });
});
