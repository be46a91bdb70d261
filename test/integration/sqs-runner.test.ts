import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CreatedQueue, createQueues } from '../../lib/local/aws/resources';
import { type SqsLocal, startSqsLocal } from '../../lib/local/aws/sqs-local';
import type { RunnerLogger } from '../../lib/local/runtime/runner-support';
import { type SqsRunner, type SqsRunnerOptions, startSqsRunner } from '../../lib/local/runtime/sqs-runner';
import { HIGH_THROUGHPUT_FIFO, type QueueDeclaration } from '../../lib/model';
import { invokerFor, waitFor } from '../support/local-functions';

const REGION = 'eu-west-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const FUNCTION = 'consumer';

type Handler = (event: SQSEvent) => Promise<unknown>;

interface CapturedLog {
  readonly level: 'info' | 'warn';
  readonly message: string;
}

function capturingLogger(): RunnerLogger & { readonly lines: CapturedLog[] } {
  const lines: CapturedLog[] = [];
  return {
    lines,
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
  };
}

describe('local SQS: createQueues and the SQS event source runner', () => {
  let sqsLocal: SqsLocal;
  let client: SQSClient;
  const runners: SqsRunner[] = [];
  let queueCounter = 0;

  beforeAll(async () => {
    sqsLocal = await startSqsLocal();
    client = new SQSClient({
      endpoint: sqsLocal.endpoint,
      region: REGION,
      credentials: LOCAL_CREDENTIALS,
    });
  });

  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  });

  afterAll(async () => {
    client.destroy();
    await sqsLocal.stop();
  });

  /** A fresh queue per test, so no test sees another's messages. */
  async function freshQueue(overrides: Partial<QueueDeclaration> = {}): Promise<CreatedQueue> {
    queueCounter += 1;
    const declaration: QueueDeclaration = {
      name: `runner-test-${queueCounter}`,
      fifo: false,
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: 3,
      ...overrides,
    };
    const created = (await createQueues(client, [declaration]))[declaration.name];
    if (created === undefined) {
      throw new Error('createQueues returned nothing for the declared queue');
    }
    return created;
  }

  function run(
    queue: CreatedQueue,
    handler: Handler,
    options: Partial<Omit<SqsRunnerOptions, 'invoker'>> = {},
  ): SqsRunner {
    const runner = startSqsRunner({
      client,
      queueUrl: queue.url,
      queueArn: queue.arn,
      functionName: FUNCTION,
      batchSize: 10,
      reportBatchItemFailures: true,
      invoker: invokerFor({ [FUNCTION]: handler }),
      logger: capturingLogger(),
      ...options,
    });
    runners.push(runner);
    return runner;
  }

  async function queueDepth(url: string): Promise<number> {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return (
      Number(Attributes?.ApproximateNumberOfMessages ?? 'NaN') +
      Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 'NaN')
    );
  }

  it('creates each queue with a typed DLQ and redrive policy, idempotently and converging on the declaration', async () => {
    // Prepare
    const fifo: QueueDeclaration = {
      name: 'order-events',
      fifo: true,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: 4,
      contentBasedDeduplication: true,
    };
    const standard: QueueDeclaration = {
      name: 'payment-callbacks',
      fifo: false,
      visibilityTimeoutSeconds: 30,
      maxReceiveCount: 5,
    };
    const first = await createQueues(client, [fifo, standard]);

    // Act
    const second = await createQueues(client, [{ ...fifo, visibilityTimeoutSeconds: 90 }, standard]);
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: second['order-events']?.url, AttributeNames: ['All'] }),
    );

    // Assess
    expect(second).toEqual(first);
    expect(second['order-events']).toMatchObject({
      name: 'order-events.fifo',
      deadLetterName: 'order-events-dlq.fifo',
      url: `${sqsLocal.endpoint}/000000000000/order-events.fifo`,
      arn: `arn:aws:sqs:${REGION}:000000000000:order-events.fifo`,
      deadLetterArn: `arn:aws:sqs:${REGION}:000000000000:order-events-dlq.fifo`,
    });
    expect(second['payment-callbacks']).toMatchObject({
      name: 'payment-callbacks',
      deadLetterName: 'payment-callbacks-dlq',
    });
    // High-throughput mode is set at creation and kept when the queue is ensured again.
    expect(Attributes).toMatchObject({
      FifoQueue: 'true',
      ContentBasedDeduplication: 'true',
      VisibilityTimeout: '90',
      ...HIGH_THROUGHPUT_FIFO,
    });
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: `arn:aws:sqs:${REGION}:000000000000:order-events-dlq.fifo`,
      maxReceiveCount: 4,
    });
  });

  it('keeps queues and messages in a dataDir across a restart of the SQS stand-in', async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), 'sqs-local-test-'));
    const declaration: QueueDeclaration = {
      name: 'persisted',
      fifo: false,
      visibilityTimeoutSeconds: 5,
      maxReceiveCount: 2,
    };
    const first = await startSqsLocal({ dataDir });
    const firstClient = new SQSClient({
      endpoint: first.endpoint,
      region: REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const created = await createQueues(firstClient, [declaration]);
    await firstClient.send(new SendMessageCommand({ QueueUrl: created.persisted?.url, MessageBody: 'kept' }));
    firstClient.destroy();
    await first.stop();

    // Act
    const second = await startSqsLocal({ dataDir });
    const secondClient = new SQSClient({
      endpoint: second.endpoint,
      region: REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const again = await createQueues(secondClient, [declaration]);
      const { Messages } = await secondClient.send(
        new ReceiveMessageCommand({ QueueUrl: again.persisted?.url, WaitTimeSeconds: 0 }),
      );

      // Assess
      expect(Messages?.map((message) => message.Body)).toEqual(['kept']);
      expect(again.persisted?.url).toBe(`${second.endpoint}/000000000000/persisted`);
    } finally {
      secondClient.destroy();
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('delivers a batch as a Lambda SQSEvent and deletes it after success', async () => {
    // Prepare
    const queue = await freshQueue();
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: ['one', 'two', 'three'].map((body, index) => ({
          Id: String(index),
          MessageBody: body,
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: 'order' },
            blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) },
          },
        })),
      }),
    );
    const events: SQSEvent[] = [];

    // Act
    run(
      queue,
      async (event) => {
        events.push(event);
        return undefined;
      },
      { pollers: 1 },
    );
    await waitFor(() => events.flatMap((event) => event.Records).length === 3);
    await waitFor(async () => (await queueDepth(queue.url)) === 0);

    // Assess
    expect(events).toHaveLength(1);
    const record = events[0]?.Records[0] as SQSRecord;
    expect(events[0]?.Records.map((item) => item.body)).toEqual(['one', 'two', 'three']);
    expect(record).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: REGION,
      md5OfBody: createHash('md5').update('one').digest('hex'),
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: {
        kind: { dataType: 'String', stringValue: 'order', stringListValues: [], binaryListValues: [] },
        blob: { dataType: 'Binary', binaryValue: Buffer.from([1, 2, 3]).toString('base64') },
      },
    });
    expect(record.messageId).toMatch(/\S/);
    expect(record.receiptHandle).toMatch(/\S/);
    expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
  });

  it('redelivers only the messages listed in batchItemFailures', async () => {
    // Prepare
    const queue = await freshQueue();
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );
    const deliveries: { body: string; receiveCount: string }[] = [];
    let failedOnce = false;

    // Act
    run(
      queue,
      async (event): Promise<SQSBatchResponse> => {
        const failures: { itemIdentifier: string }[] = [];
        for (const record of event.Records) {
          deliveries.push({ body: record.body, receiveCount: record.attributes.ApproximateReceiveCount });
          if (record.body === 'b' && !failedOnce) {
            failedOnce = true;
            failures.push({ itemIdentifier: record.messageId });
          }
        }
        return { batchItemFailures: failures };
      },
      { pollers: 1 },
    );
    await waitFor(() => deliveries.length === 4);
    await waitFor(async () => (await queueDepth(queue.url)) === 0);

    // Assess
    expect(deliveries.filter((delivery) => delivery.body === 'a')).toHaveLength(1);
    expect(deliveries.filter((delivery) => delivery.body === 'c')).toHaveLength(1);
    expect(deliveries.filter((delivery) => delivery.body === 'b')).toEqual([
      { body: 'b', receiveCount: '1' },
      { body: 'b', receiveCount: '2' },
    ]);
  });

  it('treats a batchItemFailures entry naming no message of the batch as a failure of the whole batch', async () => {
    // Prepare
    const queue = await freshQueue();
    await client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'only' }));
    const receiveCounts: string[] = [];

    // Act
    run(queue, async (event) => {
      for (const record of event.Records) {
        receiveCounts.push(record.attributes.ApproximateReceiveCount);
      }
      return receiveCounts.length === 1
        ? { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }
        : {};
    });
    await waitFor(() => receiveCounts.length === 2);
    await waitFor(async () => (await queueDepth(queue.url)) === 0);

    // Assess
    expect(receiveCounts).toEqual(['1', '2']);
  });

  it('moves a message that always fails to the DLQ after maxReceiveCount receives', async () => {
    // Prepare
    const queue = await freshQueue({ maxReceiveCount: 2 });
    await client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: 'poison' }));
    const receiveCounts: string[] = [];

    // Act
    run(queue, async (event) => {
      for (const record of event.Records) {
        receiveCounts.push(record.attributes.ApproximateReceiveCount);
      }
      throw new Error('cannot process this');
    });
    let deadLettered: string | undefined;
    await waitFor(async () => {
      const { Messages } = await client.send(
        new ReceiveMessageCommand({ QueueUrl: queue.deadLetterUrl, WaitTimeSeconds: 0 }),
      );
      deadLettered = Messages?.[0]?.Body;
      return deadLettered !== undefined;
    });

    // Assess
    expect(deadLettered).toBe('poison');
    expect(receiveCounts).toEqual(['1', '2']);
    expect(await queueDepth(queue.url)).toBe(0);
  });

  it('keeps FIFO group order across a redelivery while another group flows on', async () => {
    // Prepare
    const queue = await freshQueue({ fifo: true, contentBasedDeduplication: true });
    const sends = [
      ['A', 'a1'],
      ['A', 'a2'],
      ['A', 'a3'],
      ['B', 'b1'],
      ['B', 'b2'],
      ['B', 'b3'],
    ] as const;
    for (const [group, body] of sends) {
      await client.send(
        new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body, MessageGroupId: group }),
      );
    }
    const processed: string[] = [];
    const firstA: SQSRecord[] = [];
    let a1Failed = false;

    // Act: like Powertools' SqsFifoPartialProcessor with skipGroupOnError, a failure fails the rest of its group.
    run(queue, async (event): Promise<SQSBatchResponse> => {
      const failedGroups = new Set<string>();
      const failures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        const group = record.attributes.MessageGroupId ?? '';
        if (record.body === 'a1') {
          firstA.push(record);
        }
        if (failedGroups.has(group) || (record.body === 'a1' && !a1Failed)) {
          a1Failed = true;
          failedGroups.add(group);
          failures.push({ itemIdentifier: record.messageId });
          continue;
        }
        processed.push(record.body);
      }
      return { batchItemFailures: failures };
    });
    await waitFor(() => processed.length === 6);

    // Assess
    expect(processed.filter((body) => body.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(processed.filter((body) => body.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
    expect(processed.indexOf('b3')).toBeLessThan(processed.indexOf('a1'));
    expect(firstA.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    expect(firstA[0]?.attributes).toMatchObject({ MessageGroupId: 'A' });
    expect(firstA[0]?.attributes.SequenceNumber).toMatch(/^\d+$/);
    expect(firstA[0]?.attributes.MessageDeduplicationId).toMatch(/\S/);
  });

  it('logs a polling failure once, keeps retrying, and recovers when the queue appears', async () => {
    // Prepare
    const logger = capturingLogger();
    queueCounter += 1;
    const name = `runner-test-${queueCounter}`;
    const bodies: string[] = [];
    run(
      {
        name,
        url: `${sqsLocal.endpoint}/000000000000/${name}`,
        arn: `arn:aws:sqs:${REGION}:000000000000:${name}`,
        deadLetterName: '',
        deadLetterUrl: '',
        deadLetterArn: '',
      },
      async (event) => {
        bodies.push(...event.Records.map((record) => record.body));
        return undefined;
      },
      { logger, pollers: 1 },
    );
    await new Promise((resolve) => setTimeout(resolve, 800));

    // Act
    const queue = (
      await createQueues(client, [{ name, fifo: false, visibilityTimeoutSeconds: 1, maxReceiveCount: 3 }])
    )[name];
    await client.send(new SendMessageCommand({ QueueUrl: queue?.url, MessageBody: 'after the outage' }));
    await waitFor(() => bodies.length === 1, 15_000);

    // Assess
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(logger.lines.filter((line) => line.level === 'info')).toHaveLength(1);
    expect(bodies).toEqual(['after the outage']);
  });
});
