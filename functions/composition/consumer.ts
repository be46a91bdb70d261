import { SFNClient } from '@aws-sdk/client-sfn';
import { SfnFulfillmentSagas } from '../adapters/sfn-fulfillment-sagas';
import { once, orderRepository, systemClock, tracer } from '../composition-root';
import { loadConfig } from '../config';
import { FulfillmentTrigger } from '../domain/fulfillment-trigger';
import { getPaymentProvider } from './payments';

/**
 * What only the order-events consumer uses, built once per execution environment like everything in the
 * composition root (whose shared parts it reuses). The Step Functions endpoint comes from the SDK's own
 * configuration (`AWS_ENDPOINT_URL_SFN` locally).
 */

/** Read at first use, so a missing or malformed ARN fails the cold start loudly rather than one message. */
export const consumerConfig = once(() => loadConfig('orderEventsConsumer', process.env));

const sfnClient = once(() => tracer.captureAWSv3Client(new SFNClient({})));

export const getFulfillmentTrigger = once(
  () =>
    new FulfillmentTrigger({
      orders: orderRepository(),
      sagas: new SfnFulfillmentSagas({
        client: sfnClient(),
        stateMachineArn: consumerConfig().FULFILLMENT_STATE_MACHINE_ARN,
      }),
      refunds: getPaymentProvider(),
      clock: systemClock,
    }),
);
