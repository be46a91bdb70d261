import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type FulfillmentSagaInput, type FulfillmentSagas, SagaStart } from '../domain/consumer-ports';

export interface SfnFulfillmentSagasOptions {
  readonly client: SFNClient;
  /** The fulfilment state machine (`FULFILLMENT_STATE_MACHINE_ARN`). */
  readonly stateMachineArn: string;
}

/**
 * The execution name of an order's fulfilment saga. Step Functions keeps a Standard workflow's execution names
 * unique per state machine for 90 days, so naming the execution after the order alone is what makes a second
 * start for the same order impossible. Order ids are at most 64 characters; the name limit is 80.
 */
export function fulfillmentExecutionName(orderId: string): string {
  return `fulfillment-${orderId}`;
}

/**
 * {@link FulfillmentSagas} on Step Functions: `StartExecution` named by {@link fulfillmentExecutionName}.
 * `ExecutionAlreadyExists` is the engine telling us the saga was started before, which is success; an identical
 * repeat while the saga runs is answered with success by Step Functions itself.
 */
export class SfnFulfillmentSagas implements FulfillmentSagas {
  public constructor(private readonly options: SfnFulfillmentSagasOptions) {}

  public async start(input: FulfillmentSagaInput): Promise<SagaStart> {
    // Only these fields, in a fixed order: a repeat then sends byte-identical input.
    const document = {
      orderId: input.orderId,
      paymentId: input.paymentId,
      amount: input.amount,
      currency: input.currency,
      items: input.items.map(({ sku, quantity }) => ({ sku, quantity })),
    };
    try {
      await this.options.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.options.stateMachineArn,
          name: fulfillmentExecutionName(input.orderId),
          input: JSON.stringify(document),
        }),
      );
      return SagaStart.STARTED;
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return SagaStart.ALREADY_STARTED;
      throw error;
    }
  }
}
