import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  ExecutionDoesNotExist,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  InvalidArn,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ENTITY,
  orderPartition,
  paymentsOf,
  toHistory,
  toLedgerEntry,
  toOrder,
} from '../../functions/adapters/dynamodb-table';
import { fulfillmentExecutionName } from '../../functions/adapters/sfn-fulfillment-sagas';
import { deriveEvents } from '../../functions/domain/event-derivation';
import type { OrderEvent } from '../../functions/domain/events';
import type { Order, OrderTransition } from '../../functions/domain/order';
import { OrderStatus } from '../../functions/domain/order-status';
import { type Payment, PaymentStatus, RefundReason } from '../../functions/domain/payment';
import { type DeadLetterMessage, peekDeadLetterQueues } from './dlq';
import { executionArnOf, stoppedShort } from './sagas';

/**
 * `order <orderId> [--json]`: the whole story of one order, for the person an alarm woke up. Everything comes
 * through the AWS SDK, so the same code reads AWS and the local system:
 *
 * - the order, its timeline, payments (refunds included) and saga step ledger: one consistent query of the
 *   order's partition of the orders table (see `functions/adapters/dynamodb-table.ts`);
 * - the domain events the outbox relay published for it, derived from those items by the relay's own
 *   `deriveEvents`, so ids and types are exactly the published ones;
 * - its fulfilment saga: the execution named by the consumer's `fulfillmentExecutionName`, its history turned
 *   into steps (entered, attempts, failures, compensations, exits), across redrives;
 * - the messages in every dead-letter queue that concern it (its id in the body or as the message group),
 *   looked at without being consumed (`dlq show`'s read path);
 *
 * and, first, the problems found in all that, each with the command that fixes it once its cause is gone.
 */

export interface OrderCommandContext {
  /** A client for the orders table's region and endpoint. */
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  /** The orders table: the stack output `OrdersTableName`, locally `orders`. */
  readonly tableName: string;
  /** The fulfilment state machine: the stack output `FulfillmentStateMachineArn`. */
  readonly stateMachineArn: string;
  /** Receives every line of output. */
  readonly out: (line: string) => void;
  /**
   * How the fix commands the story suggests begin, with the options this run was given, e.g.
   * `npm run ops -- --local http://127.0.0.1:3000`. Default `npm run ops --`.
   */
  readonly commandPrefix?: string;
  /** The clock problems are judged by (a passed payment deadline). Default: the system clock. */
  readonly now?: () => Date;
}

/** One domain event as the relay published it. */
export interface StoryEvent {
  readonly eventId: string;
  readonly type: OrderEvent['type'];
  /**
   * When it happened; undefined for a payment status the payment has since left, when no order transition was
   * written with it (the table keeps a payment's current status and time only).
   */
  readonly occurredAt: string | undefined;
  /** What changed, e.g. `PAID -> FULFILLING` or `pay_1 SUCCEEDED 2500 EUR`. */
  readonly detail: string;
}

/** One saga step ledger entry (`SAGA#<step>` in the order's partition). */
export interface LedgerStep {
  readonly step: string;
  readonly status: string;
  readonly compensatedFrom: string | undefined;
  readonly updatedAt: string;
}

export interface StepFailure {
  readonly error: string;
  readonly cause: string;
  readonly at: string;
}

/** One state the execution went through, in one run (run 0 is the first, run n the n-th redrive). */
export interface SagaStep {
  readonly run: number;
  readonly name: string;
  /** The ASL state type: Task, Pass, Fail, Succeed, ... */
  readonly type: string;
  /** True for states reached only through a Catch: the compensation path. */
  readonly compensation: boolean;
  readonly enteredAt: string;
  readonly exitedAt: string | undefined;
  /** Task invocations, retries included. */
  readonly attempts: number;
  readonly failures: readonly StepFailure[];
  readonly outcome: 'succeeded' | 'failed' | 'running' | 'interrupted';
}

