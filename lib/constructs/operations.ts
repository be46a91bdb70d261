import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BusinessMetric } from '../business-metrics';
import { pascalCase } from '../naming';
import { notifyOnAlarmAndOk } from './alarm-actions';
import { BusinessMetrics } from './business-metrics';
import { DeadLetterQueue } from './dead-letter-queue';
import type { ModelTimer } from './model-timer';
import { OperationsDashboard } from './operations-dashboard';
import { Runbook, runbookLink } from './runbooks';

/**
 * API 5xx alarm: more than this share of requests, in percent, failed with a server error in one period...
 */
export const API_5XX_RATE_PERCENT = 1;
/**
 * ...and at least this many did. One failed request out of two at night is a 50 % rate but no outage; three
 * server errors in five minutes are worth a look whatever the traffic.
 */
export const API_5XX_MIN_ERRORS = 3;
/**
 * Sweeper silence that counts as an outage: `RefundsStuckPending` arrives once a minute from every sweeper run,
 * so this many five-minute periods without a data point mean the sweeper has stopped.
 */
export const SWEEPER_SILENT_PERIODS = 3;
/**
 * Lost webhooks: payments the check-back or the reconciler applied in this many of the last
 * {@link WEBHOOKS_LOST_PERIODS} five-minute periods. One find alone is expected now and then: a customer who pays
 * in the last seconds before the deadline is found by the check-back while the webhook is still on its way, and
 * a webhook the provider is still retrying is found by a reconciliation pass. Finds in period after period mean
 * webhooks are not arriving.
 */
export const WEBHOOKS_LOST_DATAPOINTS = 2;
export const WEBHOOKS_LOST_PERIODS = 3;
/**
 * Check-back failing: the sweeper could not ask the provider in this many one-minute runs in a row. One failed
 * run is a blip the next run retries; minutes of them mean the provider is unreachable (or refuses our key), and
 * overdue orders are not being cancelled.
 */
export const CHECK_BACK_FAILING_MINUTES = 3;

const FIVE_MINUTES = Duration.minutes(5);

export interface OperationsProps {
  /** Receives every alarm and every return to OK. */
  readonly alarmTopic: sns.ITopic;
  /** The functions' `POWERTOOLS_SERVICE_NAME`, the `service` dimension of their business metrics. */
  readonly serviceName: string;
  /** Every declared function by its model name; each gets an errors and a throttles alarm. */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /** The HTTP API whose server error rate is alarmed. */
  readonly httpApi: apigwv2.IHttpApi;
  /** Every state machine by its model name (their execution alarms are their own; the dashboard shows them). */
  readonly stateMachines: ReadonlyMap<string, sfn.IStateMachine>;
  /** Every declared timer by its model name; each gets an alarm on invocations lost on the way to its target. */
  readonly timers: ReadonlyMap<string, ModelTimer>;
  /**
   * An email address subscribed to the alarm topic (AWS asks the address to confirm first).
   * @default - no subscription; subscribe the on-call channel to the topic yourself
   */
  readonly alarmEmail?: string;
}

/**
 * The operator's view of one deployment: alarms on everything that means an order stopped moving or money is
 * stuck, all reporting (and recovering) to the alarm topic, and one dashboard with the order funnel, every alarm
 * and the health of each part. Built last, from what the stack built: a function, timer or dead-letter queue
 * added to the model is alarmed and charted without touching this construct.
 *
 * Besides the alarms that dead-letter queues and state machines bring themselves (see {@link DeadLetterQueue}
 * and `ModelStateMachine`), it creates:
 *
 * - per function, `Errors` > 0 and `Throttles` > 0 (Sum over five minutes);
 * - `OrdersCancelledBySweeper` > 0: a payment timer that never fired;
 * - `PaymentTimerScheduleFailed` > 0: an order created without its payment timer;
 * - per timer, invocations lost between Scheduler and the target: Scheduler dropped them or could not put them in
 *   the dead-letter queue, or Lambda could not put a failed one there;
 * - `RefundsStuckPending` Maximum > 0, with missing data breaching: a refund waiting too long, or a silent sweeper;
 * - `PaymentsReconciled` > 0 in 2 of 3 five-minute periods: webhooks are being lost;
 * - `CheckBackFailures` > 0 in 3 one-minute periods running: the provider cannot be asked before a cancellation;
 * - the HTTP API's server error rate.
 *
 * Each alarm's description names its section of `docs/runbooks.md`, and each chooses on purpose what a period
 * without data means.
 */
