import { z } from 'zod';
import { ValidationError } from '../domain/errors';
import { issuesOf } from '../http/request';

/**
 * What the fulfilment state machine passes its participants (`Parameters` in `state-machines/fulfillment.asl.json`).
 * A task input that does not match is the definition's bug, not a transient fault: it fails with
 * `ValidationError`, which no Retry matches, so the saga goes straight to its compensations.
 */

export const orderIdSchema = z.string().min(1).max(64);

export function parseTaskInput<T>(schema: z.ZodType<T>, event: unknown): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new ValidationError(issuesOf(parsed.error));
  return parsed.data;
}
