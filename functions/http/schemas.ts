import * as z from 'zod/mini';
import { statusEventSchema } from '../domain/logistics';
import { crossItemIssues, ORDER_LIMITS, SKU_PATTERN, SKU_RULE } from '../domain/order';
import { currencySchema } from '../domain/validation';

/**
 * The wire shape of `POST /orders`. Bounds, the SKU pattern and the rules across lines come from the domain so
 * that a caller gets every field's problem in one answer; the domain checks them again for callers that are not
 * HTTP. The customer is the token's subject; `customerId`, when sent, must name that same customer.
 */
export const createOrderBody = z
  .strictObject({
    customerId: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(128))),
    currency: currencySchema,
    items: z
      .array(
        z.strictObject({
          sku: z.string().check(z.trim(), z.regex(SKU_PATTERN, SKU_RULE)),
          quantity: z
            .number()
            .check(z.int(), z.gte(ORDER_LIMITS.minQuantity), z.lte(ORDER_LIMITS.maxQuantity)),
          unitPrice: z
            .number()
            .check(z.int(), z.gte(ORDER_LIMITS.minUnitPrice), z.lte(ORDER_LIMITS.maxUnitPrice)),
        }),
      )
      .check(z.minLength(ORDER_LIMITS.minItems), z.maxLength(ORDER_LIMITS.maxItems)),
  })
  .check(
    z.superRefine((body, context) => {
      for (const issue of crossItemIssues(body.items)) {
        context.addIssue({ code: 'custom', path: issue.path.split('/'), message: issue.message });
      }
    }),
  );

export type CreateOrderBody = z.output<typeof createOrderBody>;

/** Printable ASCII, as the IETF idempotency-key draft and Stripe accept; bounded so it fits in a key. */
export const idempotencyKeyHeader = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(255),
    z.regex(/^[\x21-\x7e]+$/, 'must be 1 to 255 printable ASCII characters'),
  );

/**
 * A logistics provider's status report, as `POST /webhooks/logistics` accepts it: `{eventId, orderId, status,
 * occurredAt}`, nothing else. It is the very shape that travels on `status-events.fifo`, so the webhook and
 * the status consumer cannot disagree on it.
 */
export const logisticsEventBody = statusEventSchema;

export type LogisticsEventBody = z.output<typeof logisticsEventBody>;
