import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { wiringModel } from '../fixtures/runtime/model';
import { TEST_CREDENTIALS } from '../support/dynamodb';
import { eventually } from '../support/eventually';

let system: LocalSystem;
let table: DynamoDBDocumentClient;
let sqs: SQSClient;

beforeAll(async () => {
  system = await startLocalSystem({
    port: 0,
    model: wiringModel,
    functionLogLevel: 'SILENT',
    scheduleRatesSeconds: { 'fixture-ticker': 1 },
  });
  const config = { region: 'us-east-1', credentials: TEST_CREDENTIALS };
  table = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: system.endpoints.dynamodb }));
  sqs = new SQSClient({ ...config, endpoint: system.endpoints.sqs });
});

afterAll(async () => {
  table?.destroy();
  sqs?.destroy();
  await system?.stop();
});

function recorded(PK: string) {
  return async () =>
    (await table.send(new GetCommand({ TableName: 'wiring', Key: { PK, SK: 'RECORD' } }))).Item ?? undefined;
}

describe('the local runtime wires every trigger from the declaration alone', () => {
  it('delivers a FIFO queue message to its function, and the table stream to the stream function', async () => {
    const queueUrl = system.queues['jobs.fifo']?.url;

    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'm1',
        MessageGroupId: 'g1',
        MessageDeduplicationId: 'm1',
      }),
    );

    expect(await eventually(recorded('SEEN#m1'))).toMatchObject({ group: 'g1' });
    expect(await eventually(recorded('STREAMED#m1'))).toBeDefined();
  });

  it('sends a stream batch that exhausts its retries to the failure queue of its function', async () => {
    const queueUrl = system.queues['jobs.fifo']?.url;
    const failures = await sqs.send(
      new GetQueueUrlCommand({ QueueName: 'fixture-stream-consumer-stream-dlq' }),
    );

    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'poison',
        MessageGroupId: 'g2',
        MessageDeduplicationId: 'poison',
      }),
    );
    const failure = await eventually(async () => {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: failures.QueueUrl, WaitTimeSeconds: 1 }),
      );
      return Messages[0];
    });

    expect(JSON.parse(failure.Body ?? '{}')).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted' },
      DDBStreamBatchInfo: { batchSize: 1 },
    });
  });

  it('runs a scheduled function at the local rate', async () => {
    const ticks = await eventually(async () => {
      const { Items = [] } = await table.send(new ScanCommand({ TableName: 'wiring' }));
      const found = Items.filter((item) => String(item.PK).startsWith('TICK#'));
      return found.length >= 2 ? found : undefined;
    });

    expect(ticks.length).toBeGreaterThanOrEqual(2);
  });

  it('starts a state machine from an HTTP handler, whose task runs the declared function', async () => {
    const response = await fetch(`${system.url}/start/abc`, { method: 'POST' });
    const { executionArn } = (await response.json()) as { executionArn: string };

    expect(response.status).toBe(202);
    expect(executionArn).toContain(':execution:flow:run-abc');
    expect(await eventually(recorded('TASK#abc'))).toBeDefined();
    const execution = await eventually(async () => {
      const { executions } = (await (await fetch(`${system.url}/_local/executions`)).json()) as {
        executions: { name: string; status: string; output?: string }[];
      };
      return executions.find((candidate) => candidate.name === 'run-abc' && candidate.status === 'SUCCEEDED');
    });
    expect(JSON.parse(execution.output ?? 'null')).toEqual({ done: 'abc' });
  });
});
