import { z } from 'zod';

export class ConfigurationError extends Error {
  public override readonly name = 'ConfigurationError';
  public readonly code = 'CONFIGURATION_INVALID';
}

const positiveInteger = z
  .string()
  .regex(/^[1-9]\d*$/, 'must be a positive whole number')
  .transform(Number);
const wholeNumber = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number);

/**
 * Each part of the configuration is read on its own, so a function is only asked for the variables of the
 * parts it uses (get-order has no timer settings, and must not need them).
 */
export const configSections = {
  orders: z.object({
    ORDERS_TABLE_NAME: z.string().min(1),
    PAYMENT_TIMEOUT_SECONDS: positiveInteger.default(1800),
    IDEMPOTENCY_KEY_TTL_SECONDS: positiveInteger.default(24 * 60 * 60),
  }),
  paymentTimeoutTimer: z.object({
    PAYMENT_TIMEOUT_GROUP_NAME: z.string().min(1),
    PAYMENT_TIMEOUT_TARGET_ARN: z.string().min(1),
    PAYMENT_TIMEOUT_ROLE_ARN: z.string().min(1),
    PAYMENT_TIMEOUT_DEAD_LETTER_ARN: z.string().min(1),
    PAYMENT_TIMEOUT_MAX_RETRIES: wholeNumber,
    PAYMENT_TIMEOUT_MAX_EVENT_AGE_SECONDS: positiveInteger,
  }),
  paymentProvider: z.object({
    PAYMENT_PROVIDER_URL: z.url(),
  }),
  paymentLease: z.object({
    PAYMENT_LEASE_SECONDS: positiveInteger.default(30),
  }),
  sweeper: z.object({
    SWEEPER_MAX_ORDERS_PER_RUN: positiveInteger.default(500),
    /** A refund still REFUND_PENDING after this long is counted as stuck (`RefundsStuckPending`, alarmed). */
    REFUND_STUCK_AFTER_SECONDS: positiveInteger.default(3600),
  }),
} as const;

export type ConfigSection = keyof typeof configSections;

/** Reads one part of the function's environment; a missing or malformed value fails loudly at cold start. */
export function loadConfig<Section extends ConfigSection>(
  section: Section,
  environment: NodeJS.ProcessEnv,
): z.output<(typeof configSections)[Section]> {
  const result = configSections[section].safeParse(environment);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigurationError(`invalid function environment (${section}): ${problems}`);
  }
  return result.data as z.output<(typeof configSections)[Section]>;
}

/**
 * A secret declared in the model: in AWS the function gets `<NAME>_ARN` and reads the value from Secrets
 * Manager; locally it gets `<NAME>` with the value itself. Returns which one this environment has.
 */
export function secretSource(
  name: string,
  environment: NodeJS.ProcessEnv,
): { readonly value: string } | { readonly arn: string } {
  const value = environment[name];
  if (value !== undefined && value !== '') return { value };
  const arn = environment[`${name}_ARN`];
  if (arn !== undefined && arn !== '') return { arn };
  throw new ConfigurationError(`invalid function environment: neither ${name} nor ${name}_ARN is set`);
}
