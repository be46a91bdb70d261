import { z } from 'zod';
import { validateInput } from '../aws-protocol-server';
import { invalid } from './errors';

const targetShape = z.object({
  Arn: z.string().min(1).max(1600),
  RoleArn: z.string().min(1).max(1600),
  Input: z.string().min(1).max(8192).optional(),
  DeadLetterConfig: z.object({ Arn: z.string().min(1).max(1600).optional() }).optional(),
  RetryPolicy: z
    .object({
      MaximumRetryAttempts: z.number().int().min(0).max(185).optional(),
      MaximumEventAgeInSeconds: z.number().int().min(60).max(86_400).optional(),
    })
    .optional(),
});

export const scheduleShape = z.object({
  ScheduleExpression: z.string().min(1).max(256),
  Target: targetShape,
  FlexibleTimeWindow: z.object({
    Mode: z.enum(['OFF', 'FLEXIBLE']),
    MaximumWindowInMinutes: z.number().int().min(1).max(1440).optional(),
  }),
  GroupName: z.string().min(1).max(64).optional(),
  StartDate: z.number().optional(),
  EndDate: z.number().optional(),
  Description: z.string().max(512).optional(),
  ScheduleExpressionTimezone: z.string().min(1).max(50).optional(),
  State: z.enum(['ENABLED', 'DISABLED']).optional(),
  KmsKeyArn: z.string().max(2048).optional(),
  ClientToken: z.string().min(1).max(64).optional(),
  ActionAfterCompletion: z.enum(['NONE', 'DELETE']).optional(),
});
export type ScheduleRequest = z.infer<typeof scheduleShape>;

export const groupShape = z.object({ ClientToken: z.string().optional() });

export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  return validateInput(schema, body, invalid);
}

/**
 * One page of `sorted` (ordered by `keyOf`) after the caller's `NextToken`; the token is the last key served, so a
 * page stays stable when items before it are deleted.
 */
export function keyPage<T>(
  sorted: readonly T[],
  keyOf: (item: T) => string,
  query: URLSearchParams,
): { items: T[]; nextToken?: string } {
  const token = query.get('NextToken');
  const matching = token === null ? sorted : sorted.filter((item) => keyOf(item) > decodeToken(token));
  const items = matching.slice(0, pageSize(query.get('MaxResults')));
  const last = items.at(-1);
  return {
    items,
    ...(last !== undefined && matching.length > items.length && { nextToken: encodeToken(keyOf(last)) }),
  };
}

function pageSize(maxResults: string | null): number {
  if (maxResults === null) return 100;
  const size = Number(maxResults);
  if (!Number.isInteger(size) || size < 1 || size > 100) {
    throw invalid('MaxResults must be between 1 and 100');
  }
  return size;
}

function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}
