import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  CompensatedFrom,
  type LedgerEntry,
  type LedgerWrite,
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
 * `compensatedAt`, `updatedAt` (ISO 8601) for whoever reads the story later. An entry created DONE (a step
 * with no side effect to claim) has no `claimedAt`.
 *
 * Every write asks for the item as it stood should its condition fail (`ReturnValuesOnConditionCheckFailure:
 * ALL_OLD`), so a lost write needs no read to decide again.
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

  public async claim(ref: StepRef, at: Date, result?: StepResult): Promise<LedgerWrite> {
    const timestamp = at.toISOString();
    return await this.createEntry(
      sagaStepItem(
        ref,
        result === undefined
          ? { status: StepStatus.ACTING, claimedAt: timestamp, updatedAt: timestamp }
          : { status: StepStatus.DONE, result, doneAt: timestamp, updatedAt: timestamp },
      ),
    );
  }

  public async recordDone(ref: StepRef, result: StepResult, at: Date): Promise<LedgerWrite> {
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
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
  }

  public async recordCompensated(ref: StepRef, from: CompensatedFrom, at: Date): Promise<LedgerWrite> {
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
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
  }

  /** Writes an entry the step does not have yet; when it has one, answers with it. */
  private async createEntry(item: Item): Promise<LedgerWrite> {
    return await this.conditional(() =>
      this.options.client.send(
        new PutCommand({
          TableName: this.options.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(PK)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
  }

  /** A failed condition is an answer (someone else moved the entry, which it returns), not an error. */
  private async conditional(write: () => Promise<unknown>): Promise<LedgerWrite> {
    try {
      await write();
      return { written: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The document client leaves the returned item in DynamoDB's own attribute-value form.
      return {
        written: false,
        found: error.Item === undefined ? undefined : toLedgerEntry(unmarshall(error.Item)),
      };
    }
  }
}
