import { readFileSync } from 'node:fs';
import { ORDER_STATUSES, type OrderStatus } from '../../../functions/domain/order-status';
import type {
  ConsoleBackend,
  DeadLetterQueueMessages,
  DeadLetterQueueView,
  DeadLetterRedrive,
  OrderPage,
  OrderQuery,
  OrderSummary,
  Overview,
  SagaStatusFilter,
  StateMachineDefinition,
} from '../../../lib/console/backend';
import {
  type DeadLetterMessage,
  DeadLetterSourceUnknownError,
  DlqQueueNotFoundError,
} from '../../../lib/ops/dlq';
import type { OrderStory } from '../../../lib/ops/order';
import type { RedriveOutcome, SagaExecution } from '../../../lib/ops/sagas';

/** The saga the system runs, as the console's graph draws it. */
export function fulfillmentDefinition(): StateMachineDefinition {
  const text = readFileSync(new URL('../../../state-machines/fulfillment.asl.json', import.meta.url), 'utf8');
  return JSON.parse(text) as StateMachineDefinition;
}

/** One call of the backend, as a test asserts on it. */
export interface ConsoleBackendCall {
  readonly method: keyof ConsoleBackend;
  readonly args: readonly unknown[];
}

/** A dead-letter queue and the messages in it. */
export interface InMemoryDeadLetterQueue {
  readonly name: string;
  readonly source: string | undefined;
  messages: DeadLetterMessage[];
}

/**
 * The console's backend over plain data a test fills in: orders, stories, dead-letter queues and executions.
 * Every call is recorded in `calls`; a redrive moves messages out of the queue (and nowhere else), and a saga
 * redrive sets a stopped-short execution RUNNING, so a test sees what an action changed.
 */
export class InMemoryConsoleBackend implements ConsoleBackend {
  public readonly calls: ConsoleBackendCall[] = [];
  public orders: OrderSummary[] = [];
  public readonly stories = new Map<string, OrderStory>();
  public definition: StateMachineDefinition = fulfillmentDefinition();
  public queues: InMemoryDeadLetterQueue[] = [];
  public executions: SagaExecution[] = [];
  public ordersPerMinute: Overview['ordersPerMinute'] = [];
  public stuckRefunds: Overview['stuckRefunds'] = [];
  public paymentsFoundByReconciliation: Overview['paymentsFoundByReconciliation'] = [];
  /** When set, the overview says it counted only this many orders (a capped count). */
  public countCap: number | undefined;

  public constructor(private readonly now: () => Date = () => new Date()) {}

  public callsOf(method: keyof ConsoleBackend): readonly ConsoleBackendCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  public async overview(): Promise<Overview> {
    this.calls.push({ method: 'overview', args: [] });
    const counted = this.orders.slice(0, this.countCap);
    const ordersByStatus = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as Record<
      OrderStatus,
      number
    >;
    for (const order of counted) ordersByStatus[order.status] += 1;
    return {
      gatheredAt: this.now().toISOString(),
      ordersByStatus,
      ordersPerMinute: this.ordersPerMinute,
      ordersCounted: counted.length,
      complete: counted.length === this.orders.length,
      deadLetterQueues: this.queues.map((queue) => this.view(queue)),
      failedSagas: this.executions.filter((execution) => execution.status === 'FAILED').length,
      stuckRefunds: this.stuckRefunds,
      paymentsFoundByReconciliation: this.paymentsFoundByReconciliation,
    };
  }

  /** Orders in the list's order; the cursor is the index of the page's first order. */
  public async listOrders(query: OrderQuery): Promise<OrderPage> {
    this.calls.push({ method: 'listOrders', args: [query] });
    const matching = this.orders.filter(
      (order) =>
        (query.orderId === undefined || order.orderId === query.orderId) &&
        (query.customerId === undefined || order.customerId === query.customerId) &&
        (query.status === undefined || order.status === query.status) &&
        (query.createdFrom === undefined || order.createdAt >= query.createdFrom) &&
        (query.createdTo === undefined || order.createdAt < query.createdTo),
    );
    const start = query.cursor === undefined ? 0 : Number(query.cursor);
    const end = start + query.limit;
    return { orders: matching.slice(start, end), next: end < matching.length ? String(end) : undefined };
  }

  public async orderStory(orderId: string): Promise<OrderStory | undefined> {
    this.calls.push({ method: 'orderStory', args: [orderId] });
    return this.stories.get(orderId);
  }

  public async sagaDefinition(): Promise<StateMachineDefinition> {
    this.calls.push({ method: 'sagaDefinition', args: [] });
    return this.definition;
  }

  public async deadLetterQueues(): Promise<readonly DeadLetterQueueView[]> {
    this.calls.push({ method: 'deadLetterQueues', args: [] });
    return this.queues.map((queue) => this.view(queue));
  }

  public async deadLetterMessages(queue: string, max: number): Promise<DeadLetterQueueMessages> {
    this.calls.push({ method: 'deadLetterMessages', args: [queue, max] });
    const found = this.queue(queue);
    return { queue: this.view(found), messages: found.messages.slice(0, max) };
  }

  public async redriveDeadLetters(queue: string, max: number | undefined): Promise<DeadLetterRedrive> {
    this.calls.push({ method: 'redriveDeadLetters', args: [queue, max] });
    const found = this.queue(queue);
    if (found.source === undefined) throw new DeadLetterSourceUnknownError(found.name, []);
    const moved = found.messages.splice(0, max ?? found.messages.length);
    return { deadLetterQueue: found.name, sourceQueue: found.source, moved: moved.length, skipped: 0 };
  }

  public async sagas(status: SagaStatusFilter): Promise<readonly SagaExecution[]> {
    this.calls.push({ method: 'sagas', args: [status] });
    return this.executions.filter((execution) => execution.status === status);
  }

  public async redriveSaga(executionName: string): Promise<readonly RedriveOutcome[]> {
    this.calls.push({ method: 'redriveSaga', args: [executionName] });
    const index = this.executions.findIndex((execution) => execution.name === executionName);
    const execution = this.executions[index];
    if (execution === undefined) {
      return [{ name: executionName, outcome: 'not-found', reason: `no execution ${executionName}` }];
    }
    if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(execution.status)) {
      return [{ name: executionName, outcome: 'not-redrivable', reason: `it is ${execution.status}` }];
    }
    const redriveDate = this.now();
    this.executions[index] = {
      ...execution,
      status: 'RUNNING',
      redriveCount: execution.redriveCount + 1,
      redriveDate,
    };
    return [{ name: executionName, outcome: 'redriven', redriveDate }];
  }

  private queue(name: string): InMemoryDeadLetterQueue {
    const found = this.queues.find((queue) => queue.name === name);
    if (found === undefined) throw new DlqQueueNotFoundError(name);
    return found;
  }

  private view(queue: InMemoryDeadLetterQueue): DeadLetterQueueView {
    return {
      name: queue.name,
      source: queue.source,
      approximateMessages: queue.messages.length,
      oldestSentAt: queue.messages
        .map((message) => message.sentAt)
        .filter((sentAt) => sentAt !== undefined)
        .sort()[0],
    };
  }
}
