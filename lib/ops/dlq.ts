import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  type Message,
  type MessageAttributeValue,
  type QueueAttributeName,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { rebaseQueueUrl, sqsEndpointOrigin } from '../sqs-endpoints';

/**
 * `dlq list | show <queue> | redrive <queue> [--max N]`: inspect dead-letter queues and move their messages
 * back, the same code against AWS and against the local system (fauxqs).
 *
 * Redriving is safe for orders because the consumers' effects are idempotent and decided from each order's
 * current state: a redriven event that is older than its order (the DLQ broke FIFO order) is acknowledged and
 * ignored, and a duplicate changes nothing, so a redrive can never move an order backwards.
 */

export interface DlqCommandContext {
  readonly sqs: SQSClient;
  /** Receives every line of human-readable output. */
  readonly out: (line: string) => void;
}

export interface DeadLetterQueueSummary {
  readonly name: string;
  readonly url: string;
  /** `ApproximateNumberOfMessages`: visible messages. */
  readonly approximateMessages: number;
  /** `ApproximateNumberOfMessagesNotVisible`: received by someone and not yet deleted. */
  readonly approximateInFlight: number;
  /** The queues whose redrive policy targets this one (none for, say, a Scheduler group's DLQ). */
  readonly sources: readonly string[];
}

export interface DeadLetterMessage {
  readonly messageId: string;
  readonly messageGroupId: string | undefined;
  /** Receives so far, on the source queue and the DLQ, this look included. */
  readonly receiveCount: number | undefined;
  /** When the message was first sent (to the source queue), ISO 8601. */
  readonly sentAt: string | undefined;
  readonly body: string;
}

export type DlqCommandResult =
  | { readonly command: 'list'; readonly queues: readonly DeadLetterQueueSummary[] }
  | {
      readonly command: 'show';
      readonly deadLetterQueue: string;
      readonly approximateMessages: number;
      readonly messages: readonly DeadLetterMessage[];
    }
  | {
      readonly command: 'redrive';
      readonly deadLetterQueue: string;
      readonly sourceQueue: string;
      readonly moved: number;
      /** Messages left in the DLQ because they cannot go back as they are (a FIFO message without a group). */
      readonly skipped: number;
    };

/** Stable codes of the command's errors. */
export const DlqCommandErrorCode = {
  USAGE: 'DLQ_USAGE',
  QUEUE_NOT_FOUND: 'DLQ_QUEUE_NOT_FOUND',
  NO_DEAD_LETTER_QUEUE: 'DLQ_NOT_CONFIGURED',
  SOURCE_UNKNOWN: 'DLQ_SOURCE_UNKNOWN',
} as const;

export type DlqCommandErrorCode = (typeof DlqCommandErrorCode)[keyof typeof DlqCommandErrorCode];

export abstract class DlqCommandError extends Error {
  public abstract readonly code: DlqCommandErrorCode;
}

export const DLQ_USAGE = 'usage: dlq list | dlq show <queue> [--max N] | dlq redrive <queue> [--max N]';

