import { z } from 'zod';

export class ConfigurationError extends Error {
  public override readonly name = 'ConfigurationError';
  public readonly code = 'CONFIGURATION_INVALID';
}

const positiveIntegerText = z
  .string()
  .regex(/^[1-9]\d*$/, 'must be a positive whole number')
  .transform(Number);

const environmentSchema = z.object({
  ORDERS_TABLE_NAME: z.string().min(1),
  PAYMENT_TIMEOUT_SECONDS: positiveIntegerText.default(1800),
  IDEMPOTENCY_KEY_TTL_SECONDS: positiveIntegerText.default(24 * 60 * 60),
});

export type FunctionConfig = z.output<typeof environmentSchema>;

/** Reads the function's environment once at cold start; a missing or malformed value fails loudly there. */
export function loadConfig(environment: NodeJS.ProcessEnv): FunctionConfig {
  const result = environmentSchema.safeParse(environment);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigurationError(`invalid function environment: ${problems}`);
  }
  return result.data;
}
