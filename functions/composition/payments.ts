import { randomUUID } from 'node:crypto';
import { PROVIDER_EVENT_RETENTION_SECONDS } from '../../lib/model';
import { DynamoDbLeaseStore } from '../adapters/dynamodb-lease-store';
import { stripeClient } from '../adapters/stripe-client';
import { StripePaymentProvider } from '../adapters/stripe-payment-provider';
import {
  documentClient,
  once,
  onceAsync,
  orderRepository,
  ordersConfig,
  paymentRepository,
  paymentTimers,
  secretValue,
  systemClock,
} from '../composition-root';
import { loadConfig } from '../config';
import { PaymentService } from '../domain/payment-service';
import type { PaymentProvider } from '../domain/ports';

/**
 * What only the functions that take, check or refund payments use: the Stripe client and the payment service,
 * built once per execution environment like everything in the composition root (whose shared parts it reuses).
 * Apart from the root so that the functions that never call Stripe do not bundle its SDK.
 */

/** The webhook signing secret, cached by Powertools Parameters between invocations. */
export function webhookSecret(): Promise<string> {
  return secretValue('PAYMENT_WEBHOOK_SECRET');
}

/** Built once per execution environment, with the secret key read from Secrets Manager in AWS. */
const stripeProvider = onceAsync(async () => {
  const config = loadConfig('paymentProvider', process.env);
  const stripe = stripeClient(config.PAYMENT_PROVIDER_URL, await secretValue('PAYMENT_PROVIDER_API_KEY'));
  return new StripePaymentProvider({ stripe, paymentMethodTypes: config.PAYMENT_METHOD_TYPES });
});

/** Connects on first use, so functions that never call the provider need no provider settings. */
const paymentProvider: PaymentProvider = {
  createIntent: async (intent, key) => (await stripeProvider()).createIntent(intent, key),
  retrieveIntent: async (paymentId) => (await stripeProvider()).retrieveIntent(paymentId),
  cancelIntent: async (paymentId, key) => (await stripeProvider()).cancelIntent(paymentId, key),
  refund: async (payment, key) => (await stripeProvider()).refund(payment, key),
  refundsOf: async (paymentId) => (await stripeProvider()).refundsOf(paymentId),
  undeliveredEvents: async (since, limit) => (await stripeProvider()).undeliveredEvents(since, limit),
};

export function getPaymentProvider(): PaymentProvider {
  return paymentProvider;
}

export const getPaymentService = once(
  () =>
    new PaymentService({
      orders: orderRepository(),
      payments: paymentRepository(),
      leases: new DynamoDbLeaseStore({
        client: documentClient(),
        tableName: ordersConfig().ORDERS_TABLE_NAME,
      }),
      provider: paymentProvider,
      timers: paymentTimers,
      clock: systemClock,
      newLeaseOwner: () => randomUUID(),
      leaseSeconds: loadConfig('paymentLease', process.env).PAYMENT_LEASE_SECONDS,
      eventRetentionSeconds: PROVIDER_EVENT_RETENTION_SECONDS,
      // Defaulted, so the functions that never expire an order build the service without the variable.
      processingGraceSeconds: loadConfig('paymentCheckBack', process.env).PAYMENT_PROCESSING_GRACE_SECONDS,
    }),
);

export function sweeperSettings() {
  return loadConfig('sweeper', process.env);
}

export function reconciliationSettings() {
  return loadConfig('reconciliation', process.env);
}
