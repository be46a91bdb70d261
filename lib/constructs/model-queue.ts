import { Duration } from 'aws-cdk-lib';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueDeclaration } from '../model';
import { DeadLetterQueue, HIGH_THROUGHPUT_FIFO_PROPS } from './dead-letter-queue';
import { Runbook } from './runbooks';

export interface ModelQueueProps {
  /** The queue as `lib/model.ts` declares it: FIFO or not, visibility timeout, receives before dead-lettering. */
  readonly declaration: QueueDeclaration;
  /**
   * Where the dead-letter queue's alarm reports.
   * @default - no alarm action
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * An SQS queue with its dead-letter queue, built from its declaration. Always: a dead-letter queue of the same
 * kind (FIFO for FIFO) after `maxReceiveCount` receives, SQS-managed encryption and TLS-only access; FIFO queues in
 * high-throughput mode (`HIGH_THROUGHPUT_FIFO` in `lib/model.ts`). The
 * physical name is left to CloudFormation (it appends `.fifo` for FIFO queues), so several stacks can share
 * an account; whether the declared name carries the `.fifo` suffix makes no difference.
 */
export class ModelQueue extends Construct {
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: DeadLetterQueue;

  public constructor(scope: Construct, id: string, props: ModelQueueProps) {
    super(scope, id);
    const { declaration } = props;
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetter', {
      fifo: declaration.fifo,
      alarmTopic: props.alarmTopic,
      runbook: Runbook.queueDeadLetter,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: declaration.fifo ? true : undefined,
      contentBasedDeduplication: declaration.fifo ? declaration.contentBasedDeduplication : undefined,
      ...(declaration.fifo ? HIGH_THROUGHPUT_FIFO_PROPS : {}),
      visibilityTimeout: Duration.seconds(declaration.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue.queue, maxReceiveCount: declaration.maxReceiveCount },
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }
}
