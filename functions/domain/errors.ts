import { describeIssues, type FieldIssue } from './validation';

/**
 * Every failure a function reports, in one catalogue of stable codes that callers, clients and operators may rely
 * on. Handlers map an error to their trigger's answer by its code (an HTTP status from the exhaustive table in
 * `http/problem-details.ts`, a batch item failure); Step Functions match its `name`. The domain knows no HTTP.
 */
export const ErrorCode = {
  // The domain's rules.
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  CONCURRENT_MODIFICATION: 'CONCURRENT_MODIFICATION',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  ORDER_NOT_PAYABLE: 'ORDER_NOT_PAYABLE',
  PAYMENT_IN_PROGRESS: 'PAYMENT_IN_PROGRESS',
  LEASE_NOT_HELD: 'LEASE_NOT_HELD',
  PAYMENT_DEADLINE_NOT_REACHED: 'PAYMENT_DEADLINE_NOT_REACHED',
  PAYMENTS_UNRECONCILABLE: 'PAYMENTS_UNRECONCILABLE',
  // The HTTP envelope, before a request reaches the domain.
  MALFORMED_JSON: 'MALFORMED_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  CUSTOMER_MISMATCH: 'CUSTOMER_MISMATCH',
  INVALID_SIGNATURE: 'INVALID_SIGNATURE',
  // Outside parties, declared at their ports.
  PAYMENT_PROVIDER_UNAVAILABLE: 'PAYMENT_PROVIDER_UNAVAILABLE',
  PAYMENT_PROVIDER_REJECTED: 'PAYMENT_PROVIDER_REJECTED',
  PAYMENT_PROVIDER_INVALID_RESPONSE: 'PAYMENT_PROVIDER_INVALID_RESPONSE',
  LOGISTICS_UNAVAILABLE: 'LOGISTICS_UNAVAILABLE',
  LOGISTICS_REJECTED: 'LOGISTICS_REJECTED',
  // The fulfilment saga and its participants.
  SAGA_STEP_COMPENSATED: 'SAGA_STEP_COMPENSATED',
  SAGA_ACTION_REFUSED: 'SAGA_ACTION_REFUSED',
  SAGA_LEDGER_CONTENTION: 'SAGA_LEDGER_CONTENTION',
  FULFILLMENT_PAYMENT_NOT_FOUND: 'FULFILLMENT_PAYMENT_NOT_FOUND',
  FULFILLMENT_CORRUPT_STEP_RESULT: 'FULFILLMENT_CORRUPT_STEP_RESULT',
  // The queue consumers.
  INVALID_ORDER_EVENT: 'INVALID_ORDER_EVENT',
  ORDER_NOT_PAID: 'ORDER_NOT_PAID',
  INVALID_STATUS_EVENT: 'INVALID_STATUS_EVENT',
  ORDER_NOT_YET_FULFILLED: 'ORDER_NOT_YET_FULFILLED',
  // The outbox relay.
  MALFORMED_STREAM_ITEM: 'MALFORMED_STREAM_ITEM',
  INVALID_DERIVED_EVENT: 'INVALID_DERIVED_EVENT',
  INVALID_STREAM_RECORD: 'INVALID_STREAM_RECORD',
  EVENT_PUBLISH_FAILED: 'EVENT_PUBLISH_FAILED',
  // A function's environment.
  CONFIGURATION_INVALID: 'CONFIGURATION_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The base of every error a function throws on purpose. `retryable` says whether the same call, message or task
 * may succeed when repeated; `name` is what a state machine's Retry and Catch match (Lambda reports it as the
 * error type), so a subclass's `name` is part of the contract with `state-machines/fulfillment.asl.json`.
 */
export abstract class AppError extends Error {
  public abstract readonly code: ErrorCode;
  public abstract readonly retryable: boolean;
}

/**
 * A value that does not match its schema, with the issues that say where. Never transient: the same value fails
 * the same way, so retrying cannot fix it.
 */
export abstract class SchemaViolationError extends AppError {
  public readonly retryable = false;
  public readonly issues: readonly FieldIssue[];

  /** `what` opens the message, as "not an order event". */
  public constructor(what: string, issues: readonly FieldIssue[], options?: ErrorOptions) {
    super(`${what}: ${describeIssues(issues)}`, options);
    this.issues = issues;
  }
}