export interface SagaStory {
  readonly executionName: string;
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  readonly startedAt: string | undefined;
  readonly stoppedAt: string | undefined;
  readonly redriveCount: number;
  readonly redrivenAt: string | undefined;
  readonly error: string | undefined;
  readonly cause: string | undefined;
  readonly steps: readonly SagaStep[];
}

/** A dead-letter queue holding messages that concern the order. */
export interface DeadLetterFinding {
  readonly queue: string;
  /** The queue a redrive moves them back to; undefined when none sends its failures there. */
  readonly source: string | undefined;
  /** The whole DLQ's approximate count, this order's messages included. */
  readonly approximateMessages: number;
  readonly messages: readonly DeadLetterMessage[];
}

export interface Problem {
  readonly summary: string;
  readonly details: readonly string[];
  /** What to run once the cause is fixed. */
  readonly command: string | undefined;
}

export interface OrderStory {
  readonly orderId: string;
  readonly gatheredAt: string;
  readonly tableName: string;
  /** Undefined when the table has no such order (its DLQ messages and saga are still looked for). */
  readonly order: Order | undefined;
  readonly timeline: readonly OrderTransition[];
  readonly payments: readonly Payment[];
  readonly events: readonly StoryEvent[];
  readonly ledger: readonly LedgerStep[];
  /** Undefined when the order has no fulfilment execution. */
  readonly saga: SagaStory | undefined;
  readonly deadLetters: readonly DeadLetterFinding[];
  /** Every DLQ that was searched. */
  readonly deadLetterQueuesSearched: readonly string[];
  readonly problems: readonly Problem[];
}

export const OrderCommandErrorCode = { USAGE: 'ORDER_USAGE', NOT_FOUND: 'ORDER_NOT_FOUND' } as const;

export type OrderCommandErrorCode = (typeof OrderCommandErrorCode)[keyof typeof OrderCommandErrorCode];

export const ORDER_USAGE = 'usage: order <orderId> [--json]';

export class OrderUsageError extends Error {
  public override readonly name = 'OrderUsageError';
  public readonly code: OrderCommandErrorCode = OrderCommandErrorCode.USAGE;

  public constructor(problem: string) {
    super(`${problem}; ${ORDER_USAGE}`);
  }
}

/** The table has no order of that id; `story` holds whatever else was found under it (a saga, DLQ messages). */
export class OrderNotFoundError extends Error {
  public override readonly name = 'OrderNotFoundError';
  public readonly code: OrderCommandErrorCode = OrderCommandErrorCode.NOT_FOUND;

  public constructor(public readonly story: OrderStory) {
    super(`no order ${story.orderId} exists in table ${story.tableName}`);
  }
}

const DEFAULT_COMMAND_PREFIX = 'npm run ops --';
/** How many messages of each DLQ are looked at; a DLQ is meant to be nearly empty. */
const DLQ_MESSAGES_SEARCHED = 1000;
const HISTORY_PAGE_SIZE = 1000;
/** The error with which the saga ends once it compensated: an outcome (the order is refunded), not a stop. */
const COMPENSATED_ERROR = 'FulfillmentFailed';
/** History event types that report a failed Task attempt; each carries `error` and `cause` in its details. */
const ATTEMPT_FAILED = new Set([
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
  'TaskFailed',
  'TaskTimedOut',
  'TaskStartFailed',
  'TaskSubmitFailed',
]);
const ATTEMPT_SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled']);

/**
 * Runs `order <orderId> [--json]` (a leading `order` is accepted too): gathers the story, prints it readably or
 * as JSON, and returns it. For an order the table does not have, the story is printed only as JSON (with
 * `"order": null`) or when something else was found under its id, and then {@link OrderNotFoundError} is thrown.
 *
 * @throws {@link OrderUsageError} for bad arguments; {@link OrderNotFoundError}; SDK errors as they come
 */
