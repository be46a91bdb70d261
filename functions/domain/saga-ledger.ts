import { CONFLICT_ATTEMPTS, type ConflictRetryOptions, retryOnConflict } from './conflict-retry';
import { AppError, ErrorCode } from './errors';

/**
 * The saga step ledger: one entry per (order, step) that makes a saga participant safe under Step Functions'
 * at-least-once task delivery and the three classic saga hazards.
 *
 * - Idempotency: an action claims its entry (absent -> ACTING) before its side effect and records DONE with its
 *   result after it; a repeat finds DONE and returns the first result without touching the world again. An
 *   action with no side effect outside the table ({@link SagaLedger.record}) needs no claim: its entry is
 *   created DONE with its result in one write.
 * - Empty compensation: a compensation that finds no entry records COMPENSATED (`from` NOTHING) by a write
 *   conditioned on absence, and succeeds; there is nothing to undo.
 * - Hanging: an action that finds COMPENSATED is refused ({@link StepCompensatedError}) and does nothing, so an
 *   action delivered after its compensation can never leave a side effect behind.
 *
 * An ACTING entry (an action in flight, or one that crashed after its claim) is taken over by a compensation at
 * once, without waiting for a claim to expire. That is safe because every side effect is requested from the
 * external system under one deterministic idempotency key ({@link idempotencyKeyOf}) and the compensation
 * cancels under that same key: the external system serialises the two per key, so either the action happened
 * first and the cancel undoes it, or the cancel came first and leaves a tombstone that refuses the action
 * ({@link ActionRefusedError}). The late action's own DONE write is conditioned on ACTING and so loses to
 * COMPENSATED. Waiting for an expiry instead would stall every compensation of a crashed action for the whole
 * claim and buy nothing the tombstone does not already give.
 *
 * An action that finds ACTING acts again under the same key: that is a Step Functions retry after a crash or a
 * timeout, and the external system's idempotency turns it into a replay of the first attempt.
 *
 * Every write is conditional and is tried first, without a read: a write whose condition fails answers with the
 * entry as it stood (DynamoDB's `ReturnValuesOnConditionCheckFailure`), and the caller decides on that entry, so
 * the happy path of an action is one claim and one DONE write. An entry that keeps changing under the writes is
 * given up on after a bounded number of rounds ({@link LedgerContentionError}, which is transient).
 */

/** A JSON value, as a step's result is stored and handed back to Step Functions. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** What an action returns and the ledger keeps for its repeats. */
export type StepResult = { readonly [key: string]: JsonValue };

export const StepStatus = {
  /** Claimed: the action is in flight, or crashed after its claim. */
  ACTING: 'ACTING',
  DONE: 'DONE',
  COMPENSATED: 'COMPENSATED',
} as const;

export type StepStatus = (typeof StepStatus)[keyof typeof StepStatus];

/** What a compensation found when it took the entry over. */
export const CompensatedFrom = {
  /** No entry: the action never ran (an empty compensation). */
  NOTHING: 'NOTHING',
  /** The action was claimed but never recorded as done: in flight, failed or crashed. */
  ACTING: 'ACTING',
  DONE: 'DONE',
} as const;

export type CompensatedFrom = (typeof CompensatedFrom)[keyof typeof CompensatedFrom];

/** One saga step of one order. */
export interface StepRef {
  readonly orderId: string;
  readonly step: string;
}

export interface LedgerEntry extends StepRef {
  readonly status: StepStatus;
  /** The action's result; present once DONE, and kept when a DONE step is compensated. */
  readonly result?: StepResult;
  /** Present once COMPENSATED. */
  readonly compensatedFrom?: CompensatedFrom;
  readonly updatedAt: string;
}

export interface CompensationOutcome {
  readonly from: CompensatedFrom;
  /** True when the compensation found no action at all and so had nothing to undo. */
  readonly empty: boolean;
}

/**
 * The idempotency key of a step's side effect, the same for every attempt of the action and for its
 * compensation, so the external system can replay the first and let the second refuse an action it has not
 * seen yet. A saga runs once per order (its execution is named after the order), so order and step suffice.
 */
export function idempotencyKeyOf(ref: StepRef): string {
  return `${ref.orderId}:${ref.step}`;
}

export type ExecuteDecision =
  /** No entry: claim it (only if still absent), then act. */
  | { readonly kind: 'claim' }
  /** Claimed before (a retry after a crash, or a duplicate in flight): act again under the same key. */
  | { readonly kind: 'act' }
  /** Done before: hand back the first result; no second side effect. */
  | { readonly kind: 'replay'; readonly result: StepResult }
  /** Compensated before: the action arrives too late and must do nothing. */
  | { readonly kind: 'refuse' };