export class DlqUsageError extends DlqCommandError {
  public override readonly name = 'DlqUsageError';
  public readonly code = DlqCommandErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${DLQ_USAGE}`);
  }
}

export class DlqQueueNotFoundError extends DlqCommandError {
  public override readonly name = 'DlqQueueNotFoundError';
  public readonly code = DlqCommandErrorCode.QUEUE_NOT_FOUND;

  public constructor(public readonly queueName: string) {
    super(`queue ${queueName} does not exist`);
  }
}

/** The queue has no redrive policy and is not a dead-letter queue itself. */
export class NoDeadLetterQueueError extends DlqCommandError {
  public override readonly name = 'NoDeadLetterQueueError';
  public readonly code = DlqCommandErrorCode.NO_DEAD_LETTER_QUEUE;

  public constructor(public readonly queueName: string) {
    super(`queue ${queueName} has no dead-letter queue (no RedrivePolicy) and is not one`);
  }
}

/** A redrive named a dead-letter queue that no queue, or more than one, sends its failures to. */
export class DeadLetterSourceUnknownError extends DlqCommandError {
  public override readonly name = 'DeadLetterSourceUnknownError';
  public readonly code = DlqCommandErrorCode.SOURCE_UNKNOWN;

  public constructor(
    public readonly deadLetterQueue: string,
    sources: readonly string[],
  ) {
    super(
      sources.length === 0
        ? `no queue sends its failures to ${deadLetterQueue}; there is nowhere to redrive to`
        : `${deadLetterQueue} is the DLQ of ${sources.join(', ')}; name the source queue to redrive to`,
    );
  }
}

interface QueueRef {
  readonly name: string;
  readonly url: string;
}

const DLQ_MARKER = '-dlq';
/** Names that mark a DLQ: ours locally (`-dlq`), and CloudFormation's names for the stack's `DeadLetter` queues. */
const DLQ_NAME = /-dlq|DeadLetter/;
const FIFO_SUFFIX = '.fifo';
const DEFAULT_SHOW_MAX = 100;
// Long enough to send one message and delete it; a crashed redrive's messages reappear this soon.
const MOVE_VISIBILITY_SECONDS = 30;
// Long polling makes SQS look on every server, so an empty answer really means "nothing (visible) left".
const RECEIVE_WAIT_SECONDS = 1;
const MAX_MESSAGES_PER_RECEIVE = 10;

/**
 * Runs one `dlq` command and prints its result through `context.out`. `args` are the words after `dlq`
 * (a leading `dlq` is accepted too). `<queue>` is a source queue's name (e.g. `order-events.fifo`), whose DLQ is
 * found through its RedrivePolicy; a DLQ's own name works as well.
 *
 * @throws {@link DlqCommandError} subclasses for bad arguments and unknown queues; SDK errors as they come
 */
export async function runDlqCommand(
  args: readonly string[],
  context: DlqCommandContext,
): Promise<DlqCommandResult> {
  const words = args[0] === 'dlq' ? args.slice(1) : [...args];
  const max = takeMax(words);
  const [command, queue, ...extra] = words;
  if (extra.length > 0) throw new DlqUsageError(`unexpected arguments: ${extra.join(' ')}`);
  const sqs = new QueueDirectory(context.sqs);
  switch (command) {
    case 'list':
      if (queue !== undefined || max !== undefined) throw new DlqUsageError('list takes no arguments');
      return await list(sqs, context.out);
    case 'show':
      if (queue === undefined) throw new DlqUsageError('show needs a queue name');
      return await show(sqs, queue, max ?? DEFAULT_SHOW_MAX, context.out);
    case 'redrive':
      if (queue === undefined) throw new DlqUsageError('redrive needs a queue name');
      return await redrive(sqs, queue, max ?? Number.POSITIVE_INFINITY, context.out);
    default:
      throw new DlqUsageError(command === undefined ? 'no command' : `unknown command ${command}`);
  }
}

function takeMax(words: string[]): number | undefined {
  const index = words.indexOf('--max');
  if (index < 0) return undefined;
  const value = words[index + 1];
  if (value === undefined || !/^[1-9]\d*$/.test(value)) {
    throw new DlqUsageError('--max needs a positive whole number');
  }
  words.splice(index, 2);
  return Number(value);
}

async function list(sqs: QueueDirectory, out: (line: string) => void): Promise<DlqCommandResult> {
  const summaries: DeadLetterQueueSummary[] = [];
  for (const { queue, sources } of await sqs.deadLetterQueues()) {
    const attributes = await sqs.attributes(queue.url, [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
    ]);
    summaries.push({
      name: queue.name,
      url: queue.url,
      approximateMessages: Number(attributes.ApproximateNumberOfMessages ?? 0),
      approximateInFlight: Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      sources,
    });
  }
  if (summaries.length === 0) out('no dead-letter queues');
  for (const summary of summaries) {
    out(
      `${summary.name}\tmessages=${summary.approximateMessages}\tin-flight=${summary.approximateInFlight}\tsource=${summary.sources.join(',') || '-'}`,
    );
  }
  return { command: 'list', queues: summaries };
}

/**
 * Prints the DLQ's messages without removing them: each is received (so hidden for a moment) and all are made
 * visible again at the end. On a FIFO queue SQS hands out no further message of a group while one of it is
 * held, so later messages of a group may not be shown; the count line says how many there are in all.
 */
async function show(
  sqs: QueueDirectory,
  queueName: string,
  max: number,
  out: (line: string) => void,
): Promise<DlqCommandResult> {
  const { deadLetter } = await sqs.resolve(queueName);
  const attributes = await sqs.attributes(deadLetter.url, ['ApproximateNumberOfMessages']);
  const approximateMessages = Number(attributes.ApproximateNumberOfMessages ?? 0);
  const messages = await peek(sqs, deadLetter.url, max);
  out(`${deadLetter.name}: about ${approximateMessages} message(s), showing ${messages.length}`);
  for (const message of messages) {
    out(`message ${message.messageId}`);
    out(`  group:    ${message.messageGroupId ?? '-'}`);
    out(`  receives: ${message.receiveCount ?? '?'}`);
    out(`  sent:     ${message.sentAt ?? '?'}`);
    out('  body:');
    for (const line of prettyBody(message.body).split('\n')) out(`    ${line}`);
  }
  return { command: 'show', deadLetterQueue: deadLetter.name, approximateMessages, messages };
}

/** One dead-letter queue and the messages in it, seen without removing them. */
export interface DeadLetterQueuePeek {
  readonly name: string;
  /** The queue a redrive moves its messages to; undefined when no single queue sends its failures here. */
  readonly source: string | undefined;
  readonly approximateMessages: number;
  /** Up to the requested number of its messages (see {@link peekDeadLetterQueues} for what may be missing). */
  readonly messages: readonly DeadLetterMessage[];
}

/**
 * Every dead-letter queue with up to `maxPerQueue` of its messages, looked at as `dlq show` does: received, then
 * made visible again, never deleted. A DLQ is a queue that another queue's RedrivePolicy targets, or one whose
 * name says so (`-dlq` locally, `DeadLetter` in a CloudFormation-generated name), such as a Scheduler group's.
 * On a FIFO DLQ only the first message of each group can be seen while it is held (see `show`).
 */
export async function peekDeadLetterQueues(
  client: SQSClient,
  maxPerQueue = DEFAULT_SHOW_MAX,
): Promise<DeadLetterQueuePeek[]> {
  const sqs = new QueueDirectory(client);
  // In parallel: each look ends with a long poll that finds nothing, which would otherwise add up per queue.
  return await Promise.all(
    (await sqs.deadLetterQueues()).map(async ({ queue, sources }) => {
      const messages = await peek(sqs, queue.url, maxPerQueue);
      // Counted after the look, so that a message that arrived meanwhile is in the count as well as shown.
      const attributes = await sqs.attributes(queue.url, ['ApproximateNumberOfMessages']);
      return {
        name: queue.name,
        source: sources.length === 1 ? sources[0] : undefined,
        approximateMessages: Number(attributes.ApproximateNumberOfMessages ?? 0),
        messages,
      };
    }),
  );
}

/** Up to `max` messages of the queue, received and released again at once, so that nothing is consumed. */
async function peek(sqs: QueueDirectory, url: string, max: number): Promise<DeadLetterMessage[]> {
  const held: Message[] = [];
  try {
    while (held.length < max) {
      const page = await sqs.receive(url, Math.min(max - held.length, MAX_MESSAGES_PER_RECEIVE));
      if (page.length === 0) break;
      held.push(...page);
    }
  } finally {
    await sqs.release(url, held);
  }
  return held.map(describe);
}

/**
 * Moves up to `max` messages from the queue's DLQ back to the queue: receive from the DLQ, send to the source
 * with the same body, message attributes and MessageGroupId, then delete from the DLQ.
 *
 * Always this manual move, never `StartMessageMoveTask`: the move task takes a rate, not a count, so it cannot
 * honour `--max`; it runs asynchronously, so counts would need polling; and fauxqs does not implement it, so
 * the manual move is the one path that works, and is tested, both locally and in AWS.
 *
 * A FIFO message is sent with the MessageDeduplicationId `redrive-<DLQ message id>`: fresh, because its original
 * id may still be inside the source's 5-minute deduplication window (the message would be silently dropped),
 * and derived from the message, so a redrive retried after a crash between send and delete is deduplicated by
 * SQS within 5 minutes (and after that absorbed by the consumers' idempotency). A message this run sent that
 * is back in the DLQ already (it failed again) is left there, so a run always ends.
 */
async function redrive(
  sqs: QueueDirectory,
  queueName: string,
  max: number,
  out: (line: string) => void,
): Promise<DlqCommandResult> {
  const { deadLetter, source } = await sqs.resolve(queueName);
  const target = source ?? (await sqs.onlySourceOf(deadLetter));
  const fifo = target.name.endsWith(FIFO_SUFFIX);
  // SQS keeps a message's id when it moves it to a DLQ, so these recognise our own sends coming back.
  const sentByThisRun = new Set<string>();
  const held: Message[] = [];
  let moved = 0;
  let skipped = 0;
  try {
    while (moved < max) {
      const page = await sqs.receive(deadLetter.url, Math.min(max - moved, MAX_MESSAGES_PER_RECEIVE));
      if (page.length === 0) break;
      let progressed = false;
      for (const message of page) {
        const details = describe(message);
        if (moved >= max || sentByThisRun.has(details.messageId)) {
          held.push(message);
          continue;
        }
        if (fifo && details.messageGroupId === undefined) {
          out(`skipped ${details.messageId}: a FIFO queue needs a message group, and it has none`);
          held.push(message);
          skipped += 1;
          continue;
        }
        sentByThisRun.add(await sqs.send(target.url, message, fifo));
        await sqs.delete(deadLetter.url, message);
        moved += 1;
        progressed = true;
        const group = details.messageGroupId === undefined ? '' : ` (group ${details.messageGroupId})`;
        out(`moved ${details.messageId}${group}`);
      }
      // Held messages stay invisible until released, so a page without progress means nothing movable is left.
      if (!progressed) break;
    }
  } finally {
    await sqs.release(deadLetter.url, held);
  }
  out(`redrove ${moved} message(s) from ${deadLetter.name} to ${target.name}; ${skipped} skipped`);
  return { command: 'redrive', deadLetterQueue: deadLetter.name, sourceQueue: target.name, moved, skipped };
}

function describe(message: Message): DeadLetterMessage {
  const attributes = message.Attributes ?? {};
  const sent = attributes.SentTimestamp === undefined ? undefined : Number(attributes.SentTimestamp);
  const receives = attributes.ApproximateReceiveCount;
  return {
    messageId: message.MessageId ?? '',
    messageGroupId: attributes.MessageGroupId,
    receiveCount: receives === undefined ? undefined : Number(receives),
    sentAt: sent === undefined || Number.isNaN(sent) ? undefined : new Date(sent).toISOString(),
    body: message.Body ?? '',
  };
}

/** JSON bodies indented for reading; anything else as it is (a poison message is often not JSON). */
export function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** The SQS calls the commands need, with queue URLs rebased onto the client's endpoint. */
class QueueDirectory {
  private origin: Promise<string | undefined> | undefined;

  public constructor(private readonly client: SQSClient) {}

  public async allQueues(): Promise<QueueRef[]> {
    const queues: QueueRef[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new ListQueuesCommand({ MaxResults: 1000, NextToken: nextToken }));
      for (const url of page.QueueUrls ?? []) {
        queues.push({ name: queueNameOf(url), url: await this.local(url) });
      }
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return queues.sort((a, b) => a.name.localeCompare(b.name));
  }

  public async url(name: string): Promise<string> {
    try {
      const { QueueUrl } = await this.client.send(new GetQueueUrlCommand({ QueueName: name }));
      if (QueueUrl === undefined) throw new DlqQueueNotFoundError(name);
      return await this.local(QueueUrl);
    } catch (error) {
      if (error instanceof QueueDoesNotExist) throw new DlqQueueNotFoundError(name);
      throw error;
    }
  }

  public async attributes(
    url: string,
    names: readonly QueueAttributeName[],
  ): Promise<Partial<Record<QueueAttributeName, string>>> {
    const { Attributes } = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...names] }),
    );
    return Attributes ?? {};
  }

  /** The DLQ of a source queue (and the source), or a DLQ named directly (source unknown). */
  public async resolve(name: string): Promise<{ deadLetter: QueueRef; source: QueueRef | undefined }> {
    const url = await this.url(name);
    const policy = parseRedrivePolicy((await this.attributes(url, ['RedrivePolicy'])).RedrivePolicy);
    if (policy !== undefined) {
      const deadLetterName = policy.split(':').at(-1) ?? '';
      return {
        deadLetter: { name: deadLetterName, url: await this.url(deadLetterName) },
        source: { name, url },
      };
    }
    if (name.includes(DLQ_MARKER)) return { deadLetter: { name, url }, source: undefined };
    throw new NoDeadLetterQueueError(name);
  }

  /**
   * The dead-letter queues, each with the names of the queues that send their failures to it: the targets of
   * redrive policies, and the queues whose names mark them as DLQs (a Scheduler group's DLQ is no queue's target).
   */
  public async deadLetterQueues(): Promise<{ queue: QueueRef; sources: string[] }[]> {
    const queues = await this.allQueues();
    const targets = await this.redriveTargets(queues);
    const found: { queue: QueueRef; sources: string[] }[] = [];
    for (const queue of queues) {
      const { QueueArn } = await this.attributes(queue.url, ['QueueArn']);
      const sources = [...targets].filter(([, arn]) => arn === QueueArn).map(([name]) => name);
      if (sources.length > 0 || DLQ_NAME.test(queue.name)) found.push({ queue, sources });
    }
    return found;
  }

  /** Each queue with a redrive policy, by name, and the ARN of the DLQ it targets. */
  public async redriveTargets(queues: readonly QueueRef[]): Promise<Map<string, string>> {
    const targets = new Map<string, string>();
    for (const queue of queues) {
      const policy = parseRedrivePolicy((await this.attributes(queue.url, ['RedrivePolicy'])).RedrivePolicy);
      if (policy !== undefined) targets.set(queue.name, policy);
    }
    return targets;
  }

  public async onlySourceOf(deadLetter: QueueRef): Promise<QueueRef> {
    const { QueueArn } = await this.attributes(deadLetter.url, ['QueueArn']);
    const queues = await this.allQueues();
    const sources = [...(await this.redriveTargets(queues))]
      .filter(([, arn]) => arn === QueueArn)
      .map(([name]) => name);
    const only = sources.length === 1 ? queues.find((queue) => queue.name === sources[0]) : undefined;
    if (only === undefined) throw new DeadLetterSourceUnknownError(deadLetter.name, sources);
    return only;
  }

  public async receive(url: string, maxMessages: number): Promise<Message[]> {
    const { Messages } = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: maxMessages,
        VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
        WaitTimeSeconds: RECEIVE_WAIT_SECONDS,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  }

  /** @returns the id SQS gave the new message */
  public async send(url: string, message: Message, fifo: boolean): Promise<string> {
    const attributes = userAttributes(message.MessageAttributes);
    const { MessageId } = await this.client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: message.Body ?? '',
        ...(attributes === undefined ? {} : { MessageAttributes: attributes }),
        ...(fifo
          ? {
              MessageGroupId: message.Attributes?.MessageGroupId,
              MessageDeduplicationId: `redrive-${message.MessageId ?? ''}`,
            }
          : {}),
      }),
    );
    return MessageId ?? '';
  }

  public async delete(url: string, message: Message): Promise<void> {
    await this.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
  }

  /** Best effort: what is not released reappears after {@link MOVE_VISIBILITY_SECONDS} anyway. */
  public async release(url: string, messages: readonly Message[]): Promise<void> {
    for (let start = 0; start < messages.length; start += MAX_MESSAGES_PER_RECEIVE) {
      const chunk = messages.slice(start, start + MAX_MESSAGES_PER_RECEIVE);
      try {
        await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        );
      } catch {
        // See above: visibility runs out by itself.
      }
    }
  }

  /**
   * Rebases `url` onto the client's endpoint when one is configured (see `lib/sqs-endpoints.ts`), as
   * `createQueues` does.
   */
  private async local(url: string): Promise<string> {
    this.origin ??= sqsEndpointOrigin(this.client);
    const origin = await this.origin;
    return rebaseQueueUrl(url, origin);
  }
}

function queueNameOf(url: string): string {
  return new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? url;
}

/** The `deadLetterTargetArn` of a RedrivePolicy attribute, if it has one. */
function parseRedrivePolicy(policy: string | undefined): string | undefined {
  if (policy === undefined || policy === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(policy);
    if (typeof parsed === 'object' && parsed !== null && 'deadLetterTargetArn' in parsed) {
      return typeof parsed.deadLetterTargetArn === 'string' ? parsed.deadLetterTargetArn : undefined;
    }
  } catch {
    // A malformed policy redrives nowhere.
  }
  return undefined;
}

/** User message attributes as SendMessage takes them; only the scalar fields (list fields are unused by SQS). */
function userAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  if (attributes === undefined || Object.keys(attributes).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        DataType: value.DataType,
        ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
        ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue }),
      },
    ]),
  );
}
