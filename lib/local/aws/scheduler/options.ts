import type { FunctionInvoker } from '../../invoker';
import type { DeadLetterSender } from './dead-letters';

export interface LocalSchedulerOptions {
  readonly invoker: FunctionInvoker;
  readonly region: string;
  readonly accountId: string;
  /** Lambda function ARN used as `Target.Arn` -> local function name. Other targets are refused. */
  readonly targetFunctions: Readonly<Record<string, string>>;
  /** Required for schedules with `Target.DeadLetterConfig`; such schedules are refused without it. */
  readonly deadLetters?: DeadLetterSender;
  /** Schedule name -> interval in seconds replacing its `rate()` locally, e.g. a 1-minute sweeper every 2 s. */
  readonly rateOverridesSeconds?: Readonly<Record<string, number>>;
  /** First retry delay; each further retry doubles it up to `retryMaxDelayMs`. Default 1000. */
  readonly retryBaseDelayMs?: number;
  /** Default 60000. */
  readonly retryMaxDelayMs?: number;
  /** How many invocation records the inspection snapshot keeps, oldest dropped first. Default 1000. */
  readonly maxInvocationRecords?: number;
  /** Default: a free loopback port. */
  readonly port?: number;
}