export function decideExecute(entry: LedgerEntry | undefined): ExecuteDecision {
  if (entry === undefined) return { kind: 'claim' };
  switch (entry.status) {
    case StepStatus.ACTING:
      return { kind: 'act' };
    case StepStatus.DONE:
      return { kind: 'replay', result: entry.result ?? {} };
    case StepStatus.COMPENSATED:
      return { kind: 'refuse' };
  }
}

export type CompensateDecision =
  /** No entry: record the empty compensation (only if still absent); nothing to undo. */
  | { readonly kind: 'recordEmpty' }
  /** An action was claimed or done: undo it under its key, then record COMPENSATED (only if still `from`). */
  | { readonly kind: 'undo'; readonly from: typeof CompensatedFrom.ACTING | typeof CompensatedFrom.DONE }
  /** Compensated before: succeed again with the first outcome. */
  | { readonly kind: 'alreadyCompensated'; readonly outcome: CompensationOutcome };

export function decideCompensate(entry: LedgerEntry | undefined): CompensateDecision {
  if (entry === undefined) return { kind: 'recordEmpty' };
  switch (entry.status) {
    case StepStatus.ACTING:
      return { kind: 'undo', from: CompensatedFrom.ACTING };
    case StepStatus.DONE:
      return { kind: 'undo', from: CompensatedFrom.DONE };
    case StepStatus.COMPENSATED: {
      const from = entry.compensatedFrom ?? CompensatedFrom.NOTHING;
      return { kind: 'alreadyCompensated', outcome: { from, empty: from === CompensatedFrom.NOTHING } };
    }
  }
}

/** What a conditional write of the ledger answers. */
export type LedgerWrite =
  | { readonly written: true }
  /** The condition did not hold and nothing changed; `found` is the entry as it stood (undefined: none). */
  | { readonly written: false; readonly found: LedgerEntry | undefined };

/**
 * Where ledger entries live. Each write is conditional; when its condition does not hold it changes nothing and
 * answers with the entry it found, for the caller to decide again on.
 */
export interface SagaLedgerStore {
  /** Strongly consistent: a decision must see every write that committed before it. */
  get(ref: StepRef): Promise<LedgerEntry | undefined>;
  /**
   * Creates the entry, only if there is none: ACTING, or DONE with `result` for an action that has no side
   * effect to guard (see {@link SagaLedger.record}).
   */
  claim(ref: StepRef, at: Date, result?: StepResult): Promise<LedgerWrite>;
  /** ACTING -> DONE with the result, only while the entry is ACTING. */
  recordDone(ref: StepRef, result: StepResult, at: Date): Promise<LedgerWrite>;
  /** -> COMPENSATED, only if the entry is still as found: absent for NOTHING, else in that status. */
  recordCompensated(ref: StepRef, from: CompensatedFrom, at: Date): Promise<LedgerWrite>;
}

/** The step was compensated before this action arrived (a hanging action): nothing was done. Not retryable. */
export class StepCompensatedError extends AppError {
  public override readonly name = 'StepCompensatedError';
  public readonly code = ErrorCode.SAGA_STEP_COMPENSATED;
  public readonly retryable = false;

  public constructor(
    public readonly ref: StepRef,
    options?: ErrorOptions,
  ) {
    super(`step ${ref.step} of order ${ref.orderId} was compensated; the action is refused`, options);
  }
}

/**
 * An external system refused an action because a cancellation under the same idempotency key reached it first
 * (its tombstone). Thrown by participants' adapters; the ledger turns it into {@link StepCompensatedError}.
 */
export class ActionRefusedError extends AppError {
  public override readonly name = 'ActionRefusedError';
  public readonly code = ErrorCode.SAGA_ACTION_REFUSED;
  public readonly retryable = false;
}

/** The entry kept changing under us for every round; transient, a retry of the task reads it afresh. */
export class LedgerContentionError extends AppError {
  public override readonly name = 'LedgerContentionError';
  public readonly code = ErrorCode.SAGA_LEDGER_CONTENTION;
  public readonly retryable = true;

  public constructor(public readonly ref: StepRef) {
    super(`the ledger entry of step ${ref.step} of order ${ref.orderId} kept changing; try again`);
  }
}

export interface SagaLedgerOptions {
  readonly store: SagaLedgerStore;
  readonly now: () => Date;
  /** Read-decide-write rounds before {@link LedgerContentionError}; {@link CONFLICT_ATTEMPTS} by default. */
  readonly maxRounds?: number;
}

/** Runs a participant's actions and compensations under the ledger's rules (see the file comment). */
export class SagaLedger {
  /** A lost conditional write is a {@link LedgerContentionError}; the caller gets the last one. */
  private readonly rounds: ConflictRetryOptions;

  public constructor(private readonly options: SagaLedgerOptions) {
    this.rounds = {
      attempts: options.maxRounds ?? CONFLICT_ATTEMPTS,
      isConflict: (error) => error instanceof LedgerContentionError,
    };
  }

