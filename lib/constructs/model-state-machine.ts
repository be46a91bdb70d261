import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../asl-substitutions';
import type { StateMachineDeclaration } from '../model';
import { notifyOnAlarmAndOk } from './alarm-actions';
import { type LogGroupProps, ownLogGroup } from './log-group';
import { Runbook, runbookLink } from './runbooks';

export interface ModelStateMachineProps extends LogGroupProps {
  /** The state machine as `lib/model.ts` declares it: its name and ASL file. */
  readonly declaration: StateMachineDeclaration;
  /** The directory the declaration's `definition` path is relative to. */
  readonly rootDir: string;
  /** Every declared function by its model name; the definition may reference any of them. */
  readonly functions: ReadonlyMap<string, lambda.IFunction>;
  /**
   * The workflow type; see `workflowType` of `OrderBackboneStackProps` for the trade-off. An EXPRESS machine logs
   * every event with its execution data, because its logs are the only record of its executions.
   * @default sfn.StateMachineType.STANDARD
   */
  readonly stateMachineType?: sfn.StateMachineType;
  /**
   * Where the execution alarms report, and their return to OK; the alarms exist either way, so they show on the
   * console.
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * A Step Functions state machine whose definition is the declared Amazon States Language file, read at synth
 * time so the cloud runs the very file the local runtime runs.
 *
 * Function ARNs in the file are written as `${FunctionArn_<name with '-' as '_'>}`, e.g.
 * `"Resource": "${FunctionArn_reserve_stock}"` or `"FunctionName": "${FunctionArn_reserve_stock}"` for the
 * function declared as `reserve-stock` (see `asl-substitutions.ts`). Each placeholder becomes a
 * `DefinitionSubstitutions` entry, and the state machine's role may invoke exactly the functions the file
 * references. A placeholder naming an undeclared function fails synth. X-Ray tracing is on.
 *
 * Logging depends on the workflow type. A STANDARD machine keeps its own execution history (input, output and
 * every state, for 90 days), so its log group takes only errors, without execution data (which holds order
 * details). An EXPRESS machine keeps no history that `DescribeExecution` or `GetExecutionHistory` can return:
 * its log group is the only place a failed saga can be investigated, so it logs every event with execution
 * data, and the group's retention bounds how long those order details are kept.
 *
 * Three alarms report to `alarmTopic` as soon as one execution in a minute fails, times out or is aborted: a saga
 * that stops anywhere but at its end leaves an order half-fulfilled, and no retry brings it back by itself. An
 * abort is usually an operator's doing, but it too skips every compensation after the aborted state.
 */
export class ModelStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly logGroup: logs.LogGroup;
  /** One alarm per way an execution can end unsuccessfully; see the class documentation. */
  public readonly alarms: {
    readonly failed: cloudwatch.Alarm;
    readonly timedOut: cloudwatch.Alarm;
    readonly aborted: cloudwatch.Alarm;
  };
  /** Model names of the functions the definition invokes. */
  public readonly invokedFunctionNames: readonly string[];

  public constructor(scope: Construct, id: string, props: ModelStateMachineProps) {
    super(scope, id);
    const { declaration } = props;
    const file = path.resolve(props.rootDir, declaration.definition);
    const definition = readFileSync(file, 'utf8');
    try {
      JSON.parse(definition);
    } catch (error) {
      throw new Error(`state machine '${declaration.name}': ${file} is not valid JSON`, { cause: error });
    }

    const byKey = new Map(
      [...props.functions].map(([name, fn]) => [functionArnSubstitutionKey(name), { name, fn }]),
    );
    const referenced = functionArnKeysIn(definition).map((key) => {
      const target = byKey.get(key);
      if (target === undefined) {
        throw new Error(
          `state machine '${declaration.name}' references \${${key}}, but no declared function has that key ` +
            `(declared: ${[...byKey.keys()].join(', ') || 'none'})`,
        );
      }
      return { key, ...target };
    });
    this.invokedFunctionNames = referenced.map(({ name }) => name);

    this.logGroup = ownLogGroup(this, 'LogGroup', props);
    const stateMachineType = props.stateMachineType ?? sfn.StateMachineType.STANDARD;
    const express = stateMachineType === sfn.StateMachineType.EXPRESS;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: Object.fromEntries(referenced.map(({ key, fn }) => [key, fn.functionArn])),
      stateMachineType,
      logs: express
        ? { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true }
        : { destination: this.logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });
    for (const { fn } of referenced) fn.grantInvoke(this.stateMachine);

    const machine = this.stateMachine;
    this.alarms = {
      failed: this.executionAlarm('ExecutionsFailed', machine.metricFailed(EVERY_MINUTE), props.alarmTopic),
      timedOut: this.executionAlarm(
        'ExecutionsTimedOut',
        machine.metricTimedOut(EVERY_MINUTE),
        props.alarmTopic,
      ),
      aborted: this.executionAlarm(
        'ExecutionsAborted',
        machine.metricAborted(EVERY_MINUTE),
        props.alarmTopic,
      ),
    };
  }

  private executionAlarm(
    metricName: string,
    metric: cloudwatch.Metric,
    alarmTopic: sns.ITopic | undefined,
  ): cloudwatch.Alarm {
    const alarm = metric.createAlarm(this, metricName, {
      alarmDescription:
        `${metricName} of state machine ${this.node.path}: find the execution with \`npm run ops -- sagas ` +
        `stuck\`, fix the cause, then \`sagas redrive\` it. Runbook: ${runbookLink(Runbook.sagaExecutions)}`,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No executions, no data points: that is not a failure.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    notifyOnAlarmAndOk(alarm, alarmTopic);
    return alarm;
  }
}

/** Step Functions publishes execution metrics every minute; one bad execution should page within one. */
const EVERY_MINUTE: cloudwatch.MetricOptions = { period: Duration.minutes(1), statistic: 'Sum' };
