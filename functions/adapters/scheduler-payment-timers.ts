import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { PaymentTimers } from '../domain/ports';

export interface SchedulerPaymentTimersOptions {
  readonly client: SchedulerClient;
  readonly groupName: string;
  readonly targetArn: string;
  readonly roleArn: string;
  readonly deadLetterArn: string;
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
  readonly onCancelFailure: (orderId: string, error: unknown) => void;
}

/** At most 64 characters: the prefix and a 26-character ULID fit with room to spare. */
export function paymentTimeoutScheduleName(orderId: string): string {
  return `payment-timeout-${orderId}`;
}

/** `at()` takes whole seconds; rounding up means the timer never fires before the deadline. */
function atExpression(deadline: Date): string {
  const seconds = new Date(Math.ceil(deadline.getTime() / 1000) * 1000);
  return `at(${seconds.toISOString().slice(0, 19)})`;
}

/**
 * One EventBridge Scheduler one-time schedule per order: fires once at the deadline, in UTC, with no flexible
 * window, deletes itself after it fired, retries a bounded number of times, and leaves what it could not
 * deliver in a dead-letter queue.
 */
export class SchedulerPaymentTimers implements PaymentTimers {
  public constructor(private readonly options: SchedulerPaymentTimersOptions) {}

  public async schedule(orderId: string, deadline: Date): Promise<void> {
    const { client, groupName, targetArn, roleArn, deadLetterArn } = this.options;
    try {
      await client.send(
        new CreateScheduleCommand({
          Name: paymentTimeoutScheduleName(orderId),
          GroupName: groupName,
          ScheduleExpression: atExpression(deadline),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: {
            Arn: targetArn,
            RoleArn: roleArn,
            Input: JSON.stringify({ orderId }),
            RetryPolicy: {
              MaximumRetryAttempts: this.options.maximumRetryAttempts,
              MaximumEventAgeInSeconds: this.options.maximumEventAgeSeconds,
            },
            DeadLetterConfig: { Arn: deadLetterArn },
          },
        }),
      );
    } catch (error) {
      // The same order scheduled twice (a retried request): the timer it needs already exists.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  public async cancel(orderId: string): Promise<void> {
    try {
      await this.options.client.send(
        new DeleteScheduleCommand({
          Name: paymentTimeoutScheduleName(orderId),
          GroupName: this.options.groupName,
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) {
        this.options.onCancelFailure(orderId, error);
      }
    }
  }
}