  /**
   * Performs `action` at most once in effect: returns its result, or the first result if the step was done
   * before. `action` gets the step's idempotency key and must pass it to the external system. Throws
   * {@link StepCompensatedError} if the step was compensated (before, or while the action ran); an error of
   * `action` itself leaves the entry ACTING, for a retry to act again or a compensation to take over.
   */
  public async execute(
    ref: StepRef,
    action: (idempotencyKey: string) => Promise<StepResult>,
  ): Promise<StepResult> {
    const { store, now } = this.options;
    return await retryOnConflict(this.rounds, async () => {
      const claim = await store.claim(ref, now());
      if (!claim.written) {
        // Claimed before: a repeat or a retry; decide on the entry the failed claim found.
        const decision = decideExecute(claim.found);
        if (decision.kind === 'replay') return decision.result;
        if (decision.kind === 'refuse') throw new StepCompensatedError(ref);
        if (decision.kind === 'claim') throw new LedgerContentionError(ref);
      }
      let result: StepResult;
      try {
        result = await action(idempotencyKeyOf(ref));
      } catch (error) {
        if (error instanceof ActionRefusedError) throw new StepCompensatedError(ref, { cause: error });
        throw error;
      }
      return this.settle(ref, result, await store.recordDone(ref, result, now()));
    });
  }

  /**
   * {@link execute} for an action whose only effect is its result (and conditional writes of our own table that
   * a repeat finds made): nothing outside could be left half done, so there is no claim to guard it. `action`
   * runs first and its result is recorded DONE in the entry's first write; a step done before answers with its
   * first result, a compensated one refuses. An action that fails for good (a non-retryable error: say the order
   * moved on) is answered by the ledger when the step was settled before, so a repeat still replays or refuses.
   */
  public async record(ref: StepRef, action: () => Promise<StepResult>): Promise<StepResult> {
    const { store, now } = this.options;
    return await retryOnConflict(this.rounds, async () => {
      let result: StepResult;
      try {
        result = await action();
      } catch (error) {
        if (!(error instanceof AppError) || error.retryable) throw error;
        const settled = decideExecute(await store.get(ref));
        if (settled.kind === 'replay') return settled.result;
        if (settled.kind === 'refuse') throw new StepCompensatedError(ref, { cause: error });
        throw error;
      }
      const created = await store.claim(ref, now(), result);
      if (created.written) return result;
      const decision = decideExecute(created.found);
      if (decision.kind === 'replay') return decision.result;
      if (decision.kind === 'refuse') throw new StepCompensatedError(ref);
      if (decision.kind === 'claim') throw new LedgerContentionError(ref);
      // ACTING: claimed under the claim-then-act rule this step followed before, by an attempt that never
      // recorded DONE (a saga in flight across a deploy); this attempt acted again, so it finishes the entry.
      return this.settle(ref, result, await store.recordDone(ref, result, now()));
    });
  }

  /**
   * Undoes the step if it was claimed or done (calling `undo` with the step's idempotency key), records an
   * empty compensation if it never ran, and succeeds again with the first outcome if it was compensated before.
   * `undo` must be idempotent and, for an action it has not seen, leave a tombstone that refuses it later.
   */
  public async compensate(
    ref: StepRef,
    undo: (idempotencyKey: string) => Promise<void>,
  ): Promise<CompensationOutcome> {
    const { store, now } = this.options;
    return await retryOnConflict(this.rounds, async () => {
      // A read first (off the happy path): a failed conditional write would cost a write unit instead.
      const decision = decideCompensate(await store.get(ref));
      if (decision.kind === 'alreadyCompensated') return decision.outcome;
      if (decision.kind === 'recordEmpty') {
        if ((await store.recordCompensated(ref, CompensatedFrom.NOTHING, now())).written) {
          return { from: CompensatedFrom.NOTHING, empty: true };
        }
        throw new LedgerContentionError(ref);
      }
      await undo(idempotencyKeyOf(ref));
      if ((await store.recordCompensated(ref, decision.from, now())).written) {
        return { from: decision.from, empty: false };
      }
      // The entry moved (ACTING -> DONE): decide again; the repeated undo is idempotent.
      throw new LedgerContentionError(ref);
    });
  }

  /**
   * The answer of an action after its DONE write: its result if written; else the entry decides. A duplicate
   * finished first (its result is the same, by the external system's idempotency), or a compensation took the
   * step over (our side effect is undone or was refused).
   */
  private settle(ref: StepRef, result: StepResult, done: LedgerWrite): StepResult {
    if (done.written) return result;
    const settled = decideExecute(done.found);
    if (settled.kind === 'replay') return settled.result;
    if (settled.kind === 'refuse') throw new StepCompensatedError(ref);
    throw new LedgerContentionError(ref);
  }
}
