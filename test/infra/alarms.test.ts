import { readFileSync } from 'node:fs';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BusinessMetric, METRICS_NAMESPACE } from '../../lib/business-metrics';
import {
  API_5XX_MIN_ERRORS,
  API_5XX_RATE_PERCENT,
  CHECK_BACK_FAILING_MINUTES,
  SWEEPER_SILENT_PERIODS,
  WEBHOOKS_LOST_DATAPOINTS,
  WEBHOOKS_LOST_PERIODS,
} from '../../lib/constructs/operations';
import { RUNBOOK_FILE, Runbook } from '../../lib/constructs/runbooks';
import { type AppModel, appModel } from '../../lib/model';
import { fixtureModel } from '../fixtures/cdk/fixture-model';
import { logicalIdOf, type Synthesized, synthesize } from '../support/synth';

const DEFAULT_SERVICE = 'order-backbone';

interface AlarmProperties {
  readonly AlarmDescription?: string;
  readonly Namespace?: string;
  readonly MetricName?: string;
  readonly Dimensions?: readonly { readonly Name: string; readonly Value: unknown }[];
  readonly Statistic?: string;
  readonly Period?: number;
  readonly EvaluationPeriods?: number;
  readonly DatapointsToAlarm?: number;
  readonly Threshold?: number;
  readonly ComparisonOperator?: string;
  readonly TreatMissingData?: string;
  readonly AlarmActions?: readonly unknown[];
  readonly OKActions?: readonly unknown[];
  readonly Metrics?: readonly MetricDataQuery[];
}

interface MetricDataQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly ReturnData?: boolean;
  readonly MetricStat?: {
    readonly Metric: {
      readonly Namespace: string;
      readonly MetricName: string;
      readonly Dimensions: readonly { readonly Name: string; readonly Value: unknown }[];
    };
    readonly Period: number;
    readonly Stat: string;
  };
}

/** Every alarm of the template, by logical id. */
function alarmsOf(template: Template): Map<string, AlarmProperties> {
  return new Map(
    Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, resource]) => [
      id,
      resource.Properties as AlarmProperties,
    ]),
  );
}

function alarmsWhere(template: Template, predicate: (alarm: AlarmProperties) => boolean): AlarmProperties[] {
  return [...alarmsOf(template).values()].filter(predicate);
}

function dimension(alarm: AlarmProperties, name: string): unknown {
  return alarm.Dimensions?.find((candidate) => candidate.Name === name)?.Value;
}

function businessAlarm(template: Template, metricName: string): AlarmProperties {
  const found = alarmsWhere(
    template,
    (alarm) => alarm.Namespace === METRICS_NAMESPACE && alarm.MetricName === metricName,
  );
  expect(found, metricName).toHaveLength(1);
  const [alarm] = found;
  if (alarm === undefined) throw new Error(`no alarm on ${metricName}`);
  return alarm;
}

/** The dead-letter queues a model leads to: one per queue, per timer and per stream trigger. */
function expectedDeadLetterQueues(model: AppModel): number {
  const streamTriggers = model.functions.flatMap((fn) => fn.triggers.filter((t) => t.type === 'stream'));
  return model.queues.length + model.timers.length + streamTriggers.length;
}

