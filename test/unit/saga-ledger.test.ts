import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConcurrentModificationError, InvalidTransitionError } from '../../functions/domain/errors';
import {
  CompensatedFrom,
  decideCompensate,
  decideExecute,
  idempotencyKeyOf,
  LedgerContentionError,
  type LedgerEntry,
  type LedgerWrite,
  SagaLedger,
  type SagaLedgerStore,
  StepCompensatedError,
  type StepRef,
  type StepResult,
  StepStatus,
} from '../../functions/domain/saga-ledger';
import {
  checkLedgerProperties,
  checkRecordProperties,
  FakeExternalSystem,
  InMemoryLedgerStore,
  operationArbitrary,
  runRecordScenario,
  runScenario,
  scenarioArbitrary,
} from '../fixtures/saga/ledger-model';

const REF = { orderId: 'order-1', step: 'warehouse-pick' } as const;
const AT = '2026-01-01T00:00:00.000Z';

function entry(status: LedgerEntry['status'], extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { ...REF, status, updatedAt: AT, ...extra };
}

/** A broken ledger: a COMPENSATED entry reads as absent and may be claimed again, so late actions run. */
class ForgetfulLedgerStore extends InMemoryLedgerStore {
  public override async get(ref: StepRef): Promise<LedgerEntry | undefined> {
    const found = await super.get(ref);
    return found?.status === StepStatus.COMPENSATED ? undefined : found;
  }

  public override async claim(ref: StepRef, at: Date, result?: StepResult): Promise<LedgerWrite> {
    if ((await super.get(ref))?.status === StepStatus.COMPENSATED) this.entries.delete(this.key(ref));
    return await super.claim(ref, at, result);
  }
}

/** A broken ledger: it reports a DONE write that lost to a compensation as written, so a refusal reads as a success. */
class OverclaimingLedgerStore extends InMemoryLedgerStore {
  public override async recordDone(ref: StepRef, result: StepResult, at: Date): Promise<LedgerWrite> {
    await super.recordDone(ref, result, at);
    return { written: true };
  }
}

function ledgerOn(store: SagaLedgerStore = new InMemoryLedgerStore()): SagaLedger {
  return new SagaLedger({ store, now: () => new Date(AT) });
}

describe('saga ledger rules', () => {
  it('claims a step that has no entry', () => {
    expect(decideExecute(undefined)).toEqual({ kind: 'claim' });
  });

  it('acts again on a claimed step, under the same key', () => {
    expect(decideExecute(entry(StepStatus.ACTING))).toEqual({ kind: 'act' });
  });

  it('replays the first result of a done step', () => {
    expect(decideExecute(entry(StepStatus.DONE, { result: { pickId: 'p-1' } }))).toEqual({
      kind: 'replay',
      result: { pickId: 'p-1' },
    });
  });

  it('refuses the action of a compensated step', () => {
    expect(decideExecute(entry(StepStatus.COMPENSATED, { compensatedFrom: 'NOTHING' }))).toEqual({
      kind: 'refuse',
    });
  });

  it('records an empty compensation when no action ran', () => {
    expect(decideCompensate(undefined)).toEqual({ kind: 'recordEmpty' });
  });

  it('takes over a claimed step at once and undoes it', () => {
    expect(decideCompensate(entry(StepStatus.ACTING))).toEqual({ kind: 'undo', from: 'ACTING' });
  });

  it('undoes a done step', () => {
    expect(decideCompensate(entry(StepStatus.DONE, { result: {} }))).toEqual({ kind: 'undo', from: 'DONE' });
  });

  it.each([
    ['NOTHING', true],
    ['ACTING', false],
    ['DONE', false],
  ] as const)(
    'answers a repeated compensation of a step compensated from %s with empty=%s',
    (from, empty) => {
      expect(decideCompensate(entry(StepStatus.COMPENSATED, { compensatedFrom: from }))).toEqual({
        kind: 'alreadyCompensated',
        outcome: { from, empty },
      });
    },
  );

  it('derives one idempotency key per order and step', () => {
    expect(idempotencyKeyOf(REF)).toBe('order-1:warehouse-pick');
    expect(idempotencyKeyOf({ ...REF, step: 'transport-ship' })).not.toBe(idempotencyKeyOf(REF));
  });
});

