import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSagaLedgerStore } from '../../functions/adapters/dynamodb-saga-ledger';
import { idempotencyKeyOf, SagaLedger, StepCompensatedError } from '../../functions/domain/saga-ledger';
import {
  checkLedgerProperties,
  checkRecordProperties,
  FakeExternalSystem,
  runRecordScenario,
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

/** An entry exactly as the ledger before issue 21 wrote it (a GetItem, then a PutItem claim, then an UpdateItem). */
async function writeOldEntry(ref: { orderId: string; step: string }, attributes: Record<string, unknown>) {
  await tables.documentClient.send(
    new PutCommand({
      TableName: tables.ordersTableName,
      Item: {
        PK: `ORDER#${ref.orderId}`,
        SK: `SAGA#${ref.step}`,
        entityType: 'SagaStep',
        orderId: ref.orderId,
        step: ref.step,
        updatedAt: '2026-03-01T11:00:00.000Z',
        ...attributes,
      },
    }),
  );
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

  it('records a step without side effects DONE in one item write, with no claim', async () => {
    const ref = nextRef('fulfillment-order');
    const ledger = new SagaLedger({ store, now: () => new Date('2026-03-01T12:00:00.000Z') });

    await ledger.record(ref, async () => ({ fulfillmentOrderId: 'FO-1' }));

    const item = await rawItem(ref);
    expect(item).toMatchObject({
      entityType: 'SagaStep',
      status: 'DONE',
      result: { fulfillmentOrderId: 'FO-1' },
      doneAt: '2026-03-01T12:00:00.000Z',
    });
    expect(item).not.toHaveProperty('claimedAt');
  });

  it('honours entries the ledger wrote before issue 21: claimed, done and compensated', async () => {
    const external = new FakeExternalSystem();
    const ledger = new SagaLedger({ store, now: () => new Date() });
    const claimed = nextRef();
    const claimedRecord = nextRef('fulfillment-order');
    const done = nextRef();
    const compensated = nextRef('transport-ship');
    await writeOldEntry(claimed, { status: 'ACTING', claimedAt: '2026-03-01T11:00:00.000Z' });
    await writeOldEntry(claimedRecord, { status: 'ACTING', claimedAt: '2026-03-01T11:00:00.000Z' });
    await writeOldEntry(done, {
      status: 'DONE',
      result: { pickId: 'pk_old' },
      claimedAt: '2026-03-01T11:00:00.000Z',
      doneAt: '2026-03-01T11:00:01.000Z',
    });
    await writeOldEntry(compensated, {
      status: 'COMPENSATED',
      compensatedFrom: 'NOTHING',
      empty: true,
      compensatedAt: '2026-03-01T11:00:00.000Z',
    });

    // A claimed action acts again under its key and is recorded DONE; a claimed record is finished DONE.
    const acted = await ledger.execute(claimed, (key) => external.act(key));
    const recorded = await ledger.record(claimedRecord, async () => ({ fulfillmentOrderId: 'FO-old' }));
    // A done step replays without touching the world; a compensated one refuses, as an action or a record.
    const replayed = await ledger.execute(done, (key) => external.act(key));
    const refusedAction = await ledger
      .execute(compensated, (key) => external.act(key))
      .catch((error: unknown) => error);
    const refusedRecord = await ledger
      .record(compensated, async () => ({ shipmentId: 'x' }))
      .catch((error: unknown) => error);
    const undone = await ledger.compensate(done, (key) => external.cancel(key));

    expect(await rawItem(claimed)).toMatchObject({ status: 'DONE', result: acted });
    expect(external.effectsOf(idempotencyKeyOf(claimed))).toBe(1);
    expect(await rawItem(claimedRecord)).toMatchObject({ status: 'DONE', result: recorded });
    expect(replayed).toEqual({ pickId: 'pk_old' });
    expect(external.effectsOf(idempotencyKeyOf(done))).toBe(0);
    expect(refusedAction).toBeInstanceOf(StepCompensatedError);
    expect(refusedRecord).toBeInstanceOf(StepCompensatedError);
    expect(external.effectsOf(idempotencyKeyOf(compensated))).toBe(0);
    expect(undone).toEqual({ from: 'DONE', empty: false });
    expect(await rawItem(done)).toMatchObject({ status: 'COMPENSATED', result: { pickId: 'pk_old' } });
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

  it('keeps one recorded result, compensation and no hanging for a step without side effects', async () => {
    let scenarios = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArbitrary, async (s, scenario) => {
        scenarios += 1;
        const ref = nextRef('fulfillment-order');

        const trace = await runRecordScenario(store, s, ref, scenario);

        await checkRecordProperties(store, ref, trace);
      }),
      { numRuns: 30 },
    );
    expect(scenarios).toBe(30);
  });
});
