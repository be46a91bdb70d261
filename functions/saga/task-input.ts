import type * as z from 'zod/mini';
import { ValidationError } from '../domain/errors';
import { parseWith } from '../domain/validation';

/**
 * What the fulfilment state machine passes its participants (`Parameters` in `state-machines/fulfillment.asl.json`).
 * A task input that does not match is the definition's bug, not a transient fault: it fails with
 * `ValidationError`, which no Retry matches, so the saga goes straight to its compensations.
 */
export function parseTaskInput<Schema extends z.core.$ZodType>(
  schema: Schema,
  event: unknown,
): z.output<Schema> {
  return parseWith(schema, event, (issues) => new ValidationError(issues));
}
