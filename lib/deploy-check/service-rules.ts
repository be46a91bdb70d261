import { isScheduleExpression, SCHEDULER_DEAD_LETTER_ARN, SCHEDULER_NAME } from '../scheduler-api';
import { resolveText } from './arns';
import type { Finding } from './report';
import { type CfnResource, type DeployTemplate, describeValue, isRecord, jsonProperty } from './template';

/**
 * Rules that each service applies when CloudFormation creates a resource, and that no resource schema states, so
 * cfn-lint passes them and the deploy rolls back.
 */

/** SQS's default visibility timeout and Lambda's default function timeout, in seconds. */
const DEFAULT_VISIBILITY_TIMEOUT = 30;
const DEFAULT_FUNCTION_TIMEOUT = 3;
/** The largest batch Lambda reads from a FIFO queue. */
const FIFO_MAX_BATCH_SIZE = 10;

function isFifo(queue: CfnResource | undefined): boolean {
  const fifo = queue?.Properties?.FifoQueue;
  return fifo === true || fifo === 'true';
}

function numberOr(value: unknown, fallback: number): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : fallback;
}

/**
 * API Gateway creates a stage with RouteSettings only when every route they name exists: a stage that
 * CloudFormation may create before one of them fails with "Unable to find Route by key ... within the provided
 * RouteSettings". A Ref from the stage to the API does not order it after the routes; DependsOn does.
 */
function checkStages(template: DeployTemplate): Finding[] {
  const findings: Finding[] = [];
  for (const [logicalId, stage] of template.ofType('AWS::ApiGatewayV2::Stage')) {
    const settings = stage.Properties?.RouteSettings;
    if (!isRecord(settings)) continue;
    const apiId = JSON.stringify(stage.Properties?.ApiId);
    const routes = template
      .ofType('AWS::ApiGatewayV2::Route')
      .filter(([, route]) => JSON.stringify(route.Properties?.ApiId) === apiId);
    const createdBefore = template.createdBefore(logicalId);
    for (const key of Object.keys(settings)) {
      const route = routes.find(([, candidate]) => candidate.Properties?.RouteKey === key);
      if (route === undefined) {
        findings.push({
          rule: 'apigw/route-setting-without-route',
          logicalId,
          message: `RouteSettings name "${key}", which no route of API ${describeValue(stage.Properties?.ApiId)} has`,
        });
      } else if (!createdBefore.has(route[0])) {
        findings.push({
          rule: 'apigw/stage-before-route',
          logicalId,
          message:
            `RouteSettings name "${key}" but the stage does not depend on route ${route[0]}: ` +
            'CloudFormation may create the stage first, and API Gateway then refuses it (add it to DependsOn)',
        });
      }
    }
  }
  return findings;
}

/** Names, expressions and dead-letter queues of schedules and groups, against the Scheduler API's patterns. */
function checkSchedules(template: DeployTemplate): Finding[] {
  const findings: Finding[] = [];
  const checkName = (logicalId: string, property: string, value: unknown): void => {
    if (typeof value === 'string' && !SCHEDULER_NAME.test(value)) {
      findings.push({
        rule: 'scheduler/invalid-name',
        logicalId,
        message: `${property} "${value}" does not match ${SCHEDULER_NAME.source}`,
      });
    }
  };
  for (const [logicalId, group] of template.ofType('AWS::Scheduler::ScheduleGroup')) {
    checkName(logicalId, 'Name', group.Properties?.Name);
  }
  for (const [logicalId, schedule] of template.ofType('AWS::Scheduler::Schedule')) {
    const properties = schedule.Properties ?? {};
    checkName(logicalId, 'Name', properties.Name);
    checkName(logicalId, 'GroupName', properties.GroupName);
    const expression = properties.ScheduleExpression;
    if (typeof expression === 'string' && !isScheduleExpression(expression)) {
      findings.push({
        rule: 'scheduler/invalid-expression',
        logicalId,
        message: `ScheduleExpression "${expression}" is none of at(yyyy-mm-ddThh:mm:ss), rate(n unit), cron(6 fields)`,
      });
    }
    const target = isRecord(properties.Target) ? properties.Target : {};
    const deadLetter = isRecord(target.DeadLetterConfig) ? target.DeadLetterConfig.Arn : undefined;
    if (deadLetter === undefined) continue;
    const arn = resolveText(template, deadLetter);
    if (!arn.includes('*') && !SCHEDULER_DEAD_LETTER_ARN.test(arn)) {
      findings.push({
        rule: 'scheduler/invalid-dead-letter-arn',
        logicalId,
        message: `DeadLetterConfig.Arn ${describeValue(deadLetter)} is not the ARN of a standard SQS queue (${arn})`,
      });
    }
  }
  return findings;
}

