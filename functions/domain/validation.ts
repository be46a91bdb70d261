import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * The one way to check a value that comes from outside a function (a request body, a queue message, a task
 * input, the environment): the shared wire schemas below, {@link parseWith} and {@link parseJsonWith}, and one
 * issue format. Each caller says which typed error a failure becomes; the issues read the same everywhere.
 */

// zod's mini build (a tenth of the full one in a bundle, decision 52) has no messages of its own until a locale
// is set; English gives the full build's messages, which the API returns in `errors[].message`.
z.config(en());

export interface FieldIssue {
  /** Where the problem is, as a JSON-pointer-like path such as `items/0/quantity`; empty for the value itself. */
  readonly path: string;
  readonly message: string;
}

/** Zod's issues in our format. The paths are part of the API (`errors[].path` of a problem document). */
export function fieldIssues(error: z.core.$ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('/'), message: issue.message }));
}

/** Issues as one line for an error message, e.g. `items/0/quantity: too big; currency: required`. */
export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ');
}

/** `value` as `schema` reads it, or the error `failure` makes of the issues. */
export function parseWith<Schema extends z.core.$ZodType>(
  schema: Schema,
  value: unknown,
  failure: (issues: readonly FieldIssue[], cause: z.core.$ZodError) => Error,
): z.output<Schema> {
  const result = z.safeParse(schema, value);
  if (!result.success) throw failure(fieldIssues(result.error), result.error);
  return result.data;
}

/** Like {@link parseWith} for JSON text; text that is not JSON is one issue at the root. */
export function parseJsonWith<Schema extends z.core.$ZodType>(
  schema: Schema,
  text: string,
  failure: (issues: readonly FieldIssue[], cause: unknown) => Error,
): z.output<Schema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw failure([{ path: '', message: 'the body is not JSON' }], error);
  }
  return parseWith(schema, json, failure);
}

/** The form of the order ids this system issues (a ULID), for ids that arrive from outside it. */
export const ORDER_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export const orderIdSchema = z.string().check(z.regex(ORDER_ID_PATTERN, 'must be an order id (a ULID)'));

/**
 * An order id in a message between our own parts (an event, a task input, a timer's input). Only bounded, as
 * a key must be: the id was checked when it entered the system.
 */
export const ORDER_REFERENCE_MAX_LENGTH = 64;

export const orderReferenceSchema = z.string().check(z.minLength(1), z.maxLength(ORDER_REFERENCE_MAX_LENGTH));

export const currencySchema = z
  .string()
  .check(z.regex(/^[A-Z]{3}$/, 'must be a three-letter ISO 4217 code such as EUR'));

/** An amount of money in minor units. */
export const amountSchema = z.number().check(z.int(), z.gte(0));
