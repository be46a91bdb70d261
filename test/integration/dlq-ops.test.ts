import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CreatedQueue, createQueues } from '../../lib/local/aws/resources';
import { type SqsLocal, startSqsLocal } from '../../lib/local/aws/sqs-local';
import { DlqUsageError, runDlqCommand } from '../../lib/ops/dlq';
import { TEST_CREDENTIALS } from '../support/dynamodb';

const MAX_RECEIVE_COUNT = 2;

let sqsLocal: SqsLocal;
let sqs: SQSClient;
let queue: CreatedQueue;

beforeAll(async () => {
  sqsLocal = await startSqsLocal();
  sqs = new SQSClient({ endpoint: sqsLocal.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
  const created = await createQueues(sqs, [
    { name: 'ops-events.fifo', fifo: true, visibilityTimeoutSeconds: 30, maxReceiveCount: MAX_RECEIVE_COUNT },
  ]);
  const ours = created['ops-events.fifo'];
  if (ours === undefined) throw new Error('createQueues returned no ops-events.fifo');
  queue = ours;
});

afterAll(async () => {
  sqs?.destroy();
  await sqsLocal?.stop();
});

async function run(...args: string[]) {
  const lines: string[] = [];
  const result = await runDlqCommand(args, { sqs, out: (line) => lines.push(line) });
  return { result, output: lines.join('\n') };
}

async function receiveFrom(url: string, visibilityTimeout: number): Promise<Message[]> {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: visibilityTimeout,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return Messages ?? [];
}

async function visibleIn(url: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? Number.NaN);
}

/**
 * Sends a message and fails it as a consumer would, receiving it without deleting it (visibility 0, so it is
 * back at once) until the redrive policy moves it to the DLQ on the receive after `maxReceiveCount`. Bounded:
 * fails if it never arrives there.
 */
async function poison(body: string, messageGroupId: string, deduplicationId: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queue.url,
      MessageBody: body,
      MessageGroupId: messageGroupId,
      MessageDeduplicationId: deduplicationId,
    }),
  );
  const before = await visibleIn(queue.deadLetterUrl);
  for (let receive = 1; receive <= MAX_RECEIVE_COUNT + 3; receive += 1) {
    await receiveFrom(queue.url, 0);
    if ((await visibleIn(queue.deadLetterUrl)) > before) return;
  }
  throw new Error(`message ${deduplicationId} did not reach the DLQ`);
}

describe('dlq ops', () => {
  const body = JSON.stringify({ type: 'PaymentSucceeded', orderId: 'order-1' });

  it('lists, shows and redrives a poison message, and a second redrive moves nothing', async () => {
    // Prepare
    await poison(body, 'order-1', 'event-1');

    // Act
    const listed = await run('list');
    const shown = await run('show', 'ops-events.fifo');
    const redriven = await run('redrive', 'ops-events.fifo');
    const again = await run('redrive', 'ops-events.fifo');

    // Assess
    expect(listed.result).toEqual({
      command: 'list',
      queues: [
        expect.objectContaining({
          name: queue.deadLetterName,
          approximateMessages: 1,
          sources: [queue.name],
        }),
      ],
    });
    expect(listed.output).toMatch(/ops-events-dlq\.fifo\tmessages=1\t/);

    expect(shown.result).toMatchObject({
      command: 'show',
      deadLetterQueue: queue.deadLetterName,
      messages: [{ messageGroupId: 'order-1', body }],
    });
    expect(shown.output).toContain('group:    order-1');
    expect(shown.output).toContain('"orderId": "order-1"');

    expect(redriven.result).toEqual({
      command: 'redrive',
      deadLetterQueue: queue.deadLetterName,
      sourceQueue: queue.name,
      moved: 1,
      skipped: 0,
    });
    expect(await visibleIn(queue.deadLetterUrl)).toBe(0);
    const back = await receiveFrom(queue.url, 30);
    expect(back.map((message) => [message.Body, message.Attributes?.MessageGroupId])).toEqual([
      [body, 'order-1'],
    ]);
    // A fresh deduplication id: the original one is still inside the 5-minute window and would be dropped.
    expect(back[0]?.Attributes?.MessageDeduplicationId).toMatch(/^redrive-/);

    expect(again.result).toMatchObject({ command: 'redrive', moved: 0 });
    expect(again.output).toContain('redrove 0 message(s)');
  });

  it('redrives at most --max messages, and takes the DLQ name as well', async () => {
    // Prepare
    await poison('{"n":1}', 'order-2', 'event-2');
    await poison('{"n":2}', 'order-3', 'event-3');

    // Act
    const first = await run('redrive', queue.deadLetterName, '--max', '1');
    const rest = await run('dlq', 'redrive', 'ops-events.fifo');

    // Assess
    expect(first.result).toMatchObject({ moved: 1, sourceQueue: queue.name });
    expect(rest.result).toMatchObject({ moved: 1 });
    expect(await visibleIn(queue.deadLetterUrl)).toBe(0);
    const back = await receiveFrom(queue.url, 30);
    expect(back.map((message) => message.Body).sort()).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('refuses unknown commands and bad options with a usage error', async () => {
    // Act / Assess
    await expect(run('purge', 'ops-events.fifo')).rejects.toBeInstanceOf(DlqUsageError);
    await expect(run('redrive', 'ops-events.fifo', '--max', '0')).rejects.toMatchObject({
      code: 'DLQ_USAGE',
    });
    await expect(run('show', 'no-such-queue.fifo')).rejects.toMatchObject({ code: 'DLQ_QUEUE_NOT_FOUND' });
  });
});
