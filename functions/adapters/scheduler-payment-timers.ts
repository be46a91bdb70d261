import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { PaymentTimers } from '../domain/ports';

/** What only creating a schedule needs: where it fires and what happens to what it cannot deliver. */
export interface PaymentTimerTarget {
  readonly targetArn: string;
  readonly roleArn: string;
  readonly deadLetterArn: string;
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
}

export interface SchedulerPaymentTimersOptions {
  readonly client: SchedulerClient;
  readonly groupName: string;
  /**
   * Read on the first `schedule` only: cancelling needs the group alone, and the timer's own target
   * (payment-timeout, whose check-back may pay an order and so cancel its timer) cannot hold its own ARN.
   */
  readonly target: () => PaymentTimerTarget;
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
    const { client, groupName } = this.options;
    const { targetArn, roleArn, deadLetterArn, maximumRetryAttempts, maximumEventAgeSeconds } =
      this.options.target();
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
              MaximumRetryAttempts: maximumRetryAttempts,
              MaximumEventAgeInSeconds: maximumEventAgeSeconds,
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
      await deletePaymentTimer(this.options.client, this.options.groupName, orderId);
    } catch (error) {
      this.options.onCancelFailure(orderId, error);
    }
  }
}

/** Deletes an order's payment timer; one already gone (it fired, or was deleted before) is no error. */
async function deletePaymentTimer(
  client: SchedulerClient,
  groupName: string,
  orderId: string,
): Promise<void> {
  try {
    await client.send(
      new DeleteScheduleCommand({ Name: paymentTimeoutScheduleName(orderId), GroupName: groupName }),
    );
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
}
