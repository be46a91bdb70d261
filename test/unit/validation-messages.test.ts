import { describe, expect, it } from 'vitest';
import { ConfigurationError, loadConfig } from '../../functions/config';
import { ValidationError } from '../../functions/domain/errors';
import { orderEventSchema } from '../../functions/domain/events';
import { parseWith } from '../../functions/domain/validation';
import { createOrderBody } from '../../functions/http/schemas';
import { SETTING_DEFAULTS } from '../../lib/model';

/**
 * The messages of zod's own checks are part of the API (`errors[].message`). The functions use zod's mini build,
 * which has none until `functions/domain/validation.ts` sets the English locale. This file imports no other zod:
 * the full build would set that locale as a side effect and hide a missing one.
 */
function issuesOf(schema: Parameters<typeof parseWith>[0], value: unknown): unknown {
  try {
    parseWith(schema, value, (issues) => new ValidationError(issues));
  } catch (error) {
    return error instanceof ValidationError ? error.issues : error;
  }
  throw new Error('expected the value to be refused');
}

describe("zod's own messages", () => {
  it('read as the full build wrote them, with the paths the API returns', () => {
    // Act
    const issues = issuesOf(createOrderBody, {
      currency: 'EUR',
      extra: 1,
      customerId: ' ',
      items: [
        { sku: 7, quantity: 0.5, unitPrice: -1 },
        { sku: 'A', quantity: 1e9, unitPrice: 1 },
      ],
    });

    // Assess
    expect(issues).toEqual([
      { path: 'customerId', message: 'Too small: expected string to have >=1 characters' },
      { path: 'items/0/sku', message: 'Invalid input: expected string, received number' },
      { path: 'items/0/quantity', message: 'Invalid input: expected int, received number' },
      { path: 'items/0/unitPrice', message: 'Too small: expected number to be >=1' },
      { path: 'items/1/quantity', message: 'Too big: expected number to be <=999' },
      { path: '', message: 'Unrecognized key: "extra"' },
    ]);
  });

  it('name a missing field, an empty list, a bad date and an unknown event type', () => {
    // Act
    const body = issuesOf(createOrderBody, { items: [] });
    const event = issuesOf(orderEventSchema, {
      type: 'OrderPlaced',
      eventId: 'e',
      orderId: 'o',
      occurredAt: 'yesterday',
      version: 1,
      data: { customerId: 'c', totalAmount: 1, currency: 'EUR', paymentDeadline: '2026-12-07T06:00:00Z' },
    });
    const unknownType = issuesOf(orderEventSchema, { type: 'Nope' });

    // Assess
    expect(body).toEqual([
      { path: 'currency', message: 'Invalid input: expected string, received undefined' },
      { path: 'items', message: 'Too small: expected array to have >=1 items' },
    ]);
    expect(event).toEqual([{ path: 'occurredAt', message: 'Invalid ISO datetime' }]);
    expect(unknownType).toEqual([
      {
        path: 'type',
        message:
          "Invalid discriminator value. Expected 'OrderPlaced' | 'OrderStatusChanged' | 'PaymentSucceeded' | 'PaymentFailed' | 'RefundRequested' | 'PaymentRefunded'",
      },
    ]);
  });

  it('reach the configuration errors, and defaults and conversions still apply', () => {
    // Act
    const refused = (() => {
      try {
        return loadConfig('paymentProvider', {
          PAYMENT_PROVIDER_URL: 'ftp://x/y',
          PAYMENT_METHOD_TYPES: 'card,Bad',
        });
      } catch (error) {
        return error;
      }
    })();
    const read = loadConfig('orders', { ORDERS_TABLE_NAME: 'orders' });

    // Assess
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as Error).message).toBe(
      'invalid function environment (paymentProvider): PAYMENT_PROVIDER_URL: Invalid URL; ' +
        'PAYMENT_PROVIDER_URL: must be an API root such as https://api.stripe.com; ' +
        'PAYMENT_METHOD_TYPES/1: must be payment method types such as card',
    );
    expect(read).toEqual({
      ORDERS_TABLE_NAME: 'orders',
      PAYMENT_TIMEOUT_SECONDS: SETTING_DEFAULTS.PAYMENT_TIMEOUT_SECONDS,
      IDEMPOTENCY_KEY_TTL_SECONDS: SETTING_DEFAULTS.IDEMPOTENCY_KEY_TTL_SECONDS,
    });
  });
});
