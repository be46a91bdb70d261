import type { DeadLetterMessage } from '../ops/dlq';
import type { OrderStory } from '../ops/order';
import type { OrderCounts, OrderPage, OrderQuery } from '../ops/orders';
import type { RedriveOutcome, SagaExecution } from '../ops/sagas';

// The listing's own types, where `ops orders list` and the console's Orders page both take them from.
export type { OrderPage, OrderQuery, OrderSummary } from '../ops/orders';

/**
 * What the operations console reads and does, one method per page or action. The implementation
 * ({@link ./ops-backend.ts}) calls `lib/ops`, the CLI's own functions, so that the console and `npm run ops` never
 * disagree; the pages depend only on this interface.
 */
export interface ConsoleBackend {
  overview(): Promise<Overview>;
  listOrders(query: OrderQuery): Promise<OrderPage>;
  /** Undefined when neither the table, the sagas nor the dead-letter queues know the order. */
  orderStory(orderId: string): Promise<OrderStory | undefined>;
  /** The state machine's definition (ASL JSON), which the order page draws. */
  sagaDefinition(): Promise<StateMachineDefinition>;
  deadLetterQueues(): Promise<readonly DeadLetterQueueView[]>;
  deadLetterMessages(queue: string, max: number): Promise<DeadLetterQueueMessages>;
  /** Moves up to `max` messages (all when undefined) back to the queue's source, as `ops dlq redrive` does. */
  redriveDeadLetters(queue: string, max: number | undefined): Promise<DeadLetterRedrive>;
  sagas(status: SagaStatusFilter): Promise<readonly SagaExecution[]>;
  /** As `ops sagas redrive <name>`. */
  redriveSaga(executionName: string): Promise<readonly RedriveOutcome[]>;
}

export type SagaStatusFilter = 'RUNNING' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'SUCCEEDED';

/** The order figures come from `countOrders` (`lib/ops/orders.ts`), the rest from the other `lib/ops` modules. */
export interface Overview extends OrderCounts {
  readonly gatheredAt: string;
  readonly deadLetterQueues: readonly DeadLetterQueueView[];
  readonly failedSagas: number;
}

export interface DeadLetterQueueView {
  readonly name: string;
  /** The queue a redrive moves its messages to; undefined when no single queue sends its failures there. */
  readonly source: string | undefined;
  readonly approximateMessages: number;
  /** When its oldest message seen was first sent, ISO 8601; undefined when empty. */
  readonly oldestSentAt: string | undefined;
}

export interface DeadLetterQueueMessages {
  readonly queue: DeadLetterQueueView;
  readonly messages: readonly DeadLetterMessage[];
}

export interface DeadLetterRedrive {
  readonly deadLetterQueue: string;
  readonly sourceQueue: string;
  readonly moved: number;
  readonly skipped: number;
}

/** The parts of an ASL definition the graph is drawn from. */
export interface StateMachineDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
}

export interface AslState {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Default?: string;
  readonly Choices?: readonly { readonly Next: string }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[]; readonly Next: string }[];
}
