import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeStateMachineCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod/mini';
import { describeIssues, type FieldIssue, parseJsonWith } from '../../functions/domain/validation';
import {
  type DeadLetterMessage,
  type DlqCommandResult,
  peekDeadLetterQueues,
  runDlqCommand,
} from '../ops/dlq';
import { gatherOrderStory } from '../ops/order';
import { countOrders, listOrders } from '../ops/orders';
import { runSagasCommand, type SagasCommandResult } from '../ops/sagas';
import type { ConsoleBackend, DeadLetterQueueView, StateMachineDefinition } from './backend';

/** What the console reads and acts on: the clients and the stack's names, locally or in AWS. */
export interface ConsoleTarget {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  /** The orders table: the stack output `OrdersTableName`, locally `orders`. */
  readonly tableName: string;
  /** The fulfilment state machine: the stack output `FulfillmentStateMachineArn`. */
  readonly stateMachineArn: string;
  /** The sweeper's `REFUND_STUCK_AFTER_SECONDS`, so that the console calls stuck what the alarm does. */
  readonly refundStuckAfterSeconds: number;
  /** How the fix commands an order's problems suggest begin (`ops order`'s `commandPrefix`), so they run as shown. */
  readonly commandPrefix?: string;
  readonly now?: () => Date;
}

export const ConsoleBackendErrorCode = {
  SAGA_DEFINITION_UNREADABLE: 'CONSOLE_SAGA_DEFINITION_UNREADABLE',
  UNEXPECTED_RESULT: 'CONSOLE_UNEXPECTED_RESULT',
} as const;

export type ConsoleBackendErrorCode = (typeof ConsoleBackendErrorCode)[keyof typeof ConsoleBackendErrorCode];

export abstract class ConsoleBackendError extends Error {
  public abstract readonly code: ConsoleBackendErrorCode;
}

/** `DescribeStateMachine` answered a definition without the states the graph is drawn from. */
export class SagaDefinitionUnreadableError extends ConsoleBackendError {
  public override readonly name = 'SagaDefinitionUnreadableError';
  public readonly code = ConsoleBackendErrorCode.SAGA_DEFINITION_UNREADABLE;

  public constructor(
    public readonly stateMachineArn: string,
    issues: readonly FieldIssue[],
  ) {
    super(`the definition of ${stateMachineArn} cannot be drawn: ${describeIssues(issues)}`);
  }
}

/** An ops command answered with another command's result: a bug in the wiring below, never the operator's. */
export class UnexpectedCommandResultError extends ConsoleBackendError {
  public override readonly name = 'UnexpectedCommandResultError';
  public readonly code = ConsoleBackendErrorCode.UNEXPECTED_RESULT;

  public constructor(expected: string, received: string) {
    super(`expected the result of ${expected}, received that of ${received}`);
  }
}

const aslStateSchema = z.object({
  Type: z.string(),
  Next: z.optional(z.string()),
  End: z.optional(z.boolean()),
  Default: z.optional(z.string()),
  Choices: z.optional(z.array(z.object({ Next: z.string() }))),
  Catch: z.optional(z.array(z.object({ ErrorEquals: z.array(z.string()), Next: z.string() }))),
});
const definitionSchema = z.object({ StartAt: z.string(), States: z.record(z.string(), aslStateSchema) });

/** Receives the commands' human-readable lines, which the console has no use for: it renders their results. */
const silent = () => undefined;

/**
 * The console's backend on `lib/ops`: each page reads, and each action acts, through the function its `npm run
 * ops` command runs, with that command's own result, so the console and the CLI cannot disagree.
 */