export async function runOrderCommand(
  args: readonly string[],
  context: OrderCommandContext,
): Promise<OrderStory> {
  const words = args[0] === 'order' ? args.slice(1) : [...args];
  const json = words.includes('--json');
  const [orderId, ...extra] = words.filter((word) => word !== '--json');
  if (orderId === undefined || orderId.startsWith('--')) throw new OrderUsageError('order needs an order id');
  if (extra.length > 0) throw new OrderUsageError(`unexpected arguments: ${extra.join(' ')}`);
  const story = await gatherOrderStory(orderId, context);
  // A mistyped id's empty story would only bury the one line that matters, the error's.
  const anythingFound = story.order !== undefined || story.saga !== undefined || story.deadLetters.length > 0;
  if (json) context.out(JSON.stringify(orderStoryJson(story), null, 2));
  else if (anythingFound) for (const line of renderOrderStory(story)) context.out(line);
  if (story.order === undefined) throw new OrderNotFoundError(story);
  return story;
}

/**
 * The story for scripts: an absent order is `null`, and so is the source of a payment written before sources
 * were recorded, so that every payment says who learnt its fact.
 */
export function orderStoryJson(story: OrderStory): object {
  return {
    ...story,
    order: story.order ?? null,
    payments: story.payments.map((payment) => ({ ...payment, recordedBy: payment.recordedBy ?? null })),
  };
}

/** Reads everything about one order; see the module documentation for where each part comes from. */
export async function gatherOrderStory(
  orderId: string,
  context: Omit<OrderCommandContext, 'out'>,
): Promise<OrderStory> {
  const now = (context.now ?? (() => new Date()))();
  const [partition, saga, deadLetters] = await Promise.all([
    readPartition(context.dynamodb, context.tableName, orderId),
    readSaga(context.sfn, context.stateMachineArn, orderId),
    findDeadLetters(context.sqs, orderId),
  ]);
  const story = {
    orderId,
    gatheredAt: now.toISOString(),
    tableName: context.tableName,
    ...partition,
    events:
      partition.order === undefined
        ? []
        : publishedEventsOf(partition.order, partition.timeline, partition.payments),
    saga,
    deadLetters: deadLetters.findings,
    deadLetterQueuesSearched: deadLetters.searched,
  };
  return { ...story, problems: problemsOf(story, now, context.commandPrefix ?? DEFAULT_COMMAND_PREFIX) };
}

interface Partition {
  readonly order: Order | undefined;
  readonly timeline: readonly OrderTransition[];
  readonly payments: readonly Payment[];
  readonly ledger: readonly LedgerStep[];
}

async function readPartition(client: DynamoDBClient, tableName: string, orderId: string): Promise<Partition> {
  const documents = DynamoDBDocumentClient.from(client);
  const items = await orderPartition(documents, tableName, orderId);
  const ofType = (entityType: string) => items.filter((item) => item.entityType === entityType);
  const orderItem = ofType(ENTITY.order)[0];
  return {
    order: orderItem === undefined ? undefined : toOrder(orderItem),
    timeline: orderItem === undefined ? [] : toHistory(orderItem),
    payments: paymentsOf(items),
    ledger: ofType(ENTITY.sagaStep)
      .map(toLedgerEntry)
      .map(({ step, status, compensatedFrom, updatedAt }) => ({ step, status, compensatedFrom, updatedAt })),
  };
}

/**
 * The events the relay published for the order, derived with its own `deriveEvents` from the committed changes
 * that the table's items (decoded as the relay decodes them) imply: the order's creation and each status change
 * from the timeline (a transition writes the order's `updatedAt` and the entry's `at` from one clock reading),
 * and each payment's statuses along its lifecycle. A payment keeps only its current status, so the earlier ones
 * are inferred: a refund for a failed fulfilment was SUCCEEDED first, with the order's PAID transition (one
 * transaction), and became REFUND_PENDING with its FULFILLMENT_FAILED transition; every other refund was owed
 * from the start. A FAILED attempt that a later success replaced leaves no trace in the table, so its
 * `PaymentFailed` cannot be shown.
 */
