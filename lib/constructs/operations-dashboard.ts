import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BusinessMetric } from '../business-metrics';
import type { BusinessMetrics } from './business-metrics';
import type { DeadLetterQueue } from './dead-letter-queue';
import type { ModelTimer } from './model-timer';
import { RUNBOOK_FILE } from './runbooks';

export interface OperationsDashboardProps {
  readonly business: BusinessMetrics;
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  readonly httpApi: apigwv2.IHttpApi;
  readonly stateMachines: ReadonlyMap<string, sfn.IStateMachine>;
  readonly timers: ReadonlyMap<string, ModelTimer>;
  readonly deadLetterQueues: readonly DeadLetterQueue[];
  /** Shown in one alarm status widget, in this order. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

const FIVE_MINUTES = Duration.minutes(5);
const SUM = { period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM };
const FULL = 24;
const THIRD = 8;
const HALF = 12;
const GRAPH_HEIGHT = 6;

/**
 * One CloudWatch dashboard for the whole deployment, top to bottom: every alarm's state; the order funnel
 * (created, paid, fulfilled, as totals over the dashboard's time range and over time); cancellations by cause;
 * refunds and what can go wrong with payments and fulfilment; what webhooks did not bring; dead-letter queue
 * depths and saga executions; the HTTP API; the functions; the timers.
 */
export class OperationsDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const { business } = props;
    const stackName = Stack.of(this).stackName;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# ${stackName}\nEvery alarm notifies the alarm topic; each alarm's description names its section ` +
          `of \`${RUNBOOK_FILE}\`. Inspect with \`npm run ops -- dlq list\`, \`sagas stuck\`, \`order <orderId>\`.`,
        width: FULL,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...props.alarms],
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        width: FULL,
        height: GRAPH_HEIGHT,
      }),
    );

    const funnel = [
      BusinessMetric.ORDERS_CREATED,
      BusinessMetric.ORDERS_PAID,
      BusinessMetric.ORDERS_FULFILLED,
    ];
    this.dashboard.addWidgets(
      new cloudwatch.SingleValueWidget({
        title: 'Order funnel over the time range',
        metrics: funnel.map((name) => business.metric(name)),
        setPeriodToTimeRange: true,
        width: HALF,
        height: GRAPH_HEIGHT,
      }),
      graph(
        'Order funnel',
        funnel.map((name) => business.metric(name)),
        HALF,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Cancellations by cause',
        [
          business.metric(BusinessMetric.ORDERS_CANCELLED_BY_CUSTOMER, { label: 'by the customer' }),
          business.metric(BusinessMetric.ORDERS_CANCELLED_BY_TIMEOUT, { label: 'by the payment timer' }),
          business.metric(BusinessMetric.ORDERS_CANCELLED_BY_SWEEPER, {
            label: 'by the sweeper (missed timers)',
          }),
          business.metric(BusinessMetric.OVERDUE_ORDERS_LEASED, {
            label: 'overdue orders the sweeper leased',
          }),
        ],
        THIRD,
        true,
      ),
      graph(
        'Refunds',
        [
          business.metric(BusinessMetric.REFUNDS_REQUESTED),
          business.metric(BusinessMetric.PAYMENTS_REFUNDED),
          business.metric(BusinessMetric.REFUNDS_STUCK_PENDING, {
            statistic: cloudwatch.Stats.MAXIMUM,
            label: 'RefundsStuckPending (max)',
          }),
        ],
        THIRD,
      ),
      graph(
        'Fulfilment failed, timers not scheduled, unmatched payment events',
        [
          business.metric(BusinessMetric.ORDERS_FULFILLMENT_FAILED),
          business.metric(BusinessMetric.PAYMENT_TIMER_SCHEDULE_FAILED),
          business.metric(BusinessMetric.UNMATCHED_PAYMENT_EVENTS),
        ],
        THIRD,
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Payments no webhook brought',
        [
          business.metric(BusinessMetric.PAYMENTS_RECONCILED, {
            label: 'applied by the check-back or the reconciler',
          }),
          business.metric(BusinessMetric.ORDERS_HELD_FOR_PROCESSING, {
            label: 'overdue orders held while their payment is processing',
          }),
        ],
        HALF,
      ),
      graph(
        'Check-back failures (per minute)',
        [
          business.metric(BusinessMetric.CHECK_BACK_FAILURES, {
            period: Duration.minutes(1),
            label: 'overdue orders the provider could not be asked about',
          }),
        ],
        HALF,
      ),
    );

    const machines = [...props.stateMachines];
    this.dashboard.addWidgets(
      graph(
        'Dead-letter queue depths (max)',
        props.deadLetterQueues.map((dlq) =>
          dlq.queue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(1),
            statistic: cloudwatch.Stats.MAXIMUM,
            label: dlq.node.path.split('/').slice(1).join('/'),
          }),
        ),
        HALF,
      ),
      graph(
        'Saga executions',
        machines.flatMap(([name, machine]) => [
          machine.metricStarted({ ...SUM, label: `${name} started` }),
          machine.metricSucceeded({ ...SUM, label: `${name} succeeded` }),
          machine.metricFailed({ ...SUM, label: `${name} failed` }),
          machine.metricTimedOut({ ...SUM, label: `${name} timed out` }),
          machine.metricAborted({ ...SUM, label: `${name} aborted` }),
        ]),
        HALF,
      ),
    );

    const api = props.httpApi;
    this.dashboard.addWidgets(
      graph(
        'API requests',
        [
          api.metricCount({ ...SUM, label: 'requests' }),
          api.metricClientError({ ...SUM, label: '4xx' }),
          api.metricServerError({ ...SUM, label: '5xx' }),
        ],
        HALF,
      ),
      graph(
        'API latency',
        [
          api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(50), label: 'p50' }),
          api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99), label: 'p99' }),
          api.metricIntegrationLatency({
            period: FIVE_MINUTES,
            statistic: cloudwatch.Stats.p(99),
            label: 'integration p99',
          }),
        ],
        HALF,
      ),
    );

    const functions = [...props.functions];
    this.dashboard.addWidgets(
      graph(
        'Function errors',
        functions.map(([name, fn]) => fn.metricErrors({ ...SUM, label: name })),
        THIRD,
      ),
      graph(
        'Function throttles',
        functions.map(([name, fn]) => fn.metricThrottles({ ...SUM, label: name })),
        THIRD,
      ),
      graph(
        'Function duration p99',
        functions.map(([name, fn]) =>
          fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99), label: name }),
        ),
        THIRD,
      ),
    );

    const timers = [...props.timers];
    if (timers.length > 0) {
      this.dashboard.addWidgets(
        graph(
          'Timers',
          timers.flatMap(([name, timer]) => [
            timer.group.metricAttempts({ ...SUM, label: `${name} invocation attempts` }),
            timer.group.metricTargetErrors({ ...SUM, label: `${name} target errors` }),
            timer.group.metricSentToDLQ({ ...SUM, label: `${name} sent to DLQ` }),
            timer.group.metricDropped({ ...SUM, label: `${name} dropped` }),
          ]),
          FULL,
        ),
      );
    }
  }
}

function graph(
  title: string,
  metrics: readonly cloudwatch.IMetric[],
  width: number,
  stacked = false,
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left: [...metrics], width, height: GRAPH_HEIGHT, stacked });
}
