/**
 * The sections of `docs/runbooks.md`, one per alarm, by their GitHub heading anchors. Every alarm's description
 * names its section, so the page that reaches the on-call person says where to start; a test checks that each
 * anchor an alarm names is a heading of that file.
 */
export const Runbook = {
  queueDeadLetter: 'queue-dlq-not-empty',
  streamFailures: 'stream-failures-dlq-not-empty',
  timerDeadLetter: 'timer-dlq-not-empty',
  sagaExecutions: 'saga-executions-failed-timed-out-or-aborted',
  sweeperCatches: 'orders-cancelled-by-the-sweeper',
  scheduleCreation: 'payment-timer-not-scheduled',
  timerDeliveries: 'timer-invocations-lost',
  refundsStuck: 'refunds-stuck-or-sweeper-silent',
  webhooksLost: 'payment-webhooks-lost',
  checkBackFailures: 'check-back-failing',
  api5xx: 'api-5xx-rate',
  functionErrors: 'function-errors',
  functionThrottles: 'function-throttles',
} as const;

export type Runbook = (typeof Runbook)[keyof typeof Runbook];

export const RUNBOOK_FILE = 'docs/runbooks.md';

/** `docs/runbooks.md#<anchor>`, as written in alarm descriptions. */
export function runbookLink(runbook: Runbook): string {
  return `${RUNBOOK_FILE}#${runbook}`;
}
