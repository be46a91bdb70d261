/**
 * Every rule of the pre-deploy check, by the id its findings carry, and what CloudFormation or the service would
 * otherwise refuse (or silently not grant) at deploy time. cfn-lint's findings carry `cfn-lint/<its rule id>`.
 */
export const RULES = {
  'iam/unknown-action': 'an action that AWS does not have (IAM accepts it and grants nothing)',
  'iam/resource-type-mismatch':
    'an action granted on an ARN of a resource type it does not act on (grants nothing there)',
  'iam/wildcard-only-on-arn':
    'an action that supports no resource type, granted on an ARN instead of "*" (grants nothing)',
  'iam/unknown-condition-key': 'a condition key that AWS does not have (the condition never matches)',
  'iam/condition-key-not-applicable':
    "a service's condition key that no action of the statement supports (the condition never matches)",
  'sfn/definition-unreadable': 'a state machine definition that is not JSON once substituted',
  'sfn/unknown-task-resource':
    'a Task resource that is neither a Lambda function, an activity nor an integration',
  'sfn/integration-not-allowed':
    'a Task integration the workflow type refuses (EXPRESS: no .sync, .waitForTaskToken or activity)',
  'sfn/missing-invoke-permission': "a Task's Lambda function that the state machine's role may not invoke",
  'apigw/route-setting-without-route': 'a stage RouteSettings key that no route of the API has',
  'apigw/stage-before-route':
    'a stage whose RouteSettings name a route it does not depend on (created first, it fails)',
  'scheduler/invalid-expression': 'a ScheduleExpression that is not at(...), rate(...) or cron(...)',
  'scheduler/invalid-name': 'a schedule or schedule group name outside [0-9a-zA-Z-_.]{1,64}',
  'scheduler/invalid-dead-letter-arn': 'a schedule dead-letter ARN that is not a standard SQS queue',
  'sqs/redrive-type-mismatch':
    'a FIFO queue redriving to a standard queue, or a standard one to a FIFO queue',
  'lambda/fifo-batch-size': 'an event source mapping on a FIFO queue with a batch size above 10',
  'lambda/fifo-batching-window': 'an event source mapping on a FIFO queue with a batching window',
  'lambda/sqs-visibility-timeout':
    "an event source mapping on a queue whose visibility timeout is shorter than the function's timeout",
} as const;

export type RuleId = keyof typeof RULES | `cfn-lint/${string}`;

/** One problem in one template: the rule, the resource it is about, and what is wrong. */
export interface Finding {
  readonly rule: RuleId;
  readonly logicalId: string;
  readonly message: string;
}

/** `<rule-id> <logicalId>: <message>`, one line. */
export function formatFinding(finding: Finding): string {
  return `${finding.rule} ${finding.logicalId}: ${finding.message}`;
}

/** Findings by logical id, then rule, then message, so that a report reads the same on every run. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      a.logicalId.localeCompare(b.logicalId) ||
      a.rule.localeCompare(b.rule) ||
      a.message.localeCompare(b.message),
  );
}