describe('SagaLedger', () => {
  it('performs a repeated action once and answers the repeat with the first result', async () => {
    const external = new FakeExternalSystem();
    const ledger = ledgerOn();
    let calls = 0;
    const action = async (key: string) => {
      calls += 1;
      return await external.act(key);
    };

    const first = await ledger.execute(REF, action);
    const second = await ledger.execute(REF, action);

    expect(second).toEqual(first);
    expect(calls).toBe(1);
    expect(external.effectsOf(idempotencyKeyOf(REF))).toBe(1);
  });

  it('succeeds with an empty compensation when the action never ran, and refuses the late action', async () => {
    const external = new FakeExternalSystem();
    const store = new InMemoryLedgerStore();
    const ledger = ledgerOn(store);
    let undoCalls = 0;

    const outcome = await ledger.compensate(REF, async () => {
      undoCalls += 1;
    });
    const late = ledger.execute(REF, (key) => external.act(key));

    expect(outcome).toEqual({ from: CompensatedFrom.NOTHING, empty: true });
    expect(undoCalls).toBe(0);
    await expect(late).rejects.toBeInstanceOf(StepCompensatedError);
    expect(external.effectsOf(idempotencyKeyOf(REF))).toBe(0);
    expect(await store.get(REF)).toMatchObject({ status: 'COMPENSATED', compensatedFrom: 'NOTHING' });
  });

  it('undoes a done action and keeps its result in the entry', async () => {
    const external = new FakeExternalSystem();
    const store = new InMemoryLedgerStore();
    const ledger = ledgerOn(store);
    const result = await ledger.execute(REF, (key) => external.act(key));

    const outcome = await ledger.compensate(REF, (key) => external.cancel(key));

    expect(outcome).toEqual({ from: CompensatedFrom.DONE, empty: false });
    expect(external.activeEffectsOf(idempotencyKeyOf(REF))).toBe(0);
    expect(await store.get(REF)).toMatchObject({ status: 'COMPENSATED', result });
  });

  it('compensates an action that crashed after its side effect, and the retried action is refused', async () => {
    const external = new FakeExternalSystem();
    const ledger = ledgerOn();
    const crashed = ledger.execute(REF, async (key) => {
      await external.act(key);
      throw new Error('Lambda timed out');
    });
    await expect(crashed).rejects.toThrow('Lambda timed out');

    const outcome = await ledger.compensate(REF, (key) => external.cancel(key));
    const retried = ledger.execute(REF, (key) => external.act(key));

    expect(outcome).toEqual({ from: CompensatedFrom.ACTING, empty: false });
    await expect(retried).rejects.toBeInstanceOf(StepCompensatedError);
    expect(external.activeEffectsOf(idempotencyKeyOf(REF))).toBe(0);
  });

  it('refuses an action in flight whose compensation overtook it, through the tombstone', async () => {
    const external = new FakeExternalSystem();
    const ledger = ledgerOn();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inFlight = ledger.execute(REF, async (key) => {
      await gate;
      return await external.act(key);
    });
    // Let the action claim its entry before the compensation reads it.
    await new Promise((resolve) => setImmediate(resolve));

    const outcome = await ledger.compensate(REF, (key) => external.cancel(key));
    release();

    expect(outcome).toEqual({ from: CompensatedFrom.ACTING, empty: false });
    await expect(inFlight).rejects.toBeInstanceOf(StepCompensatedError);
    expect(external.effectsOf(idempotencyKeyOf(REF))).toBe(0);
  });

  it('refuses, in the same round, an action whose DONE write lost to a compensation after its effect', async () => {
    // Prepare: one round only, so a refusal deferred to a later round would read as contention.
    const external = new FakeExternalSystem();
    const store = new InMemoryLedgerStore();
    const ledger = new SagaLedger({ store, now: () => new Date(AT), maxRounds: 1 });

    // Act: the compensation overtakes the action between its effect and its DONE write.
    const execution = ledger.execute(REF, async (key) => {
      const result = await external.act(key);
      await ledger.compensate(REF, (undoKey) => external.cancel(undoKey));
      return result;
    });

    // Assess
    await expect(execution).rejects.toMatchObject({
      name: 'StepCompensatedError',
      retryable: false,
      message: 'step warehouse-pick of order order-1 was compensated; the action is refused',
    });
    expect(await store.get(REF)).toMatchObject({ status: 'COMPENSATED', compensatedFrom: 'ACTING' });
    expect(external.activeEffectsOf(idempotencyKeyOf(REF))).toBe(0);
  });

  it('answers, in the same round, with the result of a duplicate that recorded DONE first', async () => {
    // Prepare
    const external = new FakeExternalSystem();
    const ledger = new SagaLedger({
      store: new InMemoryLedgerStore(),
      now: () => new Date(AT),
      maxRounds: 1,
    });

    // Act: a duplicate delivery runs and finishes while the first is between its effect and its DONE write.
    const first = await ledger.execute(REF, async (key) => {
      const result = await external.act(key);
      await ledger.execute(REF, (duplicateKey) => external.act(duplicateKey));
      return result;
    });

    // Assess
    expect(first).toEqual({ effectId: 'effect-1', key: idempotencyKeyOf(REF) });
    expect(external.effectsOf(idempotencyKeyOf(REF))).toBe(1);
  });

  it('wraps a refusal of the external system, keeping it as the cause', async () => {
    // Prepare
    const external = new FakeExternalSystem();
    await external.cancel(idempotencyKeyOf(REF));

    // Act
    const execution = ledgerOn().execute(REF, (key) => external.act(key));

    // Assess
    await expect(execution).rejects.toMatchObject({
      name: 'StepCompensatedError',
      cause: expect.objectContaining({ name: 'ActionRefusedError', retryable: false }),
    });
  });

  it('gives up with a transient LedgerContentionError when the entry never settles', async () => {
    const flapping: SagaLedgerStore = {
      get: async () => undefined,
      claim: async () => ({ written: false, found: undefined }),
      recordDone: async () => ({ written: false, found: undefined }),
      recordCompensated: async () => ({ written: false, found: undefined }),
    };
    const ledger = new SagaLedger({ store: flapping, now: () => new Date(AT), maxRounds: 3 });

    const execution = ledger.execute(REF, async () => ({}));

    await expect(execution).rejects.toBeInstanceOf(LedgerContentionError);
    await expect(execution).rejects.toMatchObject({ retryable: true, name: 'LedgerContentionError' });
  });

  it('tries exactly maxRounds rounds of a compensation or an execution before it gives up', async () => {
    // Prepare
    const calls = { claim: 0, recordCompensated: 0 };
    const flapping: SagaLedgerStore = {
      get: async () => undefined,
      claim: async () => {
        calls.claim += 1;
        return { written: false, found: undefined };
      },
      recordDone: async () => ({ written: false, found: undefined }),
      recordCompensated: async () => {
        calls.recordCompensated += 1;
        return { written: false, found: undefined };
      },
    };
    const ledger = new SagaLedger({ store: flapping, now: () => new Date(AT), maxRounds: 3 });

    // Act
    const compensation = ledger.compensate(REF, async () => undefined);
    await expect(compensation).rejects.toMatchObject({
      name: 'LedgerContentionError',
      message: 'the ledger entry of step warehouse-pick of order order-1 kept changing; try again',
    });
    await expect(ledger.execute(REF, async () => ({}))).rejects.toBeInstanceOf(LedgerContentionError);

    // Assess
    expect(calls).toEqual({ claim: 3, recordCompensated: 3 });
  });

  it('compensates a done step in a single round', async () => {
    // Prepare
    const external = new FakeExternalSystem();
    const ledger = new SagaLedger({
      store: new InMemoryLedgerStore(),
      now: () => new Date(AT),
      maxRounds: 1,
    });
    await ledger.execute(REF, (key) => external.act(key));

    // Act
    const outcome = await ledger.compensate(REF, (key) => external.cancel(key));

    // Assess
    expect(outcome).toEqual({ from: CompensatedFrom.DONE, empty: false });
  });
});