export class ValidationError extends SchemaViolationError {
  public override readonly name = 'ValidationError';
  public readonly code = ErrorCode.VALIDATION_FAILED;

  public constructor(issues: readonly FieldIssue[], options?: ErrorOptions) {
    super('invalid input', issues, options);
  }
}

export class OrderNotFoundError extends AppError {
  public override readonly name = 'OrderNotFoundError';
  public readonly code = ErrorCode.ORDER_NOT_FOUND;
  public readonly retryable = false;

  public constructor(public readonly orderId: string) {
    super(`order ${orderId} does not exist`);
  }
}

/** The transition table does not allow this move from the order's current status. */
export class InvalidTransitionError extends AppError {
  public override readonly name = 'InvalidTransitionError';
  public readonly code = ErrorCode.INVALID_TRANSITION;
  public readonly retryable = false;

  public constructor(
    public readonly orderId: string,
    public readonly from: string,
    public readonly to: string,
  ) {
    super(`order ${orderId} cannot move from ${from} to ${to}`);
  }
}

/** Another writer changed the order between our read and our conditional write; the loser of a race gets this. */
export class ConcurrentModificationError extends AppError {
  public override readonly name = 'ConcurrentModificationError';
  public readonly code = ErrorCode.CONCURRENT_MODIFICATION;
  public readonly retryable = true;

  public constructor(
    public readonly orderId: string,
    options?: ErrorOptions,
  ) {
    super(`order ${orderId} was changed concurrently; read it again before retrying`, options);
  }
}

/** The same idempotency key came with a different request than the one it was first used for. */
export class IdempotencyKeyReusedError extends AppError {
  public override readonly name = 'IdempotencyKeyReusedError';
  public readonly code = ErrorCode.IDEMPOTENCY_KEY_REUSED;
  public readonly retryable = false;

  public constructor(public readonly idempotencyKey: string) {
    super(`idempotency key ${idempotencyKey} was already used with a different request`);
  }
}

/** Only an order awaiting payment, before its deadline, can be paid for. */
export class OrderNotPayableError extends AppError {
  public override readonly name = 'OrderNotPayableError';
  public readonly code = ErrorCode.ORDER_NOT_PAYABLE;
  public readonly retryable = false;

  public constructor(
    public readonly orderId: string,
    reason: string,
  ) {
    super(`order ${orderId} cannot be paid: ${reason}`);
  }
}

/** Another request holds the order's payment lease: a payment is being prepared right now. */
export class PaymentInProgressError extends AppError {
  public override readonly name = 'PaymentInProgressError';
  public readonly code = ErrorCode.PAYMENT_IN_PROGRESS;
  public readonly retryable = true;

  public constructor(public readonly orderId: string) {
    super(`a payment for order ${orderId} is being prepared; try again shortly`);
  }
}

/** The lease was taken over (it had expired) or released: its former holder may no longer act under it. */
export class LeaseNotHeldError extends AppError {
  public override readonly name = 'LeaseNotHeldError';
  public readonly code = ErrorCode.LEASE_NOT_HELD;
  public readonly retryable = false;

  public constructor(
    public readonly orderId: string,
    public readonly fencingToken: number,
  ) {
    super(`the payment lease on order ${orderId} with fencing token ${fencingToken} is no longer held`);
  }
}

/**
 * A reconciliation pass met payments that trying again will not settle (the provider refuses to show the intent
 * under this key, say after a switch from test to live keys): everything else was applied, and an operator must
 * look at these.
 */
export class PaymentsUnreconcilableError extends AppError {
  public override readonly name = 'PaymentsUnreconcilableError';
  public readonly code = ErrorCode.PAYMENTS_UNRECONCILABLE;
  public readonly retryable = false;

  public constructor(public readonly paymentIds: readonly string[]) {
    super(`reconciliation cannot settle payment(s) ${paymentIds.join(', ')}; trying again will not help`);
  }
}

/** A timeout fired before the deadline it was set for (clock skew): it must be tried again later. */
export class PaymentDeadlineNotReachedError extends AppError {
  public override readonly name = 'PaymentDeadlineNotReachedError';
  public readonly code = ErrorCode.PAYMENT_DEADLINE_NOT_REACHED;
  public readonly retryable = true;

  public constructor(
    public readonly orderId: string,
    public readonly deadline: string,
  ) {
    super(`order ${orderId} may be paid until ${deadline}`);
  }
}