export function opsConsoleBackend(target: ConsoleTarget): ConsoleBackend {
  const now = target.now ?? (() => new Date());
  const dlq = async <Command extends DlqCommandResult['command']>(
    command: Command,
    args: readonly string[],
  ): Promise<Extract<DlqCommandResult, { command: Command }>> =>
    ofCommand(command, await runDlqCommand([command, ...args], { sqs: target.sqs, out: silent }));
  const sagas = async <Command extends SagasCommandResult['command']>(
    command: Command,
    args: readonly string[],
  ): Promise<Extract<SagasCommandResult, { command: Command }>> =>
    ofCommand(
      command,
      await runSagasCommand([command, ...args], {
        sfn: target.sfn,
        stateMachineArn: target.stateMachineArn,
        out: silent,
        now,
      }),
    );
  const deadLetterQueues = async (): Promise<DeadLetterQueueView[]> =>
    (await peekDeadLetterQueues(target.sqs)).map(({ name, source, approximateMessages, messages }) => ({
      name,
      source,
      approximateMessages,
      oldestSentAt: oldestSentAt(messages),
    }));

  return {
    async overview() {
      const gatheredAt = now().toISOString();
      const [counts, queues, failed] = await Promise.all([
        countOrders({ ...target, now }),
        deadLetterQueues(),
        sagas('list', ['--status', 'FAILED']),
      ]);
      return { gatheredAt, ...counts, deadLetterQueues: queues, failedSagas: failed.executions.length };
    },

    listOrders: (query) => listOrders(query, target),

    async orderStory(orderId) {
      const story = await gatherOrderStory(orderId, { ...target, now });
      const known = story.order !== undefined || story.saga !== undefined || story.deadLetters.length > 0;
      return known ? story : undefined;
    },

    async sagaDefinition(): Promise<StateMachineDefinition> {
      const { definition } = await target.sfn.send(
        new DescribeStateMachineCommand({ stateMachineArn: target.stateMachineArn }),
      );
      return parseJsonWith(
        definitionSchema,
        definition ?? '',
        (issues) => new SagaDefinitionUnreadableError(target.stateMachineArn, issues),
      );
    },

    deadLetterQueues,

    async deadLetterMessages(queue, max) {
      // `show` finds the queue's DLQ and its messages; `list` knows which queue sends its failures there.
      const [shown, listed] = await Promise.all([
        dlq('show', [queue, '--max', String(max)]),
        dlq('list', []),
      ]);
      const sources = listed.queues.find((summary) => summary.name === shown.deadLetterQueue)?.sources ?? [];
      return {
        queue: {
          name: shown.deadLetterQueue,
          source: sources.length === 1 ? sources[0] : undefined,
          approximateMessages: shown.approximateMessages,
          oldestSentAt: oldestSentAt(shown.messages),
        },
        messages: shown.messages,
      };
    },

    async redriveDeadLetters(queue, max) {
      const { deadLetterQueue, sourceQueue, moved, skipped } = await dlq('redrive', [
        queue,
        ...(max === undefined ? [] : ['--max', String(max)]),
      ]);
      return { deadLetterQueue, sourceQueue, moved, skipped };
    },

    sagas: async (status) => (await sagas('list', ['--status', status])).executions,

    redriveSaga: async (executionName) => (await sagas('redrive', [executionName])).outcomes,
  };
}

/** Narrows a command's result to the command that was run. */
function ofCommand<Result extends { readonly command: string }, Command extends Result['command']>(
  command: Command,
  result: Result,
): Extract<Result, { command: Command }> {
  if (!isResultOf(command, result)) throw new UnexpectedCommandResultError(command, result.command);
  return result;
}

function isResultOf<Result extends { readonly command: string }, Command extends Result['command']>(
  command: Command,
  result: Result,
): result is Extract<Result, { command: Command }> {
  return result.command === command;
}

/** ISO 8601 times compare as strings; a message without a send time cannot be the oldest known. */
function oldestSentAt(messages: readonly DeadLetterMessage[]): string | undefined {
  return messages
    .map((message) => message.sentAt)
    .filter((sentAt) => sentAt !== undefined)
    .sort()[0];
}