/** SQS refuses a redrive policy whose dead-letter queue is not of the source queue's kind (FIFO or standard). */
function checkRedrives(template: DeployTemplate): Finding[] {
  const findings: Finding[] = [];
  for (const [logicalId, queue] of template.ofType('AWS::SQS::Queue')) {
    const redrive = jsonProperty(queue.Properties?.RedrivePolicy);
    if (!isRecord(redrive) || redrive.deadLetterTargetArn === undefined) continue;
    const arn = resolveText(template, redrive.deadLetterTargetArn);
    if (arn.includes('*')) continue;
    const sourceFifo = isFifo(queue);
    if (sourceFifo !== arn.endsWith('.fifo')) {
      findings.push({
        rule: 'sqs/redrive-type-mismatch',
        logicalId,
        message:
          `a ${sourceFifo ? 'FIFO' : 'standard'} queue cannot redrive to ` +
          `${describeValue(redrive.deadLetterTargetArn)}, a ${sourceFifo ? 'standard' : 'FIFO'} queue`,
      });
    }
  }
  return findings;
}

/**
 * Lambda refuses an SQS event source whose queue hides a received message for less than the function may run,
 * and, on a FIFO queue, batches above 10 and any batching window.
 */
function checkQueueEventSources(template: DeployTemplate): Finding[] {
  const findings: Finding[] = [];
  for (const [logicalId, mapping] of template.ofType('AWS::Lambda::EventSourceMapping')) {
    const properties = mapping.Properties ?? {};
    const queue = template.target(properties.EventSourceArn);
    if (queue?.resource.Type !== 'AWS::SQS::Queue') continue;
    if (isFifo(queue.resource)) {
      const batchSize = numberOr(properties.BatchSize, FIFO_MAX_BATCH_SIZE);
      if (batchSize > FIFO_MAX_BATCH_SIZE) {
        findings.push({
          rule: 'lambda/fifo-batch-size',
          logicalId,
          message: `BatchSize ${batchSize} on FIFO queue ${queue.id}: at most ${FIFO_MAX_BATCH_SIZE}`,
        });
      }
      if (properties.MaximumBatchingWindowInSeconds !== undefined) {
        findings.push({
          rule: 'lambda/fifo-batching-window',
          logicalId,
          message: `MaximumBatchingWindowInSeconds on FIFO queue ${queue.id}: FIFO event sources take none`,
        });
      }
    }
    const fn = template.target(properties.FunctionName);
    if (fn?.resource.Type !== 'AWS::Lambda::Function') continue;
    const visibility = numberOr(queue.resource.Properties?.VisibilityTimeout, DEFAULT_VISIBILITY_TIMEOUT);
    const timeout = numberOr(fn.resource.Properties?.Timeout, DEFAULT_FUNCTION_TIMEOUT);
    if (visibility < timeout) {
      findings.push({
        rule: 'lambda/sqs-visibility-timeout',
        logicalId,
        message: `queue ${queue.id} hides a message for ${visibility} s, less than function ${fn.id}'s timeout of ${timeout} s`,
      });
    }
  }
  return findings;
}

/** Findings of every service rule. */
export function checkServiceRules(template: DeployTemplate): Finding[] {
  return [
    ...checkStages(template),
    ...checkSchedules(template),
    ...checkRedrives(template),
    ...checkQueueEventSources(template),
  ];
}
