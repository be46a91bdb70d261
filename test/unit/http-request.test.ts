import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/config';
import {
  ConcurrentModificationError,
  ErrorCode,
  OrderNotFoundError,
  ValidationError,
} from '../../functions/domain/errors';
import {
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
} from '../../functions/domain/ports';
import { LedgerContentionError } from '../../functions/domain/saga-ledger';
import { InvalidSignatureError } from '../../functions/domain/webhook-signature';
import {
  MalformedJsonError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../functions/http/errors';
import { PROBLEM_STATUS, toProblem } from '../../functions/http/problem-details';
import { MAX_BODY_BYTES, orderIdParameter, parseJsonBody } from '../../functions/http/request';
import { createOrderBody } from '../../functions/http/schemas';
import { httpEvent } from '../support/http-events';

const validBody = {
  customerId: 'c-1',
  currency: 'EUR',
  items: [{ sku: 'MUG', quantity: 1, unitPrice: 100 }],
};

function post(body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return httpEvent({ method: 'POST', path: '/orders', routeKey: 'POST /orders', body, headers });
}

describe('parseJsonBody', () => {
  it('returns the validated body', () => {
    expect(parseJsonBody(post(JSON.stringify(validBody)), createOrderBody)).toEqual(validBody);
  });

  it('accepts a charset parameter and a base64 body', () => {
    const event = {
      ...post(Buffer.from(JSON.stringify(validBody)).toString('base64'), {
        'content-type': 'application/json; charset=UTF-8',
      }),
      isBase64Encoded: true,
    };

    expect(parseJsonBody(event, createOrderBody)).toEqual(validBody);
  });

  it('refuses a body over 16 KiB before reading it, even with a wrong content type', () => {
    const event = post('x'.repeat(MAX_BODY_BYTES + 1), { 'content-type': 'text/plain' });

    expect(() => parseJsonBody(event, createOrderBody)).toThrow(PayloadTooLargeError);
  });

  it('accepts a body of exactly 16 KiB as far as size goes', () => {
    const padded = JSON.stringify(validBody).padEnd(MAX_BODY_BYTES, ' ');

    expect(parseJsonBody(post(padded), createOrderBody)).toEqual(validBody);
  });

  it.each([undefined, 'text/plain', 'application/xml', 'application/json; charset=latin1'])(
    'refuses content type %s with 415',
    (contentType) => {
      const event = post(
        JSON.stringify(validBody),
        contentType === undefined ? {} : { 'content-type': contentType },
      );

      expect(() => parseJsonBody(event, createOrderBody)).toThrow(UnsupportedMediaTypeError);
    },
  );

  it('refuses malformed JSON and bytes that are not UTF-8', () => {
    expect(() => parseJsonBody(post('{"customerId": '), createOrderBody)).toThrow(MalformedJsonError);
    const latin1 = { ...post(Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')), isBase64Encoded: true };
    expect(() => parseJsonBody(latin1, createOrderBody)).toThrow(MalformedJsonError);
  });

  it('reports unknown fields and wrong types as validation failures with paths', () => {
    const body = { ...validBody, items: [{ sku: 'A', quantity: '1', unitPrice: 1 }], extra: true };

    try {
      parseJsonBody(post(JSON.stringify(body)), createOrderBody);
      expect.unreachable('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const paths = (error as ValidationError).issues.map((issue) => issue.path);
      expect(paths).toContain('items/0/quantity');
      expect(paths).toContain('');
    }
  });
});

describe('orderIdParameter', () => {
  it('treats an id that is not a ULID as an unknown order', () => {
    const event = httpEvent({
      method: 'GET',
      path: '/orders/nope',
      routeKey: 'GET /orders/{orderId}',
      pathParameters: { orderId: 'nope' },
    });

    expect(() => orderIdParameter(event)).toThrow(OrderNotFoundError);
  });
});

describe('toProblem', () => {
  it('maps each error to its status and stable code', () => {
    expect(toProblem(new ValidationError([{ path: 'x', message: 'bad' }]))).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      errors: [{ path: 'x', message: 'bad' }],
    });
    expect(toProblem(new OrderNotFoundError('A'))).toMatchObject({ status: 404, code: 'ORDER_NOT_FOUND' });
    expect(toProblem(new ConcurrentModificationError('A'))).toMatchObject({ status: 409 });
    expect(toProblem(new UnsupportedMediaTypeError('text/plain'))).toMatchObject({ status: 415 });
  });

  it('answers a provider failure with 503 when a retry may work, else 502, and none of its message', () => {
    // Prepare
    const failures = [
      new PaymentProviderUnavailableError('payment provider at 10.0.0.7 timed out', 504),
      new PaymentProviderRejectedError(401, 'unauthorized', 'payment provider key sk_live_123 refused'),
      new PaymentProviderInvalidResponseError('payment provider answered {"secret":1}'),
    ];

    // Act
    const problems = failures.map(toProblem);

    // Assess
    expect(problems.map((problem) => [problem.status, problem.code])).toEqual([
      [503, 'PAYMENT_PROVIDER_UNAVAILABLE'],
      [502, 'PAYMENT_PROVIDER_REJECTED'],
      [502, 'PAYMENT_PROVIDER_INVALID_RESPONSE'],
    ]);
    for (const problem of problems) {
      expect(problem.detail).toBe('the payment provider could not be reached; retry');
    }
  });

  it('answers a bad signature with 401 naming the header, not what failed', () => {
    // Prepare
    const error = new InvalidSignatureError('mismatch', 'Payment-Signature');

    // Act
    const problem = toProblem(error);

    // Assess
    expect(problem).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
    expect(problem.detail).toBe('the request is not signed with a valid Payment-Signature');
  });

  it('answers our own faults, whatever their code, as an INTERNAL_ERROR that reveals nothing', () => {
    // Prepare
    const faults = [
      new ConfigurationError('invalid function environment (orders): ORDERS_TABLE_NAME secret-table'),
      new LedgerContentionError({ orderId: 'secret-order', step: 'warehouse' }),
    ];

    // Act
    const problems = faults.map(toProblem);

    // Assess
    for (const problem of problems) {
      expect(problem).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
      expect(JSON.stringify(problem)).not.toContain('secret');
    }
  });

  it('has a status for every code of the catalogue, and only for those', () => {
    // Prepare
    const codes = Object.values(ErrorCode).sort();

    // Act
    const mapped = Object.keys(PROBLEM_STATUS).sort();

    // Assess
    expect(mapped).toEqual(codes);
  });

  it('answers an unknown error with a 500 that reveals nothing of it', () => {
    const problem = toProblem(new Error('connection string with secrets'));

    expect(problem).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    expect(JSON.stringify(problem)).not.toContain('secrets');
  });
});
