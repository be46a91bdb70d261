import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface DeadLetterQueueProps {
  /**
   * A FIFO source queue needs a FIFO dead-letter queue: SQS refuses a redrive policy that mixes the two.
   * @default false
   */
  readonly fifo?: boolean;
  /**
   * Where the alarm on this queue reports; the alarm exists either way, so it shows on the console.
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * A dead-letter queue that keeps failed messages for the longest time SQS allows (14 days), so an operator
 * has time to inspect and redrive them, and that raises an alarm as soon as one message lands in it: a
 * message here means an order stopped moving. Encrypted with SQS-managed keys and reachable only over TLS.
 */
export class DeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly alarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: DeadLetterQueueProps = {}) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: props.fifo === true ? true : undefined,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.alarm = this.queue
      .metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
      .createAlarm(this, 'NotEmpty', {
        alarmDescription: `Messages in dead-letter queue ${this.node.path}: inspect, fix, then redrive.`,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    if (props.alarmTopic !== undefined) {
      this.alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
    }
  }
}