export function publishedEventsOf(
  order: Order,
  timeline: readonly OrderTransition[],
  payments: readonly Payment[],
): StoryEvent[] {
  const sortable: { key: string; rank: number; event: StoryEvent }[] = [];
  let previous: Order | undefined;
  for (const transition of timeline) {
    const after: Order = {
      ...order,
      status: transition.to,
      version: transition.version,
      updatedAt: transition.at,
    };
    for (const event of deriveEvents({ entity: 'order', ...(previous && { before: previous }), after })) {
      sortable.push({ key: transition.at, rank: 0, event: storyEvent(event, event.occurredAt) });
    }
    previous = after;
  }
  const transitionAt = (status: OrderStatus) => timeline.find((entry) => entry.to === status)?.at;
  for (const payment of payments) {
    const path = statusPath(payment);
    let before: Payment | undefined;
    for (const [index, status] of path.entries()) {
      const last = index === path.length - 1;
      const at = last
        ? payment.updatedAt
        : status === PaymentStatus.SUCCEEDED
          ? transitionAt(OrderStatus.PAID)
          : payment.refundReason === RefundReason.FULFILLMENT_FAILED
            ? transitionAt(OrderStatus.FULFILLMENT_FAILED)
            : undefined;
      // The schema wants a time; an unknown one is dropped from the story below, never shown as if known.
      // A refund reason is written with REFUND_PENDING; the payment's earlier images had none.
      const { refundReason, ...withoutReason } = payment;
      const owed = status === PaymentStatus.REFUND_PENDING || status === PaymentStatus.REFUNDED;
      const after: Payment = {
        ...(owed ? payment : withoutReason),
        status,
        updatedAt: at ?? payment.updatedAt,
      };
      for (const event of deriveEvents({ entity: 'payment', ...(before && { before }), after })) {
        sortable.push({ key: at ?? payment.updatedAt, rank: 1, event: storyEvent(event, at) });
      }
      before = after;
    }
  }
  return sortable
    .map((entry, index) => ({ ...entry, index }))
    .sort((a, b) => a.key.localeCompare(b.key) || a.rank - b.rank || a.index - b.index)
    .map((entry) => entry.event);
}

/** The statuses a payment announced, in order (a PENDING intent announces nothing). */
function statusPath(payment: Payment): PaymentStatus[] {
  const refundOf: PaymentStatus[] =
    payment.refundReason === RefundReason.FULFILLMENT_FAILED
      ? [PaymentStatus.SUCCEEDED, PaymentStatus.REFUND_PENDING]
      : [PaymentStatus.REFUND_PENDING];
  switch (payment.status) {
    case PaymentStatus.PENDING:
      return [];
    case PaymentStatus.SUCCEEDED:
    case PaymentStatus.FAILED:
      return [payment.status];
    case PaymentStatus.REFUND_PENDING:
      return refundOf;
    case PaymentStatus.REFUNDED:
      return [...refundOf, PaymentStatus.REFUNDED];
    case PaymentStatus.CANCELLED:
      // An intent closed unpaid announces nothing; the order's own cancellation is its event.
      return [];
  }
}

function storyEvent(event: OrderEvent, occurredAt: string | undefined): StoryEvent {
  const detail =
    event.type === 'OrderPlaced'
      ? `${event.data.totalAmount} ${event.data.currency}, pay by ${event.data.paymentDeadline}`
      : event.type === 'OrderStatusChanged'
        ? `${event.data.from} -> ${event.data.to}`
        : `${event.data.paymentId} ${event.data.status} ${event.data.amount} ${event.data.currency}${
            event.data.refundReason === undefined ? '' : ` (${event.data.refundReason})`
          }`;
  return { eventId: event.eventId, type: event.type, occurredAt, detail };
}