/** An in-memory store that counts its calls, to show what an operation costs in requests. */
class CountingLedgerStore extends InMemoryLedgerStore {
  public readonly calls: string[] = [];

  public override async get(ref: StepRef): Promise<LedgerEntry | undefined> {
    this.calls.push('get');
    return await super.get(ref);
  }

  public override async claim(ref: StepRef, at: Date, result?: StepResult): Promise<LedgerWrite> {
    this.calls.push(result === undefined ? 'claim' : 'claim(DONE)');
    return await super.claim(ref, at, result);
  }

  public override async recordDone(ref: StepRef, result: StepResult, at: Date): Promise<LedgerWrite> {
    this.calls.push('recordDone');
    return await super.recordDone(ref, result, at);
  }

  /** An entry as the ledger before issue 21 left it: claimed by an action that never recorded DONE. */
  public leaveClaimed(ref: StepRef): void {
    this.entries.set(this.key(ref), { ...ref, status: StepStatus.ACTING, updatedAt: AT });
  }
}

describe('SagaLedger writes without reading first', () => {
  it('performs an action with one claim and one DONE write, and answers a repeat from the failed claim', async () => {
    const store = new CountingLedgerStore();
    const external = new FakeExternalSystem();
    const ledger = ledgerOn(store);

    const first = await ledger.execute(REF, (key) => external.act(key));
    const calls = store.calls.splice(0);
    const repeat = await ledger.execute(REF, (key) => external.act(key));

    expect(calls).toEqual(['claim', 'recordDone']);
    expect(store.calls).toEqual(['claim']);
    expect(repeat).toEqual(first);
    expect(external.effectsOf(idempotencyKeyOf(REF))).toBe(1);
  });

  it('records a step without side effects DONE in its first and only write, and replays its first result', async () => {
    const store = new CountingLedgerStore();
    const ledger = ledgerOn(store);

    const first = await ledger.record(REF, async () => ({ fulfillmentOrderId: 'FO-1', version: 1 }));
    const calls = store.calls.splice(0);
    const repeat = await ledger.record(REF, async () => ({ fulfillmentOrderId: 'FO-1', version: 2 }));

    expect(calls).toEqual(['claim(DONE)']);
    expect(repeat).toEqual(first);
    expect(await store.get(REF)).toMatchObject({ status: StepStatus.DONE, result: first });
  });

  it('refuses to record a step compensated before, whether the action succeeds or fails for good', async () => {
    const ledger = ledgerOn();
    expect(await ledger.compensate(REF, async () => undefined)).toEqual({
      from: CompensatedFrom.NOTHING,
      empty: true,
    });

    await expect(ledger.record(REF, async () => ({ done: true }))).rejects.toBeInstanceOf(
      StepCompensatedError,
    );
    await expect(
      ledger.record(REF, async () => {
        throw new InvalidTransitionError(REF.orderId, 'FULFILLMENT_FAILED', 'FULFILLING');
      }),
    ).rejects.toMatchObject({ name: 'StepCompensatedError', cause: { name: 'InvalidTransitionError' } });
  });

  it('answers an action that fails for good with the first result of a step done before', async () => {
    const ledger = ledgerOn();
    const first = await ledger.record(REF, async () => ({ fulfillmentOrderId: 'FO-1' }));

    const repeat = await ledger.record(REF, async () => {
      throw new InvalidTransitionError(REF.orderId, 'FULFILLED', 'FULFILLING');
    });

    expect(repeat).toEqual(first);
  });

  it('passes on a failure of the action when the step is unsettled, and a transient one without a read', async () => {
    const store = new CountingLedgerStore();
    const ledger = ledgerOn(store);

    await expect(
      ledger.record(REF, async () => {
        throw new InvalidTransitionError(REF.orderId, 'CANCELLED', 'FULFILLING');
      }),
    ).rejects.toBeInstanceOf(InvalidTransitionError);
    expect(store.calls.splice(0)).toEqual(['get']);
    await expect(
      ledger.record(REF, async () => {
        throw new ConcurrentModificationError(REF.orderId);
      }),
    ).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect(store.calls).toEqual([]);
    expect(await store.get(REF)).toBeUndefined();
  });

  it('finishes an entry an older attempt left ACTING, recording it DONE', async () => {
    const store = new CountingLedgerStore();
    store.leaveClaimed(REF);

    const result = await ledgerOn(store).record(REF, async () => ({ fulfillmentOrderId: 'FO-1' }));

    expect(result).toEqual({ fulfillmentOrderId: 'FO-1' });
    expect(store.calls).toEqual(['claim(DONE)', 'recordDone']);
    expect(await store.get(REF)).toMatchObject({ status: StepStatus.DONE, result });
  });
});

