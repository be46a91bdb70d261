import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';

/**
 * Sends both the alarm and its recovery to `topic`: whoever was paged learns without looking that the DLQ was
 * drained or the errors stopped, and an alarm that flaps shows as such in the channel.
 */
export function notifyOnAlarmAndOk(alarm: cloudwatch.Alarm, topic: sns.ITopic | undefined): void {
  if (topic === undefined) return;
  const action = new cloudwatchActions.SnsAction(topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
}