async function readSaga(
  sfn: SFNClient,
  stateMachineArn: string,
  orderId: string,
): Promise<SagaStory | undefined> {
  const executionName = fulfillmentExecutionName(orderId);
  const executionArn = executionArnOf(stateMachineArn, executionName);
  let execution: DescribeExecutionCommandOutput;
  try {
    execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    // An id that cannot name an execution (too long, odd characters) has none either.
    if (error instanceof ExecutionDoesNotExist || error instanceof InvalidArn) return undefined;
    throw error;
  }
  const history: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: HISTORY_PAGE_SIZE, nextToken }),
    );
    history.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  const compensations = await compensationStates(sfn, execution.stateMachineArn ?? stateMachineArn);
  const status = execution.status ?? 'RUNNING';
  return {
    executionName,
    executionArn,
    status,
    startedAt: execution.startDate?.toISOString(),
    stoppedAt: execution.stopDate?.toISOString(),
    redriveCount: execution.redriveCount ?? 0,
    redrivenAt: execution.redriveDate?.toISOString(),
    error: execution.error,
    cause: execution.cause,
    steps: stepsOf(history, compensations, status),
  };
}

/**
 * The states on the compensation path: those reachable from a Catch's `Next` but not from `StartAt` along the
 * normal transitions (a success state both paths share is not a compensation). Read from the definition, so the
 * story labels them without knowing the saga's state names.
 */
async function compensationStates(sfn: SFNClient, stateMachineArn: string): Promise<Set<string>> {
  const { definition } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const { startAt, states } = parseDefinition(definition);
  const normalNextOf = (state: AslState): string[] => [
    ...(state.Next === undefined ? [] : [state.Next]),
    ...(state.Default === undefined ? [] : [state.Default]),
    ...(state.Choices ?? []).flatMap((choice) => (choice.Next === undefined ? [] : [choice.Next])),
  ];
  const catchTargetsOf = (state: AslState): string[] =>
    (state.Catch ?? []).flatMap((handler) => (handler.Next === undefined ? [] : [handler.Next]));
  const reachable = (from: string[], nextOf: (state: AslState) => string[]): Set<string> => {
    const reached = new Set<string>();
    const pending = [...from];
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      const state = states[name];
      if (reached.has(name) || state === undefined) continue;
      reached.add(name);
      pending.push(...nextOf(state));
    }
    return reached;
  };
  const forward = reachable(startAt === undefined ? [] : [startAt], normalNextOf);
  const caught = reachable(Object.values(states).flatMap(catchTargetsOf), (state) => [
    ...normalNextOf(state),
    ...catchTargetsOf(state),
  ]);
  return new Set([...caught].filter((name) => !forward.has(name)));
}

interface AslState {
  readonly Next?: string;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next?: string }[];
  readonly Catch?: readonly { readonly Next?: string }[];
}

interface AslDefinition {
  readonly startAt: string | undefined;
  readonly states: Readonly<Record<string, AslState>>;
}

function parseDefinition(definition: string | undefined): AslDefinition {
  if (definition === undefined) return { startAt: undefined, states: {} };
  try {
    const parsed: unknown = JSON.parse(definition);
    if (typeof parsed === 'object' && parsed !== null && 'States' in parsed) {
      const { States } = parsed;
      const startAt = 'StartAt' in parsed && typeof parsed.StartAt === 'string' ? parsed.StartAt : undefined;
      if (typeof States === 'object' && States !== null)
        return { startAt, states: States as Record<string, AslState> };
    }
  } catch {
    // A definition we cannot read labels no state as a compensation; the steps are shown all the same.
  }
  return { startAt: undefined, states: {} };
}

interface StepDraft {
  run: number;
  name: string;
  type: string;
  enteredAt: string;
  exitedAt: string | undefined;
  attempts: number;
  failures: StepFailure[];
}

