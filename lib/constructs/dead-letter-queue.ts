import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { notifyOnAlarmAndOk } from './alarm-actions';
import { type Runbook, runbookLink } from './runbooks';

/**
 * `HIGH_THROUGHPUT_FIFO` of `lib/model.ts` as CDK properties (the stack test holds the two equal): FIFO queues and
 * their dead-letter queues run in high-throughput mode, so a redrive or a burst of failures is not held to 300
 * calls per second either.
 */
export const HIGH_THROUGHPUT_FIFO_PROPS = {
  deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
  fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
} as const satisfies Pick<sqs.QueueProps, 'deduplicationScope' | 'fifoThroughputLimit'>;

export interface DeadLetterQueueProps {
  /**
   * A FIFO source queue needs a FIFO dead-letter queue: SQS refuses a redrive policy that mixes the two.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Where the alarm on this queue reports, and its return to OK; the alarm exists either way, so it shows on the
   * console.
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The section of `docs/runbooks.md` that says how to inspect and redrive this kind of dead letter (a consumer
   * queue's message, a stream batch's failure record and a timer's failed invocation each need their own).
   */
  readonly runbook: Runbook;
}

/**
 * A dead-letter queue that keeps failed messages for the longest time SQS allows (14 days), so an operator
 * has time to inspect and redrive them, and that raises an alarm as soon as one message lands in it: a
 * message here means an order stopped moving. Encrypted with SQS-managed keys and reachable only over TLS.
 *
 * The alarm takes the Maximum of `ApproximateNumberOfMessagesVisible` per minute, `>= 1`. No data is not
 * breaching: SQS stops reporting only for a queue that has been empty and untouched for six hours, and a queue
 * holding a message counts as active, so it keeps reporting for as long as the message waits.
 */
export class DeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: DeadLetterQueueProps) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: props.fifo === true ? true : undefined,
      ...(props.fifo === true ? HIGH_THROUGHPUT_FIFO_PROPS : {}),
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.alarm = this.queue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
      .createAlarm(this, 'NotEmpty', {
        alarmDescription:
          `Messages in dead-letter queue ${this.node.path}: inspect, fix, then redrive. ` +
          `Runbook: ${runbookLink(props.runbook)}`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    notifyOnAlarmAndOk(this.alarm, props.alarmTopic);
  }
}
