import { describe, expect, it } from 'vitest';
import { retryOnConflict } from '../../functions/domain/conflict-retry';
import { ConcurrentModificationError, InvalidTransitionError } from '../../functions/domain/errors';

/** A round that loses `losses` races, then returns 'written'; it counts how often it ran. */
function losingRound(losses: number) {
  const calls = { count: 0 };
  const round = async () => {
    calls.count += 1;
    if (calls.count <= losses) throw new ConcurrentModificationError(`order-${calls.count}`);
    return 'written';
  };
  return { calls, round };
}

describe('retryOnConflict', () => {
  it('reads and decides again after a conflict, and returns what the first winning round returns', async () => {
    // Prepare
    const { calls, round } = losingRound(2);

    // Act
    const outcome = await retryOnConflict({ attempts: 3 }, round);

    // Assess
    expect(outcome).toBe('written');
    expect(calls.count).toBe(3);
  });

  it('does not run again once a round decides there is nothing to do', async () => {
    // Prepare
    let calls = 0;

    // Act
    const outcome = await retryOnConflict({ attempts: 5 }, async () => {
      calls += 1;
      return 'nothingToDo';
    });

    // Assess
    expect(outcome).toBe('nothingToDo');
    expect(calls).toBe(1);
  });

  it('gives up after the given number of rounds with the last conflict', async () => {
    // Prepare
    const { calls, round } = losingRound(Number.POSITIVE_INFINITY);

    // Act
    const outcome = retryOnConflict({ attempts: 4 }, round);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ConcurrentModificationError);
    await expect(outcome).rejects.toMatchObject({ orderId: 'order-4' });
    expect(calls.count).toBe(4);
  });

  it('retries no other error, not even a domain error, however many rounds are allowed', async () => {
    // Prepare
    const refused = new InvalidTransitionError('order-1', 'PAID', 'PAID');
    let calls = 0;

    // Act
    const outcome = retryOnConflict({ attempts: 5 }, async () => {
      calls += 1;
      throw refused;
    });

    // Assess
    await expect(outcome).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it('retries what it is told is a conflict, and hands the last one to giveUp', async () => {
    // Prepare
    const isConflict = (error: unknown) => error instanceof InvalidTransitionError;
    const giveUp = (lastConflict: unknown, attempts: number) =>
      new Error(`gave up after ${attempts}`, { cause: lastConflict });
    const lost = new InvalidTransitionError('order-1', 'PAID', 'PAID');
    let calls = 0;

    // Act
    const outcome = retryOnConflict({ attempts: 2, isConflict, giveUp }, async () => {
      calls += 1;
      throw lost;
    });

    // Assess
    await expect(outcome).rejects.toThrow('gave up after 2');
    await expect(outcome).rejects.toMatchObject({ cause: lost });
    expect(calls).toBe(2);
  });

  it('with a custom test of conflict, retries nothing else: not even the default conflict', async () => {
    // Prepare
    const isConflict = (error: unknown) => error instanceof InvalidTransitionError;
    const { calls, round } = losingRound(1);

    // Act
    const outcome = retryOnConflict({ attempts: 3, isConflict }, round);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect(calls.count).toBe(1);
  });

  it('waits before each retry, not before the first round nor after the last', async () => {
    // Prepare
    const pauses: number[] = [];
    const { round } = losingRound(Number.POSITIVE_INFINITY);

    // Act
    const outcome = retryOnConflict(
      { attempts: 3, beforeRetry: async (attempt) => void pauses.push(attempt) },
      round,
    );

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect(pauses).toEqual([1, 2]);
  });

  it('runs one round when told to try fewer than one', async () => {
    // Prepare
    const { calls, round } = losingRound(Number.POSITIVE_INFINITY);

    // Act
    const outcome = retryOnConflict({ attempts: 0 }, round);

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(ConcurrentModificationError);
    expect(calls.count).toBe(1);
  });
});