/** The execution's states in the order it entered them, with attempts and failures, across redrives. */
function stepsOf(
  history: readonly HistoryEvent[],
  compensations: ReadonlySet<string>,
  status: ExecutionStatus,
): SagaStep[] {
  const drafts: StepDraft[] = [];
  let run = 0;
  let current: StepDraft | undefined;
  for (const event of history) {
    const type = event.type ?? '';
    const at = event.timestamp?.toISOString() ?? '';
    if (type === 'ExecutionRedriven') {
      run += 1;
      current = undefined;
    } else if (type.endsWith('StateEntered')) {
      current = {
        run,
        name: event.stateEnteredEventDetails?.name ?? '?',
        type: type.slice(0, -'StateEntered'.length),
        enteredAt: at,
        exitedAt: undefined,
        attempts: 0,
        failures: [],
      };
      drafts.push(current);
    } else if (current !== undefined && ATTEMPT_SCHEDULED.has(type)) {
      current.attempts += 1;
    } else if (current !== undefined && ATTEMPT_FAILED.has(type)) {
      current.failures.push({ ...failureOf(event), at });
    } else if (current !== undefined && type.endsWith('StateExited')) {
      current.exitedAt = at;
    }
  }
  return drafts.map((draft) => {
    const everyAttemptFailed = draft.failures.length > 0 && draft.failures.length >= draft.attempts;
    const latestRun = draft.run === run;
    const outcome: SagaStep['outcome'] =
      draft.type === 'Fail' || everyAttemptFailed
        ? 'failed'
        : draft.exitedAt !== undefined || draft.type === 'Succeed'
          ? 'succeeded'
          : latestRun && status === 'RUNNING'
            ? 'running'
            : 'interrupted';
    return { ...draft, compensation: compensations.has(draft.name), outcome };
  });
}

function failureOf(event: HistoryEvent): { error: string; cause: string } {
  const details =
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.lambdaFunctionStartFailedEventDetails ??
    event.lambdaFunctionScheduleFailedEventDetails ??
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.taskStartFailedEventDetails ??
    event.taskSubmitFailedEventDetails;
  return { error: details?.error ?? 'unknown error', cause: readableCause(details?.cause) };
}

/** Lambda reports a function's error as JSON (`errorType`, `errorMessage`, `trace`): the message is what reads. */
function readableCause(cause: string | undefined): string {
  if (cause === undefined) return '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null && 'errorMessage' in parsed) {
      return String(parsed.errorMessage);
    }
  } catch {
    // Not JSON: a cause written by a Fail state or by Step Functions itself, readable as it is.
  }
  return cause;
}

async function findDeadLetters(
  sqs: SQSClient,
  orderId: string,
): Promise<{ findings: DeadLetterFinding[]; searched: string[] }> {
  const queues = await peekDeadLetterQueues(sqs, DLQ_MESSAGES_SEARCHED);
  const findings = queues.flatMap((queue) => {
    const messages = queue.messages.filter(
      (message) => message.messageGroupId === orderId || message.body.includes(orderId),
    );
    return messages.length === 0
      ? []
      : [
          {
            queue: queue.name,
            source: queue.source,
            approximateMessages: queue.approximateMessages,
            messages,
          },
        ];
  });
  return { findings, searched: queues.map((queue) => queue.name) };
}

