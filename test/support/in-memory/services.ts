import { OrderService } from '../../../functions/domain/order-service';
import { PaymentService, type PaymentServiceDependencies } from '../../../functions/domain/payment-service';
import { ManualClock, orderIds } from '../payment-window';
import { InMemoryPaymentProvider, RecordingTimers } from './outside';
import { inMemoryStores } from './table';

/** The instant the service tests' clocks start at. */
export const T0 = new Date('2026-12-01T09:00:00.000Z');

/**
 * What every service test starts from: a manual clock at {@link T0}, the in-memory stores on it, recording timers,
 * and an OrderService over them whose order ids are `<idPrefix>000…`, with a 900 s payment window and an hour of
 * idempotency memory unless a test needs other values.
 */
export function inMemoryOrderService(
  idPrefix: string,
  options: { readonly paymentTimeoutSeconds?: number; readonly idempotencyKeyTtlSeconds?: number } = {},
) {
  const clock = new ManualClock(T0);
  const stores = inMemoryStores(() => clock.now());
  const timers = new RecordingTimers();
  const orders = new OrderService({
    repository: stores.orders,
    timers,
    clock,
    ids: { newOrderId: orderIds(idPrefix) },
    paymentTimeoutSeconds: options.paymentTimeoutSeconds ?? 900,
    idempotencyKeyTtlSeconds: options.idempotencyKeyTtlSeconds ?? 3600,
  });
  return { clock, stores, timers, orders };
}

/** The payment settings of the service tests: a 30 s lease, a week of provider event ids, 600 s of grace. */
export const PAYMENT_TEST_SETTINGS = {
  leaseSeconds: 30,
  eventRetentionSeconds: 7 * 24 * 60 * 60,
  processingGraceSeconds: 600,
} as const;

/**
 * A PaymentService over the stores, timers and clock of {@link inMemoryOrderService}, with an in-memory Stripe-like
 * provider (given, or one on the same clock), lease owners `owner-1`, `owner-2`, ... and
 * {@link PAYMENT_TEST_SETTINGS}; `overrides` replace any dependency.
 */
export function inMemoryPaymentService(
  base: ReturnType<typeof inMemoryOrderService>,
  overrides: Partial<PaymentServiceDependencies> & { readonly provider?: InMemoryPaymentProvider } = {},
) {
  const { clock, stores, timers } = base;
  const provider = overrides.provider ?? new InMemoryPaymentProvider({ now: () => clock.now() });
  let owners = 0;
  const payments = new PaymentService({
    orders: stores.orders,
    payments: stores.payments,
    leases: stores.leases,
    timers,
    clock,
    newLeaseOwner: () => `owner-${++owners}`,
    ...PAYMENT_TEST_SETTINGS,
    ...overrides,
    provider,
  });
  return { payments, provider };
}
