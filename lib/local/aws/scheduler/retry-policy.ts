import type { LocalSchedulerOptions } from './options';
import type { ScheduleRequest } from './requests';

/** A schedule's RetryPolicy with AWS's defaults filled in, and the local back-off between attempts. */
export interface RetryPolicy {
  readonly maxRetries: number;
  readonly maxAgeMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The limit a failed delivery has run into, named as in the `EXHAUSTED_RETRY_CONDITION` dead-letter attribute. */
export type ExhaustedCondition = 'MaximumRetryAttempts' | 'MaximumEventAgeInSeconds';

const DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185;
const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400;

export function retryPolicy(
  declared: ScheduleRequest['Target']['RetryPolicy'],
  options: Pick<LocalSchedulerOptions, 'retryBaseDelayMs' | 'retryMaxDelayMs'>,
): RetryPolicy {
  return {
    maxRetries: declared?.MaximumRetryAttempts ?? DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    maxAgeMs: (declared?.MaximumEventAgeInSeconds ?? DEFAULT_MAXIMUM_EVENT_AGE_SECONDS) * 1000,
    baseDelayMs: options.retryBaseDelayMs ?? 1000,
    maxDelayMs: options.retryMaxDelayMs ?? 60_000,
  };
}

/**
 * After failed attempt number `attempt` (1 for the first try): the pause before the next one, doubling up to the
 * maximum, or the limit that ends the retries, counting the event's age from its scheduled time.
 */
export function nextRetry(
  policy: RetryPolicy,
  attempt: number,
  scheduledTime: number,
): { readonly delayMs: number; readonly exhausted?: ExhaustedCondition } {
  const delayMs = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  if (attempt - 1 >= policy.maxRetries) return { delayMs, exhausted: 'MaximumRetryAttempts' };
  if (Date.now() + delayMs - scheduledTime > policy.maxAgeMs) {
    return { delayMs, exhausted: 'MaximumEventAgeInSeconds' };
  }
  return { delayMs };
}