function problemsOf(story: Omit<OrderStory, 'problems'>, now: Date, prefix: string): Problem[] {
  const problems: Problem[] = [];
  const { order, saga } = story;
  for (const finding of story.deadLetters) {
    const count = finding.messages.length;
    problems.push({
      summary: `${count} message${count === 1 ? '' : 's'} in ${finding.queue}`,
      details: [
        `${finding.queue} holds about ${finding.approximateMessages} message(s) in all; a redrive moves every one of them`,
      ],
      command: finding.source === undefined ? undefined : `${prefix} dlq redrive ${finding.source}`,
    });
  }
  if (saga !== undefined && stoppedShort(saga.status)) {
    const lastRun = saga.steps.filter((step) => step.run === saga.redriveCount);
    const failedAction = lastRun.find(
      (step) => step.outcome === 'failed' && !step.compensation && step.type === 'Task',
    );
    const failedCompensations = lastRun.filter(
      (step) => step.outcome === 'failed' && step.compensation && step.type === 'Task',
    );
    const lastFailure = failedAction?.failures.at(-1);
    const compensated = saga.error === COMPENSATED_ERROR;
    if (!compensated) {
      problems.push({
        summary:
          failedAction === undefined
            ? `saga ${saga.status}: ${saga.error ?? 'no error'}${saga.cause === undefined ? '' : `: ${saga.cause}`}`
            : `saga ${saga.status} at ${failedAction.name}: ${lastFailure?.error ?? '?'}: ${lastFailure?.cause ?? ''}`,
        details: [
          ...failedCompensations.map(
            (step) =>
              `compensation ${step.name} failed too: ${step.failures.at(-1)?.error ?? '?'}: ${step.failures.at(-1)?.cause ?? ''}`,
          ),
          ...(failedAction === undefined
            ? []
            : [`execution ${saga.executionName} ended with ${saga.error ?? '?'}: ${saga.cause ?? ''}`]),
        ],
        command: `${prefix} sagas redrive ${saga.executionName}`,
      });
    }
  }
  if (order?.status === OrderStatus.FULFILLING && saga === undefined) {
    problems.push({
      summary: `order is FULFILLING but its saga ${fulfillmentExecutionName(order.orderId)} never started`,
      details: ['the PaymentSucceeded event starts it: look for it in order-events DLQ'],
      command: undefined,
    });
  }
  if (order?.status === OrderStatus.PENDING_PAYMENT && new Date(order.paymentDeadline) < now) {
    problems.push({
      summary: `payment deadline ${order.paymentDeadline} has passed and the order is not cancelled yet`,
      details: ['its timer or, within a minute, the sweeper cancels it; if neither does, check their DLQs'],
      command: undefined,
    });
  }
  for (const payment of story.payments.filter(
    (candidate) => candidate.status === PaymentStatus.REFUND_PENDING,
  )) {
    problems.push({
      summary: `payment ${payment.paymentId} awaits its refund (REFUND_PENDING since ${payment.updatedAt})`,
      details: [
        'the RefundRequested event asks the provider; while it fails, it waits in order-events.fifo or its DLQ',
      ],
      command: undefined,
    });
  }
  return problems;
}