describe('saga ledger properties (in-memory model)', () => {
  it('keeps idempotency, empty compensation, no hanging and final consistency under any interleaving', async () => {
    let scenarios = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArbitrary, async (s, scenario) => {
        scenarios += 1;
        const store = new InMemoryLedgerStore();
        const external = new FakeExternalSystem();
        const ref = { orderId: `order-${scenarios}`, step: 'warehouse-pick' };

        const trace = await runScenario(store, external, s, ref, scenario);

        await checkLedgerProperties(store, external, ref, idempotencyKeyOf(ref), trace);
      }),
      { numRuns: 300 },
    );
    expect(scenarios).toBe(300);
  });

  it('keeps one recorded result, compensation and no hanging for a step without side effects', async () => {
    let scenarios = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenarioArbitrary, async (s, scenario) => {
        scenarios += 1;
        const store = new InMemoryLedgerStore();
        const ref = { orderId: `order-record-${scenarios}`, step: 'fulfillment-order' };

        const trace = await runRecordScenario(store, s, ref, scenario);

        await checkRecordProperties(store, ref, trace);
      }),
      { numRuns: 300 },
    );
    expect(scenarios).toBe(300);
  });

  it('detects a ledger that forgets its compensations of a recorded step (the properties can fail)', async () => {
    const lateRecord = [
      [{ kind: 'compensate', crash: 'none' }],
      [{ kind: 'execute', crash: 'none' }],
    ] as const;
    const run = fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.constant(lateRecord), async (s, scenario) => {
        const store = new ForgetfulLedgerStore();
        const ref = { orderId: 'order-record-forgetful', step: 'fulfillment-order' };
        await checkRecordProperties(store, ref, await runRecordScenario(store, s, ref, scenario));
      }),
      { numRuns: 1 },
    );

    await expect(run).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/^a record after its compensation succeeded/) },
    });
  });

  it('refuses every later action after a compensation that came first', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.array(operationArbitrary, { minLength: 1, maxLength: 3 }), { maxLength: 3 }),
        async (s, rest) => {
          const store = new InMemoryLedgerStore();
          const external = new FakeExternalSystem();
          const ref = { orderId: 'order-empty', step: 'transport-ship' };

          const trace = await runScenario(store, external, s, ref, [
            [{ kind: 'compensate', crash: 'none' }],
            ...rest,
          ]);

          expect(trace[0]?.outcome).toEqual({
            status: 'compensated',
            outcome: { from: CompensatedFrom.NOTHING, empty: true },
          });
          const executions = trace.filter((operation) => operation.kind === 'execute');
          expect(executions.every((operation) => operation.outcome.status === 'refused')).toBe(true);
          expect(executions.reduce((sum, operation) => sum + operation.externalActions, 0)).toBe(0);
          expect(external.effectsOf(idempotencyKeyOf(ref))).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('detects a ledger that reports an action overtaken by its compensation as done (the properties can fail)', async () => {
    const race = [
      [
        { kind: 'execute', crash: 'none' },
        { kind: 'compensate', crash: 'none' },
      ],
    ] as const;
    const run = fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.constant(race), async (s, scenario) => {
        const store = new OverclaimingLedgerStore();
        const external = new FakeExternalSystem();
        const ref = { orderId: 'order-overclaiming', step: 'warehouse-pick' };
        const trace = await runScenario(store, external, s, ref, scenario);
        await checkLedgerProperties(store, external, ref, idempotencyKeyOf(ref), trace);
      }),
      { numRuns: 200 },
    );

    await expect(run).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/^an execution reported a result the ledger does not hold/) },
    });
  });

  it('detects a ledger that forgets its compensations (the properties can fail)', async () => {
    const lateAction = [
      [{ kind: 'compensate', crash: 'none' }],
      [{ kind: 'execute', crash: 'none' }],
    ] as const;
    const run = fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.constant(lateAction), async (s, scenario) => {
        const store = new ForgetfulLedgerStore();
        const external = new FakeExternalSystem();
        const ref = { orderId: 'order-forgetful', step: 'warehouse-pick' };
        const trace = await runScenario(store, external, s, ref, scenario);
        await checkLedgerProperties(store, external, ref, idempotencyKeyOf(ref), trace);
      }),
      { numRuns: 1 },
    );

    await expect(run).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/^an empty compensation was followed by a side effect/) },
    });
  });
});
