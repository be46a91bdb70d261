import { describe, expect, it } from 'vitest';
import {
  type AppError,
  ConcurrentModificationError,
  ErrorCode,
  IdempotencyKeyReusedError,
  InvalidTransitionError,
  LeaseNotHeldError,
  OrderNotFoundError,
  OrderNotPayableError,
  PaymentDeadlineNotReachedError,
  PaymentInProgressError,
  ValidationError,
} from '../../functions/domain/errors';
import { EventPublishError, InvalidDerivedEventError } from '../../functions/domain/event-derivation';
import { LogisticsRejectedError, LogisticsUnavailableError } from '../../functions/domain/fulfillment-ports';
import { InvalidStatusEventError, OrderNotYetFulfilledError } from '../../functions/domain/logistics';
import {
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
} from '../../functions/domain/ports';
import {
  ActionRefusedError,
  LedgerContentionError,
  StepCompensatedError,
} from '../../functions/domain/saga-ledger';
import { InvalidSignatureError } from '../../functions/domain/webhook-signature';

const STEP = { orderId: 'o-1', step: 'warehouse-pick' } as const;

describe('the error catalogue', () => {
  it('spells every code as its own key, so a code on the wire reads as its name in the code', () => {
    // Act
    const misspelt = Object.entries(ErrorCode).filter(([key, code]) => key !== code);

    // Assess
    expect(misspelt).toEqual([]);
    expect(Object.keys(ErrorCode).length).toBeGreaterThan(0);
  });

  it.each<[AppError, string, string, boolean, string]>([
    [
      new ValidationError([
        { path: 'items/0/quantity', message: 'too many' },
        { path: '', message: 'bad' },
      ]),
      'ValidationError',
      'VALIDATION_FAILED',
      false,
      'invalid input: items/0/quantity: too many; (root): bad',
    ],
    [
      new OrderNotFoundError('o-1'),
      'OrderNotFoundError',
      'ORDER_NOT_FOUND',
      false,
      'order o-1 does not exist',
    ],
    [
      new InvalidTransitionError('o-1', 'PAID', 'CANCELLED'),
      'InvalidTransitionError',
      'INVALID_TRANSITION',
      false,
      'order o-1 cannot move from PAID to CANCELLED',
    ],
    [
      new ConcurrentModificationError('o-1'),
      'ConcurrentModificationError',
      'CONCURRENT_MODIFICATION',
      true,
      'order o-1 was changed concurrently; read it again before retrying',
    ],
    [
      new IdempotencyKeyReusedError('k-1'),
      'IdempotencyKeyReusedError',
      'IDEMPOTENCY_KEY_REUSED',
      false,
      'idempotency key k-1 was already used with a different request',
    ],
    [
      new OrderNotPayableError('o-1', 'it is PAID'),
      'OrderNotPayableError',
      'ORDER_NOT_PAYABLE',
      false,
      'order o-1 cannot be paid: it is PAID',
    ],
    [
      new PaymentInProgressError('o-1'),
      'PaymentInProgressError',
      'PAYMENT_IN_PROGRESS',
      true,
      'a payment for order o-1 is being prepared; try again shortly',
    ],
    [
      new LeaseNotHeldError('o-1', 7),
      'LeaseNotHeldError',
      'LEASE_NOT_HELD',
      false,
      'the payment lease on order o-1 with fencing token 7 is no longer held',
    ],
    [
      new PaymentDeadlineNotReachedError('o-1', '2026-12-01T09:15:00.000Z'),
      'PaymentDeadlineNotReachedError',
      'PAYMENT_DEADLINE_NOT_REACHED',
      true,
      'order o-1 may be paid until 2026-12-01T09:15:00.000Z',
    ],
    [
      new StepCompensatedError(STEP),
      'StepCompensatedError',
      'SAGA_STEP_COMPENSATED',
      false,
      'step warehouse-pick of order o-1 was compensated; the action is refused',
    ],
    [
      new ActionRefusedError('cancelled first'),
      'ActionRefusedError',
      'SAGA_ACTION_REFUSED',
      false,
      'cancelled first',
    ],
    [
      new LedgerContentionError(STEP),
      'LedgerContentionError',
      'SAGA_LEDGER_CONTENTION',
      true,
      'the ledger entry of step warehouse-pick of order o-1 kept changing; try again',
    ],
    [
      new InvalidStatusEventError([{ path: 'status', message: 'unknown' }]),
      'InvalidStatusEventError',
      'INVALID_STATUS_EVENT',
      false,
      'not a status event: status: unknown',
    ],
    [
      new OrderNotYetFulfilledError('o-1', 'FULFILLING', 'SHIPPED'),
      'OrderNotYetFulfilledError',
      'ORDER_NOT_YET_FULFILLED',
      true,
      'order o-1 is FULFILLING, not yet FULFILLED: SHIPPED is applied once it is',
    ],
    [
      new PaymentProviderUnavailableError('timed out', 503),
      'PaymentProviderUnavailableError',
      'PAYMENT_PROVIDER_UNAVAILABLE',
      true,
      'timed out',
    ],
    [
      new PaymentProviderRejectedError(400, 'amount_too_small', 'too small'),
      'PaymentProviderRejectedError',
      'PAYMENT_PROVIDER_REJECTED',
      false,
      'too small',
    ],
    [
      new PaymentProviderInvalidResponseError('no id'),
      'PaymentProviderInvalidResponseError',
      'PAYMENT_PROVIDER_INVALID_RESPONSE',
      false,
      'no id',
    ],
    [
      new LogisticsUnavailableError('warehouse', 'timed out'),
      'LogisticsUnavailableError',
      'LOGISTICS_UNAVAILABLE',
      true,
      'timed out',
    ],
    [
      new LogisticsRejectedError('transport', 'no such address'),
      'LogisticsRejectedError',
      'LOGISTICS_REJECTED',
      false,
      'no such address',
    ],
    [
      new InvalidDerivedEventError('e-1', [{ path: 'data/amount', message: 'negative' }]),
      'InvalidDerivedEventError',
      'INVALID_DERIVED_EVENT',
      false,
      'derived event e-1 does not match the catalogue: data/amount: negative',
    ],
    [
      new EventPublishError('EventBridge', 'e-1', 'ThrottlingException', 'slow down'),
      'EventPublishError',
      'EVENT_PUBLISH_FAILED',
      true,
      'EventBridge did not accept event e-1 (ThrottlingException): slow down',
    ],
    [
      new InvalidSignatureError('stale'),
      'InvalidSignatureError',
      'INVALID_SIGNATURE',
      false,
      'the webhook signature in signature header is stale',
    ],
  ])('describes %s', (error, name, code, retryable, message) => {
    // Assess
    expect(error).toMatchObject({ name, code, retryable, message });
  });

  it('keeps the cause it is given', () => {
    // Prepare
    const cause = new Error('transaction cancelled');

    // Act
    const errors = [
      new ConcurrentModificationError('o-1', { cause }),
      new StepCompensatedError(STEP, { cause }),
    ];

    // Assess
    expect(errors.map((error) => error.cause)).toEqual([cause, cause]);
  });
});