/** The story as lines of text: problems first, then the order, its timeline, payments, events, saga and DLQs. */
export function renderOrderStory(story: OrderStory): string[] {
  const lines: string[] = [];
  const { order } = story;
  if (order === undefined) {
    lines.push(`Order ${story.orderId}: not found in table ${story.tableName}`);
  } else {
    lines.push(`Order ${order.orderId}: ${order.status} (version ${order.version})`);
    lines.push(
      `  customer ${order.customerId}, ${order.totalAmount} ${order.currency}: ${order.items
        .map((item) => `${item.sku} x${item.quantity} @ ${item.unitPrice}`)
        .join(', ')}`,
    );
    lines.push(`  created ${order.createdAt}, pay by ${order.paymentDeadline}, updated ${order.updatedAt}`);
  }
  lines.push('');
  if (story.problems.length === 0) {
    lines.push('No problems found.');
  } else {
    lines.push(`PROBLEMS (${story.problems.length})`);
    for (const problem of story.problems) {
      lines.push(`  ! ${problem.summary}`);
      for (const detail of problem.details) lines.push(`      ${detail}`);
      if (problem.command !== undefined) lines.push(`      once the cause is fixed: ${problem.command}`);
    }
  }

  lines.push('', 'TIMELINE');
  if (story.timeline.length === 0) lines.push('  (none)');
  for (const entry of story.timeline) {
    lines.push(`  ${entry.at}  v${entry.version}  ${entry.from ?? '(new)'} -> ${entry.to}  ${entry.reason}`);
  }

  lines.push('', 'PAYMENTS AND REFUNDS');
  if (story.payments.length === 0) lines.push('  (none)');
  for (const payment of story.payments) {
    const refund = payment.refundReason === undefined ? '' : `  refund: ${payment.refundReason}`;
    lines.push(
      `  ${payment.paymentId}  ${payment.status}  ${payment.amount} ${payment.currency}  created ${payment.createdAt}, updated ${payment.updatedAt} ${sourceOf(payment)}${refund}`,
    );
  }

  lines.push('', 'EVENTS (as the outbox relay published them)');
  if (story.events.length === 0) lines.push('  (none)');
  for (const event of story.events) {
    lines.push(
      `  ${event.occurredAt ?? '(time not kept)'.padEnd(24)}  ${event.type.padEnd(18)}  ${event.eventId}  ${event.detail}`,
    );
  }

  lines.push('');
  const { saga } = story;
  if (saga === undefined) {
    lines.push('SAGA: no fulfilment execution');
  } else {
    lines.push(`SAGA ${saga.executionName}: ${saga.status}`);
    lines.push(
      `  started ${saga.startedAt ?? '-'}, stopped ${saga.stoppedAt ?? '-'}, redriven ${saga.redriveCount} time(s)${
        saga.redrivenAt === undefined ? '' : `, last at ${saga.redrivenAt}`
      }`,
    );
    if (saga.error !== undefined) lines.push(`  error ${saga.error}: ${saga.cause ?? ''}`);
    let run = -1;
    for (const step of saga.steps) {
      if (step.run !== run) {
        run = step.run;
        lines.push(run === 0 ? '  run 0 (first)' : `  run ${run} (redrive ${run})`);
      }
      lines.push(
        `    ${step.enteredAt}  ${step.name}${step.compensation ? ' [compensation]' : ''}  ${stepSummary(step)}`,
      );
      for (const group of groupedFailures(step.failures)) {
        const times =
          group.count === 1 ? `at ${group.lastAt}` : `${group.count} times, last at ${group.lastAt}`;
        lines.push(`      ${group.error}: ${group.cause} (${times})`);
      }
    }
  }
  if (story.ledger.length > 0) {
    lines.push(
      `  ledger: ${story.ledger.map((entry) => `${entry.step} ${entry.status}${entry.compensatedFrom === undefined ? '' : ` (from ${entry.compensatedFrom})`}`).join(', ')}`,
    );
  }

  lines.push('', 'DEAD-LETTER QUEUES');
  if (story.deadLetters.length === 0) {
    lines.push(`  no message of this order in ${story.deadLetterQueuesSearched.length} DLQ(s) searched`);
  }
  for (const finding of story.deadLetters) {
    lines.push(
      `  ${finding.queue}: ${finding.messages.length} message(s) of this order (of about ${finding.approximateMessages})`,
    );
    for (const message of finding.messages) {
      lines.push(
        `    ${message.messageId}  group ${message.messageGroupId ?? '-'}  receives ${message.receiveCount ?? '?'}  sent ${message.sentAt ?? '?'}`,
      );
      lines.push(`      ${message.body}`);
    }
  }
  return lines;
}

/**
 * Who learnt the payment's current fact: a webhook, or the reconciliation or check-back reading the provider
 * because none came (a lost webhook), the checkout that created the intent, or the fulfilment saga owing a refund.
 */
function sourceOf(payment: Payment): string {
  return payment.recordedBy === undefined ? '(source not recorded)' : `by ${payment.recordedBy}`;
}

/** Runs of the same failure as one line each: retries repeat their error, and the count is what matters. */
function groupedFailures(
  failures: readonly StepFailure[],
): { error: string; cause: string; count: number; lastAt: string }[] {
  const groups: { error: string; cause: string; count: number; lastAt: string }[] = [];
  for (const failure of failures) {
    const last = groups.at(-1);
    if (last !== undefined && last.error === failure.error && last.cause === failure.cause) {
      last.count += 1;
      last.lastAt = failure.at;
    } else {
      groups.push({ error: failure.error, cause: failure.cause, count: 1, lastAt: failure.at });
    }
  }
  return groups;
}

function stepSummary(step: SagaStep): string {
  const attempts =
    step.attempts === 0 ? '' : ` after ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}`;
  return `${step.outcome}${step.type === 'Task' ? attempts : ''}`;
}