export class Operations extends Construct {
  public readonly functionErrorAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  public readonly functionThrottleAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  public readonly timerInvocationsLostAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  public readonly sweeperCatchesAlarm: cloudwatch.Alarm;
  public readonly scheduleFailuresAlarm: cloudwatch.Alarm;
  public readonly refundsStuckAlarm: cloudwatch.Alarm;
  public readonly webhooksLostAlarm: cloudwatch.Alarm;
  public readonly checkBackFailuresAlarm: cloudwatch.Alarm;
  public readonly api5xxRateAlarm: cloudwatch.Alarm;
  /** Every dead-letter queue of the stack, found in its construct tree. */
  public readonly deadLetterQueues: readonly DeadLetterQueue[];
  public readonly dashboard: cloudwatch.Dashboard;

  private readonly alarmTopic: sns.ITopic;

  public constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.alarmTopic = props.alarmTopic;
    if (props.alarmEmail !== undefined) {
      props.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const business = new BusinessMetrics(props.serviceName);
    const stack = Stack.of(this);

    this.functionErrorAlarms = this.perFunction(props.functions, 'Errors', (fn) =>
      fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
    );
    this.functionThrottleAlarms = this.perFunction(props.functions, 'Throttles', (fn) =>
      fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
    );
    this.timerInvocationsLostAlarms = new Map(
      [...props.timers].map(([name, timer]) => [name, this.timerInvocationsLost(name, timer)]),
    );
    this.sweeperCatchesAlarm = this.alarm('SweeperCatches', {
      metric: business.metric(BusinessMetric.ORDERS_CANCELLED_BY_SWEEPER),
      description: 'The sweeper cancelled overdue orders whose payment timer never fired.',
      runbook: Runbook.sweeperCatches,
      // The sweeper reports every run; a silent sweeper is the refunds-stuck alarm's business.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.scheduleFailuresAlarm = this.alarm('PaymentTimerScheduleFailures', {
      metric: business.metric(BusinessMetric.PAYMENT_TIMER_SCHEDULE_FAILED),
      description: 'create-order could not create the payment timeout schedule of an order.',
      runbook: Runbook.scheduleCreation,
      // Published only when a schedule fails: no data, no failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.refundsStuckAlarm = this.alarm('RefundsStuckPending', {
      metric: business.metric(BusinessMetric.REFUNDS_STUCK_PENDING, { statistic: cloudwatch.Stats.MAXIMUM }),
      description:
        'Payments in REFUND_PENDING longer than REFUND_STUCK_AFTER_SECONDS, or no report from the sweeper for ' +
        `${SWEEPER_SILENT_PERIODS * 5} minutes.`,
      runbook: Runbook.refundsStuck,
      evaluationPeriods: SWEEPER_SILENT_PERIODS,
      // The sweeper reports every minute, stuck refunds or not; silence means it stopped, and with it the
      // cancelling of overdue orders and the counting of stuck refunds.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.webhooksLostAlarm = this.alarm('PaymentWebhooksLost', {
      metric: business.metric(BusinessMetric.PAYMENTS_RECONCILED),
      description:
        'The check-back or the reconciler applied payment facts that no webhook brought, in ' +
        `${WEBHOOKS_LOST_DATAPOINTS} of the last ${WEBHOOKS_LOST_PERIODS} five-minute periods: webhooks are being lost.`,
      runbook: Runbook.webhooksLost,
      evaluationPeriods: WEBHOOKS_LOST_PERIODS,
      datapointsToAlarm: WEBHOOKS_LOST_DATAPOINTS,
      // The reconciler reports every pass, 0 included; a silent reconciler is its errors alarm's business.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.checkBackFailuresAlarm = this.alarm('CheckBackFailures', {
      metric: business.metric(BusinessMetric.CHECK_BACK_FAILURES, { period: Duration.minutes(1) }),
      description:
        `The sweeper could not ask the payment provider about overdue orders for ${CHECK_BACK_FAILING_MINUTES} ` +
        'minutes running: they are not being cancelled.',
      runbook: Runbook.checkBackFailures,
      evaluationPeriods: CHECK_BACK_FAILING_MINUTES,
      // The sweeper reports every run, 0 included; a silent sweeper is the refunds-stuck alarm's business.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.api5xxRateAlarm = this.alarm('Api5xxRate', {
      metric: new cloudwatch.MathExpression({
        expression: `IF(errors >= ${API_5XX_MIN_ERRORS}, 100 * errors / requests, 0)`,
        usingMetrics: {
          errors: props.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
          requests: props.httpApi.metricCount({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
        },
        label: `5xx % of requests (0 below ${API_5XX_MIN_ERRORS} errors)`,
        period: FIVE_MINUTES,
      }),
      description:
        `More than ${API_5XX_RATE_PERCENT}% of HTTP API requests in five minutes answered 5xx ` +
        `(at least ${API_5XX_MIN_ERRORS} of them).`,
      runbook: Runbook.api5xx,
      threshold: API_5XX_RATE_PERCENT,
      // No requests, no server errors.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.deadLetterQueues = stack.node.findAll().filter((node) => node instanceof DeadLetterQueue);
    this.dashboard = new OperationsDashboard(this, 'Dashboard', {
      business,
      functions: props.functions,
      httpApi: props.httpApi,
      stateMachines: props.stateMachines,
      timers: props.timers,
      deadLetterQueues: this.deadLetterQueues,
      // Every alarm of the stack, those of the dead-letter queues and state machines included.
      alarms: stack.node.findAll().filter((node) => node instanceof cloudwatch.Alarm),
    }).dashboard;
  }

  private perFunction(
    functions: ReadonlyMap<string, lambda.IFunction>,
    metricName: 'Errors' | 'Throttles',
    metricOf: (fn: lambda.IFunction) => cloudwatch.IMetric,
  ): ReadonlyMap<string, cloudwatch.Alarm> {
    const runbook = metricName === 'Errors' ? Runbook.functionErrors : Runbook.functionThrottles;
    return new Map(
      [...functions].map(([name, fn]) => [
        name,
        this.alarm(`${pascalCase(name)}${metricName}`, {
          metric: metricOf(fn),
          description:
            metricName === 'Errors'
              ? `Function ${name} failed an invocation (an exception, a timeout or running out of memory).`
              : `Function ${name} was throttled: an invocation found no concurrency left.`,
          runbook,
          // Lambda reports only for periods with invocations: none, no errors.
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ]),
    );
  }

  private timerInvocationsLost(name: string, timer: ModelTimer): cloudwatch.Alarm {
    const sum = { period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM };
    return this.alarm(`${pascalCase(name)}TimerInvocationsLost`, {
      metric: new cloudwatch.MathExpression({
        // FILL: each metric is published only when it counts something, and a sum with a missing term is missing.
        expression: 'FILL(dropped, 0) + FILL(notDeadLettered, 0) + FILL(notDestined, 0)',
        usingMetrics: {
          dropped: timer.group.metricDropped(sum),
          notDeadLettered: timer.group.metricFailedToBeSentToDLQ(undefined, sum),
          notDestined: timer.target.metric('DestinationDeliveryFailures', sum),
        },
        label: `${name}: invocations lost`,
        period: FIVE_MINUTES,
      }),
      description:
        `Invocations of timer ${name} were lost: dropped by Scheduler, or neither delivered to ` +
        `${timer.declaration.targetFunction} nor put in the timer's dead-letter queue.`,
      runbook: Runbook.timerDeliveries,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * An alarm on `metric > threshold` (default 0) in `datapointsToAlarm` (default: all) of the last
   * `evaluationPeriods` (default 1) periods.
   */
  private alarm(
    id: string,
    options: {
      readonly metric: cloudwatch.IMetric;
      readonly description: string;
      readonly runbook: Runbook;
      readonly treatMissingData: cloudwatch.TreatMissingData;
      readonly threshold?: number;
      readonly evaluationPeriods?: number;
      readonly datapointsToAlarm?: number;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: options.metric,
      alarmDescription: `${options.description} Runbook: ${runbookLink(options.runbook)}`,
      threshold: options.threshold ?? 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      ...(options.datapointsToAlarm === undefined ? {} : { datapointsToAlarm: options.datapointsToAlarm }),
      treatMissingData: options.treatMissingData,
    });
    notifyOnAlarmAndOk(alarm, this.alarmTopic);
    return alarm;
  }
}
