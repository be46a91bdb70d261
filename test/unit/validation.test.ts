import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../functions/domain/errors';
import {
  currencySchema,
  describeIssues,
  fieldIssues,
  ORDER_REFERENCE_MAX_LENGTH,
  orderIdSchema,
  orderReferenceSchema,
  parseJsonWith,
  parseWith,
} from '../../functions/domain/validation';

const itemsSchema = z.object({ items: z.array(z.object({ quantity: z.number().int().max(9) })) });

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('fieldIssues', () => {
  it('joins a nested path with slashes, as problem documents state it', () => {
    // Prepare
    const result = itemsSchema.safeParse({ items: [{ quantity: 1 }, { quantity: 10 }] });

    // Act
    const issues = result.success ? [] : fieldIssues(result.error);

    // Assess
    expect(issues).toEqual([{ path: 'items/1/quantity', message: expect.any(String) }]);
  });
});

describe('describeIssues', () => {
  it('names the root for an issue without a path and separates issues with semicolons', () => {
    // Prepare
    const issues = [
      { path: '', message: 'the body is not JSON' },
      { path: 'items/0/quantity', message: 'too big' },
    ];

    // Act
    const line = describeIssues(issues);

    // Assess
    expect(line).toBe('(root): the body is not JSON; items/0/quantity: too big');
  });
});

describe('parseWith', () => {
  it('returns the parsed value, or throws the error the caller makes of the issues', () => {
    // Prepare
    const failure = (issues: readonly { path: string; message: string }[]) => new ValidationError(issues);

    // Act
    const parsed = parseWith(itemsSchema, { items: [{ quantity: 3 }] }, failure);
    const refused = thrownBy(() => parseWith(itemsSchema, { items: [{ quantity: 30 }] }, failure));

    // Assess
    expect(parsed).toEqual({ items: [{ quantity: 3 }] });
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).issues.map((issue) => issue.path)).toEqual(['items/0/quantity']);
  });
});

describe('parseJsonWith', () => {
  it('reports text that is not JSON as one issue at the root, and a JSON shape by its fields', () => {
    // Prepare
    const failure = (issues: readonly { path: string; message: string }[]) => new ValidationError(issues);

    // Act
    const notJson = thrownBy(() => parseJsonWith(itemsSchema, '{"items": [', failure));
    const badShape = thrownBy(() => parseJsonWith(itemsSchema, '{"items": [{"quantity": 1.5}]}', failure));

    // Assess
    expect((notJson as ValidationError).issues).toEqual([{ path: '', message: 'the body is not JSON' }]);
    expect((badShape as ValidationError).issues.map((issue) => issue.path)).toEqual(['items/0/quantity']);
  });
});

describe('shared wire schemas', () => {
  it('accepts an issued order id (a ULID) and nothing else as an id from outside', () => {
    // Prepare
    const issued = '01KB6Z3M0Q5G8N2V7W4X9Y1ZAB';

    // Act
    const accepted = orderIdSchema.safeParse(issued).success;
    const refused = [issued.toLowerCase(), issued.slice(1), `${issued}0`, 'ORDER-1'].filter(
      (candidate) => orderIdSchema.safeParse(candidate).success,
    );

    // Assess
    expect(accepted).toBe(true);
    expect(refused).toEqual([]);
  });

  it('bounds an order reference between our own parts without checking its form', () => {
    // Prepare
    const longest = 'A'.repeat(ORDER_REFERENCE_MAX_LENGTH);

    // Act
    const results = ['o-1', longest, '', `${longest}A`].map(
      (candidate) => orderReferenceSchema.safeParse(candidate).success,
    );

    // Assess
    expect(results).toEqual([true, true, false, false]);
  });

  it('takes a currency as three upper-case letters', () => {
    // Prepare
    const candidates = ['EUR', 'eur', 'EURO', 'EU'];

    // Act
    const results = candidates.map((candidate) => currencySchema.safeParse(candidate).success);

    // Assess
    expect(results).toEqual([true, false, false, false]);
  });
});
