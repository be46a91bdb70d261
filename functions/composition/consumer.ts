import { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { SfnFulfillmentSagas } from '../adapters/sfn-fulfillment-sagas';
import { getOrderService, getPaymentProvider, once, tracer } from '../composition-root';
import { ConfigurationError } from '../config';
import { FulfillmentTrigger } from '../domain/fulfillment-trigger';

/**
 * What only the order-events consumer uses, built once per execution environment like everything in the
 * composition root (whose shared parts it reuses). The Step Functions endpoint comes from the SDK's own
 * configuration (`AWS_ENDPOINT_URL_SFN` locally).
 */

const consumerSettings = z.object({
  FULFILLMENT_STATE_MACHINE_ARN: z.string().regex(/^arn:aws[a-z-]*:states:/, 'must be a state machine ARN'),
});

/** Read at first use, so a missing or malformed ARN fails the cold start loudly rather than one message. */
export const consumerConfig = once(() => {
  const result = consumerSettings.safeParse(process.env);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigurationError(`invalid function environment (order-events consumer): ${problems}`);
  }
  return result.data;
});

const sfnClient = once(() => tracer.captureAWSv3Client(new SFNClient({})));

export const getFulfillmentTrigger = once(
  () =>
    new FulfillmentTrigger({
      orders: getOrderService(),
      sagas: new SfnFulfillmentSagas({
        client: sfnClient(),
        stateMachineArn: consumerConfig().FULFILLMENT_STATE_MACHINE_ARN,
      }),
      refunds: getPaymentProvider(),
    }),
);
