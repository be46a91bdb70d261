import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { LocalServerError } from '../http';
import type { FunctionInvoker } from '../invoker';
import { Backoff, consoleRunnerLogger, errorMessage, OutageLog, type RunnerLogger } from './runner-support';

export interface SqsRunnerOptions {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly functionName: string;
  /** Messages per invocation: 1–10 for FIFO queues, 1–10 000 for standard ones (several receives per batch). */
  readonly batchSize: number;
  /** Lambda's `ReportBatchItemFailures`: honour `{ batchItemFailures }` in the function's result. */
  readonly reportBatchItemFailures: boolean;
  readonly invoker: FunctionInvoker;
  /**
   * Long-poll duration, 0–20 s. Default 1 s: fauxqs wakes a waiting receive as soon as a message arrives, so
   * latency is the same as with 20 s, and `stop()` never waits long for an open poll.
   */
  readonly waitTimeSeconds?: number;
  /** Concurrent pollers for a standard queue (default 2). A FIFO queue always gets exactly one. */
  readonly pollers?: number;
  readonly logger?: RunnerLogger;
}

export interface SqsRunner {
  /** Stops polling and resolves once every in-flight batch is invoked and settled. */
  stop(): Promise<void>;
}

const MAX_MESSAGES_PER_RECEIVE = 10;
const MAX_DELETE_ENTRIES = 10;
const DEFAULT_WAIT_TIME_SECONDS = 1;
const DEFAULT_STANDARD_POLLERS = 2;
// If an open receive outlives its own wait time by this much, the endpoint is hung: abort it on stop.
const STOP_ABORT_SLACK_MS = 5_000;

/** What every poller of one runner shares. */
interface Poller {
  readonly options: SqsRunnerOptions;
  readonly logger: RunnerLogger;
  readonly outage: OutageLog;
  readonly waitTimeSeconds: number;
  /** Aborted by stop(): no new poll begins. */
  readonly stopping: AbortSignal;
  /** Aborted only when an open poll outlives its wait on stop: the endpoint is hung. */
  readonly hung: AbortSignal;
}

