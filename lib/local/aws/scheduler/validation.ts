import { SCHEDULER_DEAD_LETTER_ARN, SCHEDULER_NAME } from '../../../scheduler-api';
import { invalid } from './errors';
import { parseExpression } from './expressions';
import type { ScheduleRequest } from './requests';
import type { ScheduleStore, StoredSchedule } from './store';

/** What a create or update request is checked against besides its own fields. */
export interface ScheduleRules {
  readonly store: ScheduleStore;
  /** Lambda function ARN -> local function name (a Map, so `constructor` names no function). */
  readonly functions: ReadonlyMap<string, string>;
  readonly canDeadLetter: boolean;
}

const LAMBDA_FUNCTION_ARN = /^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]+)(:[^:]+)?$/;
const SQS_QUEUE_ARN = /^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9_.-]+$/;
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'Z']);

/** Checks a create or update request as AWS would, plus what the local stand-in cannot do. */
export function validateSchedule(
  name: string,
  groupName: string,
  request: ScheduleRequest,
  creationDate: Date,
  rules: ScheduleRules,
): StoredSchedule {
  if (!SCHEDULER_NAME.test(name)) throw invalid(`Invalid schedule name: ${name}`);
  rules.store.group(groupName);
  checkTimezone(request.ScheduleExpressionTimezone);
  const expression = parseExpression(request.ScheduleExpression);
  checkTimeWindow(request.FlexibleTimeWindow);
  checkDates(request);
  const functionName = targetFunction(request.Target.Arn, rules.functions);
  checkTarget(request.Target, rules.canDeadLetter);
  return {
    arn: rules.store.scheduleArn(groupName, name),
    name,
    groupName,
    request,
    expression,
    functionName,
    creationDate,
    lastModificationDate: new Date(),
    completed: false,
  };
}

function checkTimezone(timezone: string | undefined): void {
  if (timezone !== undefined && !UTC_ZONES.has(timezone)) {
    throw invalid(`ScheduleExpressionTimezone ${timezone} is not supported by the local scheduler; use UTC`);
  }
}

function checkTimeWindow(window: ScheduleRequest['FlexibleTimeWindow']): void {
  if (window.Mode === 'OFF' && window.MaximumWindowInMinutes !== undefined) {
    throw invalid('MaximumWindowInMinutes must not be set when Mode is OFF');
  }
  if (window.Mode === 'FLEXIBLE' && window.MaximumWindowInMinutes === undefined) {
    throw invalid('MaximumWindowInMinutes is required when Mode is FLEXIBLE');
  }
}

function checkDates(request: ScheduleRequest): void {
  if (
    request.StartDate !== undefined &&
    request.EndDate !== undefined &&
    request.EndDate <= request.StartDate
  ) {
    throw invalid('EndDate must be after StartDate');
  }
  if (request.EndDate !== undefined && request.EndDate * 1000 <= Date.now()) {
    throw invalid('The EndDate you specify cannot be earlier than today.');
  }
}

function targetFunction(targetArn: string, functions: ReadonlyMap<string, string>): string {
  const match = LAMBDA_FUNCTION_ARN.exec(targetArn);
  const functionName =
    match === null ? undefined : (functions.get(targetArn) ?? functions.get(match[1] ?? ''));
  if (functionName !== undefined) return functionName;
  const kind = SQS_QUEUE_ARN.test(targetArn)
    ? 'SQS targets are not supported by the local scheduler'
    : match === null
      ? 'only Lambda function targets are supported by the local scheduler'
      : 'the function is not declared in the local targetFunctions';
  throw invalid(`Invalid Target.Arn ${targetArn}: ${kind}`);
}

function checkTarget(target: ScheduleRequest['Target'], canDeadLetter: boolean): void {
  if (target.Input !== undefined) {
    try {
      JSON.parse(target.Input);
    } catch {
      throw invalid('Target.Input must be valid JSON for a Lambda target');
    }
  }
  const deadLetterArn = target.DeadLetterConfig?.Arn;
  if (deadLetterArn === undefined) return;
  if (!SCHEDULER_DEAD_LETTER_ARN.test(deadLetterArn)) {
    throw invalid(`DeadLetterConfig.Arn must be the ARN of a standard SQS queue: ${deadLetterArn}`);
  }
  if (!canDeadLetter) {
    throw invalid(
      'The local scheduler was started without a dead-letter sender, so DeadLetterConfig cannot be honoured',
    );
  }
}
