import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  CompensatedFrom,
  type LedgerEntry,
  type SagaLedgerStore,
  type StepRef,
  type StepResult,
  StepStatus,
} from '../domain/saga-ledger';
import { type Item, keys, sagaStepItem, toLedgerEntry } from './dynamodb-table';

export interface DynamoDbSagaLedgerStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The saga step ledger in the orders table: one item per (order, step), keyed `keys.sagaStep` in the order's
 * partition so the order's whole story stays one query away. Items are written only by conditional writes (see
 * `functions/domain/saga-ledger.ts` for the rules) and never deleted: a COMPENSATED entry is the tombstone that
 * refuses a late action, so it must outlive the saga.
 *
 * Attributes: `status` (ACTING, DONE, COMPENSATED), `result` (the action's result, a map), `compensatedFrom`
 * (NOTHING, ACTING, DONE), `empty` (true for a compensation that found nothing), and `claimedAt`, `doneAt`,
 * `compensatedAt`, `updatedAt` (ISO 8601) for whoever reads the story later.
 */
export class DynamoDbSagaLedgerStore implements SagaLedgerStore {
  public constructor(private readonly options: DynamoDbSagaLedgerStoreOptions) {}

  public async get(ref: StepRef): Promise<LedgerEntry | undefined> {
    const { Item } = await this.options.client.send(
      new GetCommand({
        TableName: this.options.tableName,
        Key: keys.sagaStep(ref.orderId, ref.step),
        ConsistentRead: true,
      }),
    );
    return Item === undefined ? undefined : toLedgerEntry(Item);
  }

  public async claim(ref: StepRef, at: Date): Promise<boolean> {
    const timestamp = at.toISOString();
    return await this.createEntry(
      sagaStepItem(ref, { status: StepStatus.ACTING, claimedAt: timestamp, updatedAt: timestamp }),
    );
  }

  public async recordDone(ref: StepRef, result: StepResult, at: Date): Promise<boolean> {
    const timestamp = at.toISOString();
    return await this.conditional(() =>
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.sagaStep(ref.orderId, ref.step),
          UpdateExpression: 'SET #status = :done, #result = :result, doneAt = :at, updatedAt = :at',
          ConditionExpression: '#status = :acting',
          ExpressionAttributeNames: { '#status': 'status', '#result': 'result' },
          ExpressionAttributeValues: {
            ':done': StepStatus.DONE,
            ':acting': StepStatus.ACTING,
            ':result': result,
            ':at': timestamp,
          },
        }),
      ),
    );
  }

  public async recordCompensated(ref: StepRef, from: CompensatedFrom, at: Date): Promise<boolean> {
    const timestamp = at.toISOString();
    if (from === CompensatedFrom.NOTHING) {
      return await this.createEntry(
        sagaStepItem(ref, {
          status: StepStatus.COMPENSATED,
          compensatedFrom: from,
          empty: true,
          compensatedAt: timestamp,
          updatedAt: timestamp,
        }),
      );
    }
    return await this.conditional(() =>
      this.options.client.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.sagaStep(ref.orderId, ref.step),
          UpdateExpression:
            'SET #status = :compensated, compensatedFrom = :from, #empty = :false, compensatedAt = :at, updatedAt = :at',
          ConditionExpression: '#status = :from',
          ExpressionAttributeNames: { '#status': 'status', '#empty': 'empty' },
          ExpressionAttributeValues: {
            ':compensated': StepStatus.COMPENSATED,
            ':from': from,
            ':false': false,
            ':at': timestamp,
          },
        }),
      ),
    );
  }

  /** Writes an entry the step does not have yet; false when it has one. */
  private async createEntry(item: Item): Promise<boolean> {
    return await this.conditional(() =>
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      ),
    );
  }

  /** A failed condition is an answer (someone else moved the entry), not an error. */
  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