async function receive(poller: Poller, maxMessages: number, wait: number): Promise<Message[]> {
  const result = await poller.options.client.send(
    new ReceiveMessageCommand({
      QueueUrl: poller.options.queueUrl,
      MaxNumberOfMessages: maxMessages,
      WaitTimeSeconds: wait,
      AttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    { abortSignal: poller.hung },
  );
  return result.Messages ?? [];
}

/** Collects up to `batchSize` messages: one long poll, then immediate receives while full pages keep coming. */
async function receiveBatch(poller: Poller): Promise<Message[]> {
  const { batchSize } = poller.options;
  const batch = await receive(poller, Math.min(batchSize, MAX_MESSAGES_PER_RECEIVE), poller.waitTimeSeconds);
  let lastPage = batch.length;
  while (!poller.stopping.aborted && lastPage === MAX_MESSAGES_PER_RECEIVE && batch.length < batchSize) {
    let page: Message[];
    try {
      page = await receive(poller, Math.min(batchSize - batch.length, MAX_MESSAGES_PER_RECEIVE), 0);
    } catch {
      // The messages already received are in flight: deliver them rather than let them time out.
      break;
    }
    batch.push(...page);
    lastPage = page.length;
  }
  return batch;
}

/** Invokes the function with the batch and deletes what it processed. */
async function settle(poller: Poller, messages: readonly Message[], awsRegion: string): Promise<void> {
  const { options, logger } = poller;
  const event: SQSEvent = {
    Records: messages.map((message) => toRecord(message, options.queueArn, awsRegion)),
  };
  let result: unknown;
  try {
    result = await options.invoker.invoke(options.functionName, event);
  } catch (error) {
    logger.warn(
      `sqs runner: ${options.functionName} failed; ${messages.length} message(s) return after the visibility timeout`,
      { error: errorMessage(error) },
    );
    return;
  }
  let failed: ReadonlySet<string> = new Set();
  if (options.reportBatchItemFailures) {
    const parsed = parseBatchItemFailures(result, new Set(messages.map((message) => message.MessageId)));
    if (parsed.kind === 'invalid') {
      logger.warn(
        `sqs runner: ${options.functionName} returned an invalid batch response (${parsed.reason}); the whole batch returns after the visibility timeout`,
      );
      return;
    }
    failed = parsed.failed;
  }
  await deleteMessages(
    poller,
    messages.filter((message) => !failed.has(message.MessageId ?? '')),
  );
}

async function deleteMessages(poller: Poller, messages: readonly Message[]): Promise<void> {
  const { options, logger } = poller;
  for (let start = 0; start < messages.length; start += MAX_DELETE_ENTRIES) {
    const chunk = messages.slice(start, start + MAX_DELETE_ENTRIES);
    try {
      const result = await options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      if ((result.Failed ?? []).length > 0) {
        logger.warn(
          `sqs runner: ${options.queueArn} refused to delete processed messages; they will repeat`,
          {
            failed: result.Failed,
          },
        );
      }
    } catch (error) {
      logger.warn(
        `sqs runner: deleting processed messages from ${options.queueArn} failed; they will repeat`,
        {
          error: errorMessage(error),
        },
      );
    }
  }
}

/** Hands back messages received while stopping, so the next consumer need not wait out their visibility. */
async function release(poller: Poller, messages: readonly Message[]): Promise<void> {
  for (let start = 0; start < messages.length; start += MAX_DELETE_ENTRIES) {
    try {
      await poller.options.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: poller.options.queueUrl,
          Entries: messages.slice(start, start + MAX_DELETE_ENTRIES).map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
    } catch {
      // Best effort: unreleased messages reappear after their visibility timeout anyway.
    }
  }
}

/** One poller's loop until stopped; never rejects, so a failing runner cannot crash the process. */
async function poll(poller: Poller): Promise<void> {
  const backoff = new Backoff();
  while (!poller.stopping.aborted) {
    let messages: Message[];
    let awsRegion: string;
    try {
      awsRegion = await poller.options.client.config.region();
      messages = await receiveBatch(poller);
      poller.outage.recovered();
      backoff.reset();
    } catch (error) {
      if (poller.stopping.aborted) {
        return;
      }
      poller.outage.failed(error);
      await backoff.wait(poller.stopping);
      continue;
    }
    if (messages.length === 0) {
      continue;
    }
    if (poller.stopping.aborted) {
      await release(poller, messages);
      return;
    }
    await settle(poller, messages, awsRegion);
  }
}

/**
 * The local counterpart of Lambda's SQS event source mapping: long-polls a queue, invokes the function with a
 * real `SQSEvent`, and settles the batch as Lambda does.
 *
 * - Success: the whole batch is deleted.
 * - With `reportBatchItemFailures` and a valid `{ batchItemFailures }`: all but the listed messages are deleted.
 *   The listed ones reappear after the visibility timeout, so their receive count climbs until the queue's
 *   RedrivePolicy moves them to the DLQ.
 * - A thrown error, or a `batchItemFailures` entry that names no message of the batch: nothing is deleted.
 *
 * FIFO order holds because a FIFO queue gets a single poller whose batches run strictly one after another (and
 * SQS itself hands out no message of a group while another of that group is in flight). Polling errors, such as
 * an endpoint that went away, are logged once per outage and retried with backoff; they never end the runner.
 */
export function startSqsRunner(options: SqsRunnerOptions): SqsRunner {
  const fifo = options.queueArn.endsWith('.fifo') || options.queueUrl.endsWith('.fifo');
  const waitTimeSeconds = options.waitTimeSeconds ?? DEFAULT_WAIT_TIME_SECONDS;
  const pollers = fifo ? 1 : (options.pollers ?? DEFAULT_STANDARD_POLLERS);
  validate(options, fifo, waitTimeSeconds, pollers);

  const logger = options.logger ?? consoleRunnerLogger;
  const stopController = new AbortController();
  const receiveController = new AbortController();
  const poller: Poller = {
    options,
    logger,
    outage: new OutageLog(logger, `sqs runner for ${options.functionName}: polling ${options.queueArn}`),
    waitTimeSeconds,
    stopping: stopController.signal,
    hung: receiveController.signal,
  };
  const loops = Array.from({ length: pollers }, () => poll(poller));
  let stopped: Promise<void> | undefined;

  return {
    stop: () => {
      stopped ??= (async () => {
        stopController.abort();
        // Let open polls end by themselves: fauxqs keeps an abandoned poll's waiter, which would then swallow
        // the next message until its visibility timeout. Abort only if the endpoint seems hung.
        const hung = setTimeout(
          () => receiveController.abort(),
          waitTimeSeconds * 1000 + STOP_ABORT_SLACK_MS,
        );
        await Promise.all(loops);
        clearTimeout(hung);
      })();
      return stopped;
    },
  };
}

/** Refuses, at start rather than on the first message, a value Lambda would reject. */
function validate(options: SqsRunnerOptions, fifo: boolean, waitTimeSeconds: number, pollers: number): void {
  const maxBatch = fifo ? MAX_MESSAGES_PER_RECEIVE : 10_000;
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > maxBatch) {
    throw new LocalServerError(
      'INVALID_RUNNER_OPTION',
      `batchSize for ${options.functionName} must be an integer from 1 to ${maxBatch}, got ${options.batchSize}`,
    );
  }
  if (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) {
    throw new LocalServerError(
      'INVALID_RUNNER_OPTION',
      `waitTimeSeconds must be an integer from 0 to 20, got ${waitTimeSeconds}`,
    );
  }
  if (!Number.isInteger(pollers) || pollers < 1) {
    throw new LocalServerError('INVALID_RUNNER_OPTION', `pollers must be a positive integer, got ${pollers}`);
  }
}

type BatchItemFailuresParse =
  | { readonly kind: 'valid'; readonly failed: ReadonlySet<string> }
  | { readonly kind: 'invalid'; readonly reason: string };

/**
 * Reads a function's partial batch response as Lambda does: no response, no list or an empty list means
 * success; an entry without a non-empty `itemIdentifier` of this batch makes the whole response invalid.
 */
export function parseBatchItemFailures(
  result: unknown,
  batchIdentifiers: ReadonlySet<string | undefined>,
): BatchItemFailuresParse {
  if (typeof result !== 'object' || result === null || !('batchItemFailures' in result)) {
    return { kind: 'valid', failed: new Set() };
  }
  const list: unknown = result.batchItemFailures;
  if (list === null || list === undefined) {
    return { kind: 'valid', failed: new Set() };
  }
  if (!Array.isArray(list)) {
    return { kind: 'invalid', reason: 'batchItemFailures is not a list' };
  }
  const failed = new Set<string>();
  for (const entry of list as unknown[]) {
    const identifier =
      typeof entry === 'object' && entry !== null && 'itemIdentifier' in entry
        ? entry.itemIdentifier
        : undefined;
    if (typeof identifier !== 'string' || identifier === '') {
      return { kind: 'invalid', reason: 'an entry has no itemIdentifier' };
    }
    if (!batchIdentifiers.has(identifier)) {
      return { kind: 'invalid', reason: `itemIdentifier ${identifier} is not in the batch` };
    }
    failed.add(identifier);
  }
  return { kind: 'valid', failed };
}

function toRecord(message: Message, queueArn: string, awsRegion: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecordAttributes = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    ...optional('SequenceNumber', system.SequenceNumber),
    ...optional('MessageGroupId', system.MessageGroupId),
    ...optional('MessageDeduplicationId', system.MessageDeduplicationId),
    ...optional('AWSTraceHeader', system.AWSTraceHeader),
    ...optional('DeadLetterQueueSourceArn', system.DeadLetterQueueSourceArn),
  };
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes ?? {}),
    md5OfBody: message.MD5OfBody ?? '',
    ...optional('md5OfMessageAttributes', message.MD5OfMessageAttributes),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion,
  };
}

/** Lambda's shape: lower-case keys, binary as base64, and the (unused) list fields always present. */
function toLambdaMessageAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  const converted: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    converted[name] = {
      dataType: value.DataType ?? 'String',
      ...optional('stringValue', value.StringValue),
      ...optional(
        'binaryValue',
        value.BinaryValue === undefined ? undefined : Buffer.from(value.BinaryValue).toString('base64'),
      ),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
    };
  }
  return converted;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
