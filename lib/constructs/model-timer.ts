import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { TimerDeclaration, TimerPart } from '../model';
import { DeadLetterQueue } from './dead-letter-queue';
import { Runbook } from './runbooks';

const SCHEDULER_SERVICE = 'scheduler.amazonaws.com';

/** Lambda's limits for asynchronous invocations, which is how Scheduler invokes a function. */
const LAMBDA_ASYNC_MAX_RETRY_ATTEMPTS = 2;
const LAMBDA_ASYNC_EVENT_AGE_SECONDS = { min: 60, max: 21_600 } as const;

export interface ModelTimerProps {
  /** The timer as `lib/model.ts` declares it: group name, target function and retry bounds. */
  readonly declaration: TimerDeclaration;
  /** The declared `targetFunction`, already built. */
  readonly target: lambda.IFunction;
  /**
   * Where the dead-letter queue's alarm reports.
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * What a function needs to create one-time EventBridge Scheduler schedules at run time, all aimed at one function:
 *
 * - a schedule group, named by the CDK from the construct path (the stack's name first) so that several stacks can
 *   share an account and region; functions get the name in their environment for `CreateSchedule`. It is
 *   destroyed with the stack whatever the stack's removal policy: its schedules are derived state that the sweeper
 *   backs up;
 * - a standard dead-letter queue (Scheduler refuses FIFO ones) with the usual 14-day retention and alarm;
 * - the role Scheduler assumes, trusted only by Scheduler for schedules of this group in this account (the
 *   `aws:SourceAccount` and `aws:SourceArn` confused-deputy conditions that Scheduler's documentation recommends),
 *   allowed only to invoke the unqualified target function (the ARN functions are given) and to send to the
 *   dead-letter queue. Scheduler needs no resource policy on the function: the role carries the permission.
 *
 * Scheduler invokes Lambda asynchronously, so its retry policy and dead-letter queue cover only failed deliveries;
 * a handler that throws is retried by Lambda. The target's asynchronous invocation config therefore sends events
 * whose retries are exhausted to the same dead-letter queue, as the local scheduler does.
 */
export class ModelTimer extends Construct {
  public readonly group: scheduler.ScheduleGroup;
  /** The group's physical name, as a reference to the group. */
  public readonly groupName: string;
  public readonly deadLetterQueue: DeadLetterQueue;
  /** The role that schedules in the group name as `Target.RoleArn`. */
  public readonly role: iam.Role;
  public readonly target: lambda.IFunction;
  public readonly declaration: TimerDeclaration;

  public constructor(scope: Construct, id: string, props: ModelTimerProps) {
    super(scope, id);
    const { declaration, target } = props;
    const stack = Stack.of(this);
    this.target = target;
    this.declaration = declaration;

    this.group = new scheduler.ScheduleGroup(this, 'Group', { removalPolicy: RemovalPolicy.DESTROY });
    // The group's Ref is its name: referring to it, not to the name the CDK computed, orders every grant and
    // environment variable that names the group after the group itself.
    this.groupName = (this.group.node.defaultChild as scheduler.CfnScheduleGroup).ref;
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetter', {
      alarmTopic: props.alarmTopic,
      runbook: Runbook.timerDeadLetter,
    });
    this.role = new iam.Role(this, 'SchedulerRole', {
      description: `Assumed by EventBridge Scheduler for schedules of timer ${declaration.name}`,
      assumedBy: new iam.ServicePrincipal(SCHEDULER_SERVICE, {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': this.group.scheduleGroupArn,
          },
        },
      }),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queue.queueArn],
      }),
    );

    target.configureAsyncInvoke({
      retryAttempts: Math.min(declaration.maximumRetryAttempts, LAMBDA_ASYNC_MAX_RETRY_ATTEMPTS),
      maxEventAge: Duration.seconds(
        Math.min(
          Math.max(declaration.maximumEventAgeSeconds, LAMBDA_ASYNC_EVENT_AGE_SECONDS.min),
          LAMBDA_ASYNC_EVENT_AGE_SECONDS.max,
        ),
      ),
      onFailure: new lambdaDestinations.SqsDestination(this.deadLetterQueue.queue),
    });
  }

  /** The value of one part of the timer for a function's environment: a physical name or ARN, or a retry bound. */
  public part(part: TimerPart): string {
    const values: Readonly<Record<TimerPart, string>> = {
      groupName: this.groupName,
      targetArn: this.target.functionArn,
      roleArn: this.role.roleArn,
      deadLetterArn: this.deadLetterQueue.queue.queueArn,
      maximumRetryAttempts: String(this.declaration.maximumRetryAttempts),
      maximumEventAgeSeconds: String(this.declaration.maximumEventAgeSeconds),
    };
    return values[part];
  }

  /** `arn:<partition>:scheduler:<region>:<account>:schedule/<group>/*`: every schedule of the group. */
  public get scheduleArns(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.groupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /**
   * Lets `grantee` create and delete schedules in the group, and pass the role to Scheduler (`CreateSchedule`
   * requires `iam:PassRole` on `Target.RoleArn`). No `GetSchedule`: a create under a deterministic name is made
   * idempotent by its `ConflictException`, and a delete of a schedule that already fired (and deleted itself) by
   * its `ResourceNotFoundException`, so reading a schedule is never needed.
   */
  public grantManage(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
        resources: [this.scheduleArns],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.role.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': SCHEDULER_SERVICE } },
      }),
    );
  }

  /** Lets `grantee` delete schedules in the group, and nothing else: what stopping a timer needs. */
  public grantCancel(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['scheduler:DeleteSchedule'], resources: [this.scheduleArns] }),
    );
  }
}
