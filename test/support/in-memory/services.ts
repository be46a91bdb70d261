import { OrderService } from '../../../functions/domain/order-service';
import { ManualClock, orderIds } from '../payment-window';
import { RecordingTimers } from './outside';
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
