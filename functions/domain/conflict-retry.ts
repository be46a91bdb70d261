import { ConcurrentModificationError } from './errors';

/** Rounds a service tries before it hands a conflict to its caller's retry (a state machine, a provider). */
export const CONFLICT_ATTEMPTS = 5;

export interface ConflictRetryOptions {
  /** Rounds at most, the first included; anything below 1 still runs one round. */
  readonly attempts: number;
  /** Whether a failure means another writer won the race; any other failure propagates at once. */
  readonly isConflict?: (error: unknown) => boolean;
  /** What to throw when the last round lost too; by default that round's conflict itself. */
  readonly giveUp?: (lastConflict: unknown, attempts: number) => Error;
  /** Awaited between rounds, e.g. a jittered pause. */
  readonly beforeRetry?: (attempt: number) => Promise<void>;
}

function isConcurrentModification(error: unknown): boolean {
  return error instanceof ConcurrentModificationError;
}

/**
 * Read, decide, conditional write: runs `round` (which reads what it needs, decides on it and writes only if
 * nothing changed since) until it returns, and again after each conflict, since a fresh read may decide
 * differently. A round that decides there is nothing to do simply returns; a round whose write reports a lost
 * race as an outcome, not an error, throws a conflict itself.
 */
export async function retryOnConflict<T>(options: ConflictRetryOptions, round: () => Promise<T>): Promise<T> {
  const isConflict = options.isConflict ?? isConcurrentModification;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await round();
    } catch (error) {
      if (!isConflict(error)) throw error;
      if (attempt >= options.attempts) throw options.giveUp?.(error, attempt) ?? error;
      await options.beforeRetry?.(attempt);
    }
  }
}
