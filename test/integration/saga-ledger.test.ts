import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSagaLedgerStore } from '../../functions/adapters/dynamodb-saga-ledger';
import { idempotencyKeyOf, SagaLedger, StepCompensatedError } from '../../functions/domain/saga-ledger';
import {
  checkLedgerProperties,
  FakeExternalSystem,
  runScenario,
  scenarioArbitrary,
} from '../fixtures/saga/ledger-model';
import { createTestTables, type TestTables } from '../support/dynamodb';

let tables: TestTables;
let store: DynamoDbSagaLedgerStore;
let sequence = 0;

/** A fresh order per scenario, so runs share the table but never an entry. */
function nextRef(step = 'warehouse-pick') {
  sequence += 1;
  return { orderId: `01SAGALEDGER${sequence.toString().padStart(14, '0')}`, step };
}

async function rawItem(ref: { orderId: string; step: string }) {
  const { Item } = await tables.documentClient.send(
    new GetCommand({
      TableName: tables.ordersTableName,
      Key: { PK: `ORDER#${ref.orderId}`, SK: `SAGA#${ref.step}` },
      ConsistentRead: true,
    }),
  );
  return Item;
}

beforeAll(async () => {
  tables = await createTestTables();
  store = new DynamoDbSagaLedgerStore({ client: tables.documentClient, tableName: tables.ordersTableName });
});

describe('the DynamoDB saga ledger', () => {
  it('keeps one item per order and step in the order partition, with its result', async () => {
    const ref = nextRef();
    const ledger = new SagaLedger({ store, now: () => new Date('2026-03-01T12:00:00.000Z') });

    await ledger.execute(ref, async () => ({ pickId: 'pk_1', lines: [{ sku: 'MUG', quantity: 2 }] }));

    expect(await rawItem(ref)).toMatchObject({
      PK: `ORDER#${ref.orderId}`,
      SK: 'SAGA#warehouse-pick',
      entityType: 'SagaStep',
      status: 'DONE',
      result: { pickId: 'pk_1', lines: [{ sku: 'MUG', quantity: 2 }] },
      claimedAt: '2026-03-01T12:00:00.000Z',
      doneAt: '2026-03-01T12:00:00.000Z',
    });
  });

  it('records an empty compensation as COMPENSATED with empty=true', async () => {
    const ref = nextRef('transport-ship');
    const ledger = new SagaLedger({ store, now: () => new Date() });

    const outcome = await ledger.compensate(ref, async () => {
      throw new Error('nothing may be undone for an action that never ran');
    });

    expect(outcome).toEqual({ from: 'NOTHING', empty: true });
    expect(await rawItem(ref)).toMatchObject({
      status: 'COMPENSATED',
      compensatedFrom: 'NOTHING',
      empty: true,
    });
  });

  it('lets exactly one of 20 concurrent duplicate actions reach the external system first, with one effect', async () => {
    const ref = nextRef();
    const external = new FakeExternalSystem();
    const ledger = new SagaLedger({ store, now: () => new Date() });

    const results = await Promise.all(
      Array.from({ length: 20 }, () => ledger.execute(ref, (key) => external.act(key))),
    );

    expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1);
    expect(external.effectsOf(idempotencyKeyOf(ref))).toBe(1);
    expect(await rawItem(ref)).toMatchObject({ status: 'DONE' });
  });

  it('leaves no effect when actions and compensations race for real', async () => {
    const ref = nextRef();
    const external = new FakeExternalSystem();
    const ledger = new SagaLedger({ store, now: () => new Date() });

    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 5 }, () => ledger.execute(ref, (key) => external.act(key))),
      ...Array.from({ length: 5 }, () => ledger.compensate(ref, (key) => external.cancel(key))),
    ]);
    const late = ledger.execute(ref, (key) => external.act(key));

    const rejected = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
    expect(rejected.every((reason) => reason instanceof StepCompensatedError)).toBe(true);
    await expect(late).rejects.toBeInstanceOf(StepCompensatedError);
    expect(external.activeEffectsOf(idempotencyKeyOf(ref))).toBe(0);
    expect(await rawItem(ref)).toMatchObject({ status: 'COMPENSATED' });
  });

  it('keeps idempotency, empty compensation, no hanging and final consistency under generated interleavings', async () => {
    let scenarios = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArbitrary, async (s, scenario) => {
        scenarios += 1;
        const ref = nextRef();
        const external = new FakeExternalSystem();

        const trace = await runScenario(store, external, s, ref, scenario);

        await checkLedgerProperties(store, external, ref, idempotencyKeyOf(ref), trace);
      }),
      { numRuns: 50 },
    );
    expect(scenarios).toBe(50);
  });
});
