/**
 * What the EventBridge Scheduler API accepts, shared by the local Scheduler endpoint (`lib/local/aws/scheduler/`),
 * which refuses a request AWS would refuse, and the pre-deploy check (`lib/deploy-check/service-rules.ts`), which
 * refuses a template whose schedules AWS would refuse. Names and the dead-letter ARN are the API reference's
 * patterns; expressions are the three forms the Scheduler documents.
 */

/** Schedule and schedule group names: `^[0-9a-zA-Z-_.]+$`, 1 to 64 characters. */
export const SCHEDULER_NAME = /^[0-9a-zA-Z_.-]{1,64}$/;

/**
 * `DeadLetterConfig.Arn`: an SQS queue ARN whose name has no `.`, so never a FIFO queue (`*.fifo`): the Scheduler
 * sends dead letters without a message group id, which a FIFO queue refuses.
 */
export const SCHEDULER_DEAD_LETTER_ARN = /^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_-]+$/;

/** `at(yyyy-mm-ddThh:mm:ss)`, a one-time schedule; the groups are the date and time fields. */
export const AT_EXPRESSION = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;

/** `rate(value unit)`; the groups are the value and the unit. */
export const RATE_EXPRESSION = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;

/** `cron(minutes hours day-of-month month day-of-week year)`: six fields. */
const CRON_EXPRESSION = /^cron\(\S+( \S+){5}\)$/;

/** Whether `expression` has one of the three forms the Scheduler accepts in `ScheduleExpression`. */
export function isScheduleExpression(expression: string): boolean {
  const rate = RATE_EXPRESSION.exec(expression);
  if (rate !== null) return Number(rate[1]) >= 1;
  return AT_EXPRESSION.test(expression) || CRON_EXPRESSION.test(expression);
}