/** GitHub's anchors of the headings of a Markdown file: lower case, punctuation dropped, spaces as '-'. */
function headingAnchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map(([, heading = '']) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

interface DashboardWidget {
  readonly type: string;
  readonly properties: {
    readonly title?: string;
    readonly alarms?: readonly string[];
    readonly metrics?: readonly (readonly unknown[])[];
  };
}

/**
 * The dashboard's body as JSON, with each CloudFormation reference written as `ref:<id>` or `getatt:<id>.<attr>`,
 * so the body parses and a test can look for a resource's reference.
 */
function dashboardWidgets(template: Template): DashboardWidget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  expect(dashboards).toHaveLength(1);
  const body: unknown = dashboards[0]?.Properties.DashboardBody;
  const parts: unknown[] =
    typeof body === 'object' && body !== null && 'Fn::Join' in body
      ? ((body['Fn::Join'] as [string, unknown[]])[1] ?? [])
      : [body];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      if (typeof part === 'object' && part !== null && 'Ref' in part) return `ref:${String(part.Ref)}`;
      if (typeof part === 'object' && part !== null && 'Fn::GetAtt' in part) {
        return `getatt:${(part['Fn::GetAtt'] as string[]).join('.')}`;
      }
      throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(part)}`);
    })
    .join('');
  return (JSON.parse(text) as { widgets: DashboardWidget[] }).widgets;
}

const SERVICE_DIMENSION = (service: string) => [{ Name: 'service', Value: service }];

/** An alarm that fires on any count above zero, summed over five minutes; no data is no alarm. */
const ANY_IN_FIVE_MINUTES = {
  Statistic: 'Sum',
  Period: 300,
  EvaluationPeriods: 1,
  Threshold: 0,
  ComparisonOperator: 'GreaterThanThreshold',
  TreatMissingData: 'notBreaching',
} as const;

/** The models whose every dead-letter queue and function the alarm tests check. */
const MODELS: readonly (readonly [string, AppModel])[] = [
  ['lib/model.ts', appModel],
  ['the fixture model', fixtureModel],
];

describe('alarms and dashboard of the stack built from lib/model.ts', () => {
  let real: Synthesized;
  let topic: { Ref: string };
  beforeAll(() => {
    real = synthesize(appModel);
    topic = { Ref: logicalIdOf(real.stack.alarmTopic) };
  });
  /** The stack of `model`, built once for lib/model.ts. */
  const synthesizedOf = (model: AppModel): Synthesized => (model === appModel ? real : synthesize(model));

  it('sends every alarm, and its return to OK, to the alarm topic and nowhere else', () => {
    // Act
    const alarms = [...alarmsOf(real.template)];

    // Assess
    expect(alarms.length).toBeGreaterThan(0);
    for (const [id, alarm] of alarms) {
      expect(alarm.AlarmActions, id).toEqual([topic]);
      expect(alarm.OKActions, id).toEqual([topic]);
    }
  });

  it('chooses for every alarm what missing data means', () => {
    // Act
    const alarms = [...alarmsOf(real.template)];

    // Assess
    for (const [id, alarm] of alarms) {
      expect(['breaching', 'notBreaching'], id).toContain(alarm.TreatMissingData);
    }
  });

  it('names in every alarm description a section of docs/runbooks.md that exists, and uses every section', () => {
    // Prepare
    const anchors = headingAnchors(readFileSync(new URL(`../../${RUNBOOK_FILE}`, import.meta.url), 'utf8'));
    const link = new RegExp(`Runbook: ${RUNBOOK_FILE.replace('.', '\\.')}#([a-z0-9_-]+)$`);

    // Act
    const named = [...alarmsOf(real.template)].map(([id, alarm]) => ({
      id,
      anchor: alarm.AlarmDescription?.match(link)?.[1],
    }));

    // Assess
    for (const { id, anchor } of named) {
      expect(anchor, `${id} names no runbook`).toBeDefined();
      expect(anchors.has(anchor ?? ''), `${id}: no heading for #${anchor} in ${RUNBOOK_FILE}`).toBe(true);
    }
    expect(new Set(named.map(({ anchor }) => anchor))).toEqual(new Set(Object.values(Runbook)));
  });

  it.each(MODELS)(
    'gives every dead-letter queue of %s one alarm: Maximum of visible messages per minute >= 1',
    (_name, model) => {
      // Prepare
      const synthesized = synthesizedOf(model);
      const queues = synthesized.stack.operations.deadLetterQueues;

      // Act
      const alarmsOfQueue = queues.map((dlq) => {
        const queueId = logicalIdOf(dlq.queue);
        return alarmsWhere(synthesized.template, (alarm) =>
          JSON.stringify(dimension(alarm, 'QueueName') ?? null).includes(`"${queueId}"`),
        );
      });

      // Assess
      expect(queues).toHaveLength(expectedDeadLetterQueues(model));
      for (const alarms of alarmsOfQueue) {
        expect(alarms).toEqual([
          expect.objectContaining({
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            Statistic: 'Maximum',
            Period: 60,
            EvaluationPeriods: 1,
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
            TreatMissingData: 'notBreaching',
          }),
        ]);
      }
    },
  );

  it('points each kind of dead-letter queue at its own runbook section', () => {
    // Prepare
    const stack = real.stack;
    const descriptionOf = (construct: IConstruct | undefined) =>
      alarmsOf(real.template).get(logicalIdOf(construct))?.AlarmDescription;
    const streamFailures = stack.operations.deadLetterQueues.find((dlq) =>
      dlq.node.id.startsWith('StreamFailures'),
    );

    // Act
    const queue = descriptionOf(stack.queues.get('order-events.fifo')?.deadLetterQueue.alarm);
    const timer = descriptionOf(stack.timers.get('payment-timeouts')?.deadLetterQueue.alarm);
    const stream = descriptionOf(streamFailures?.alarm);

    // Assess
    expect(queue).toContain(`#${Runbook.queueDeadLetter}`);
    expect(timer).toContain(`#${Runbook.timerDeadLetter}`);
    expect(stream).toContain(`#${Runbook.streamFailures}`);
  });

  it.each(MODELS)(
    'alarms on Errors > 0 and Throttles > 0 of every function of %s, summed over five minutes',
    (_name, model) => {
      // Prepare
      const synthesized = synthesizedOf(model);
      const lambdaAlarms = alarmsWhere(synthesized.template, (alarm) => alarm.Namespace === 'AWS/Lambda');

      // Act
      const byFunction = model.functions.map((declaration) => {
        const functionId = logicalIdOf(synthesized.stack.functions.get(declaration.name));
        return {
          name: declaration.name,
          alarms: lambdaAlarms.filter(
            (alarm) =>
              JSON.stringify(dimension(alarm, 'FunctionName')) === JSON.stringify({ Ref: functionId }),
          ),
        };
      });

      // Assess
      expect(lambdaAlarms).toHaveLength(2 * model.functions.length);
      for (const { name, alarms } of byFunction) {
        expect(alarms.map((alarm) => alarm.MetricName).sort(), name).toEqual(['Errors', 'Throttles']);
        for (const alarm of alarms) {
          expect(alarm, `${name} ${alarm.MetricName}`).toMatchObject(ANY_IN_FIVE_MINUTES);
          expect(alarm.AlarmDescription).toContain(name);
        }
      }
    },
  );

  it.each([
    ['the sweeper cancels an order whose timer never fired', BusinessMetric.ORDERS_CANCELLED_BY_SWEEPER],
    ['an order is created without its payment timer', BusinessMetric.PAYMENT_TIMER_SCHEDULE_FAILED],
  ])('alarms as soon as %s', (_, metric) => {
    // Act
    const alarm = businessAlarm(real.template, metric);

    // Assess
    expect(alarm).toMatchObject({ ...ANY_IN_FIVE_MINUTES, Dimensions: SERVICE_DIMENSION(DEFAULT_SERVICE) });
  });

  it('alarms on refunds stuck in REFUND_PENDING, and on a sweeper that stopped reporting them', () => {
    // Act
    const alarm = businessAlarm(real.template, BusinessMetric.REFUNDS_STUCK_PENDING);

    // Assess
    expect(SWEEPER_SILENT_PERIODS).toBeGreaterThan(1);
    expect(alarm).toMatchObject({
      Dimensions: SERVICE_DIMENSION(DEFAULT_SERVICE),
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: SWEEPER_SILENT_PERIODS,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('alarms that webhooks are being lost when payments no webhook brought are found in 2 of 3 five-minute periods', () => {
    // Act
    const alarm = businessAlarm(real.template, BusinessMetric.PAYMENTS_RECONCILED);

    // Assess
    expect([WEBHOOKS_LOST_DATAPOINTS, WEBHOOKS_LOST_PERIODS]).toEqual([2, 3]);
    expect(alarm).toMatchObject({
      ...ANY_IN_FIVE_MINUTES,
      Dimensions: SERVICE_DIMENSION(DEFAULT_SERVICE),
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    expect(alarm.AlarmDescription).toContain('webhooks are being lost');
    expect(alarm.AlarmDescription).toMatch(new RegExp(`#${Runbook.webhooksLost}$`));
  });

  it('alarms when the check-back has failed in every one-minute period for three minutes, not on one failed run', () => {
    // Act
    const alarm = businessAlarm(real.template, BusinessMetric.CHECK_BACK_FAILURES);

    // Assess
    expect(CHECK_BACK_FAILING_MINUTES).toBe(3);
    expect(alarm).toMatchObject({
      ...ANY_IN_FIVE_MINUTES,
      Dimensions: SERVICE_DIMENSION(DEFAULT_SERVICE),
      Period: 60,
      EvaluationPeriods: 3,
    });
    // Every period of the three must breach: no datapoint count below the evaluation periods.
    expect(alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods).toBe(3);
    expect(alarm.AlarmDescription).toMatch(new RegExp(`#${Runbook.checkBackFailures}$`));
  });

  it('reads the business metrics under the service name the functions publish with', () => {
    // Prepare
    const service = 'shop-eu';

    // Act
    const other = synthesize(appModel, { serviceName: service });
    const business = alarmsWhere(other.template, (alarm) => alarm.Namespace === METRICS_NAMESPACE);

    // Assess
    expect(business).toHaveLength(5);
    for (const alarm of business)
      expect(alarm.Dimensions, alarm.MetricName).toEqual(SERVICE_DIMENSION(service));
    other.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: service } },
    });
  });

  it(`alarms when more than ${API_5XX_RATE_PERCENT}% of API requests in five minutes answer 5xx, from ${API_5XX_MIN_ERRORS} errors on`, () => {
    // Prepare
    const apiRef = { Ref: logicalIdOf(real.stack.httpApi.api) };

    // Act
    const alarms = alarmsWhere(real.template, (alarm) =>
      (alarm.Metrics ?? []).some((query) => query.MetricStat?.Metric.Namespace === 'AWS/ApiGateway'),
    );

    // Assess
    expect(alarms).toHaveLength(1);
    const [alarm] = alarms;
    const queries = new Map((alarm?.Metrics ?? []).map((query) => [query.Id, query]));
    expect(alarm).toMatchObject({
      Threshold: API_5XX_RATE_PERCENT,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(API_5XX_RATE_PERCENT).toBe(1);
    expect(API_5XX_MIN_ERRORS).toBeGreaterThan(1);
    const returned = (alarm?.Metrics ?? []).filter((query) => query.ReturnData !== false);
    expect(returned.map((query) => query.Expression)).toEqual([
      `IF(errors >= ${API_5XX_MIN_ERRORS}, 100 * errors / requests, 0)`,
    ]);
    for (const [id, metricName] of [
      ['errors', '5xx'],
      ['requests', 'Count'],
    ] as const) {
      expect(queries.get(id)?.MetricStat, id).toEqual({
        Metric: {
          Namespace: 'AWS/ApiGateway',
          MetricName: metricName,
          Dimensions: [{ Name: 'ApiId', Value: apiRef }],
        },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });

  it('alarms on timer invocations lost between Scheduler, the target and the dead-letter queue, per timer', () => {
    // Prepare
    const lost = (template: Template) =>
      alarmsWhere(template, (alarm) =>
        (alarm.Metrics ?? []).some((query) => query.MetricStat?.Metric.Namespace === 'AWS/Scheduler'),
      );

    // Act
    const alarms = lost(real.template);

    // Assess
    expect(alarms).toHaveLength(appModel.timers.length);
    expect(lost(synthesize(fixtureModel).template)).toHaveLength(fixtureModel.timers.length);
    for (const declaration of appModel.timers) {
      const groupName = real.stack.timers.get(declaration.name)?.group.scheduleGroupName;
      const targetRef = {
        Ref: logicalIdOf(real.stack.functions.get(declaration.targetFunction)),
      };
      const alarm = alarms.find((candidate) =>
        (candidate.Metrics ?? []).some((query) =>
          query.MetricStat?.Metric.Dimensions.some((d) => d.Value === groupName),
        ),
      );
      const stats = (alarm?.Metrics ?? []).flatMap((query) => (query.MetricStat ? [query.MetricStat] : []));
      expect(alarm, declaration.name).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(
        stats.map(({ Metric }) => [Metric.Namespace, Metric.MetricName, Metric.Dimensions]).sort(),
      ).toEqual(
        [
          ['AWS/Lambda', 'DestinationDeliveryFailures', [{ Name: 'FunctionName', Value: targetRef }]],
          ['AWS/Scheduler', 'InvocationDroppedCount', [{ Name: 'ScheduleGroup', Value: groupName }]],
          [
            'AWS/Scheduler',
            'InvocationsFailedToBeSentToDeadLetterCount',
            [{ Name: 'ScheduleGroup', Value: groupName }],
          ],
        ].sort(),
      );
      for (const stat of stats) expect(stat).toMatchObject({ Period: 300, Stat: 'Sum' });
    }
  });

  it('keeps the saga alarms: failed, timed-out and aborted executions, each from the first one', () => {
    // Act
    const alarms = alarmsWhere(real.template, (alarm) => alarm.Namespace === 'AWS/States');

    // Assess
    expect(alarms).toHaveLength(3 * appModel.stateMachines.length);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('has two alarms per function, one per dead-letter queue, three per state machine, one per timer, six more', () => {
    // Prepare
    const expected =
      2 * appModel.functions.length +
      expectedDeadLetterQueues(appModel) +
      3 * appModel.stateMachines.length +
      appModel.timers.length +
      5 + // sweeper catches, schedule failures, refunds stuck, webhooks lost, check-back failures
      1; // API 5xx rate

    // Act
    const alarms = alarmsOf(real.template);

    // Assess
    expect(alarms.size).toBe(expected);
  });

  describe('the dashboard', () => {
    let widgets: DashboardWidget[];
    beforeAll(() => {
      widgets = dashboardWidgets(real.template);
    });
    const metricsIn = (title: string) =>
      widgets.find((widget) => widget.properties.title === title)?.properties.metrics ?? [];

    it('shows the state of every alarm of the stack', () => {
      // Prepare
      const alarmIds = [...alarmsOf(real.template).keys()];

      // Act
      const shown = widgets
        .filter((widget) => widget.type === 'alarm')
        .flatMap((widget) => widget.properties.alarms ?? []);

      // Assess
      expect(shown.sort()).toEqual(alarmIds.map((id) => `getatt:${id}.Arn`).sort());
    });

    it('shows the order funnel, created to paid to fulfilled, for the service', () => {
      // Act
      const funnel = metricsIn('Order funnel');
      const totals = metricsIn('Order funnel over the time range');

      // Assess
      const expected = [
        BusinessMetric.ORDERS_CREATED,
        BusinessMetric.ORDERS_PAID,
        BusinessMetric.ORDERS_FULFILLED,
      ].map((name) => [METRICS_NAMESPACE, name, 'service', DEFAULT_SERVICE]);
      expect(funnel.map((row) => row.slice(0, 4))).toEqual(expected);
      expect(totals.map((row) => row.slice(0, 4))).toEqual(expected);
    });

    it('charts every business metric of the contract', () => {
      // Act
      const charted = new Set(
        widgets
          .flatMap((widget) => widget.properties.metrics ?? [])
          .filter((row) => row[0] === METRICS_NAMESPACE && row[2] === 'service' && row[3] === DEFAULT_SERVICE)
          .map((row) => row[1]),
      );

      // Assess
      expect(charted).toEqual(new Set(Object.values(BusinessMetric)));
    });

    it('charts every dead-letter queue, saga outcome, API metric and function', () => {
      // Prepare
      const queueIds = real.stack.operations.deadLetterQueues.map((dlq) => logicalIdOf(dlq.queue));
      const functionRefs = [...real.stack.functions.values()].map((fn) => `ref:${logicalIdOf(fn)}`);

      // Act
      const depth = metricsIn('Dead-letter queue depths (max)');
      const sagas = metricsIn('Saga executions');
      const api = [...metricsIn('API requests'), ...metricsIn('API latency')];
      const errors = metricsIn('Function errors');
      const throttles = metricsIn('Function throttles');
      const duration = metricsIn('Function duration p99');

      // Assess
      expect(depth.map((row) => row[3]).sort()).toEqual(
        queueIds.map((id) => `getatt:${id}.QueueName`).sort(),
      );
      expect(sagas.map((row) => row[1])).toEqual([
        'ExecutionsStarted',
        'ExecutionsSucceeded',
        'ExecutionsFailed',
        'ExecutionsTimedOut',
        'ExecutionsAborted',
      ]);
      expect(api.map((row) => row[1])).toEqual([
        'Count',
        '4xx',
        '5xx',
        'Latency',
        'Latency',
        'IntegrationLatency',
      ]);
      for (const [rows, metricName] of [
        [errors, 'Errors'],
        [throttles, 'Throttles'],
        [duration, 'Duration'],
      ] as const) {
        expect(
          rows.map((row) => row[1]),
          metricName,
        ).toEqual(functionRefs.map(() => metricName));
        expect(rows.map((row) => row[3]).sort(), metricName).toEqual([...functionRefs].sort());
      }
    });

    it('is named in the stack outputs', () => {
      // Act
      const outputs = real.template.findOutputs('DashboardName');

      // Assess
      expect(Object.values(outputs)).toEqual([
        expect.objectContaining({ Value: { Ref: logicalIdOf(real.stack.operations.dashboard) } }),
      ]);
    });
  });
});

describe('the alarm email', () => {
  it('subscribes the given address to the alarm topic', () => {
    // Prepare
    const address = 'oncall@shop.example';

    // Act
    const { stack, template } = synthesize(fixtureModel, { alarmEmail: address });

    // Assess
    expect(Object.values(template.findResources('AWS::SNS::Subscription'))).toEqual([
      expect.objectContaining({
        Properties: {
          Protocol: 'email',
          Endpoint: address,
          TopicArn: { Ref: logicalIdOf(stack.alarmTopic) },
        },
      }),
    ]);
  });

  it('subscribes nobody when none is given', () => {
    // Act
    const { template } = synthesize(fixtureModel);

    // Assess
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});
