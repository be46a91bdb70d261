/**
 * Every failure the domain can report, each with a stable `code` that callers and clients may rely on.
 * Handlers map these to their trigger's answer (an HTTP problem, a batch item failure); the domain itself
 * knows nothing of HTTP.
 */
export const DomainErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  CONCURRENT_MODIFICATION: 'CONCURRENT_MODIFICATION',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  ORDER_NOT_PAYABLE: 'ORDER_NOT_PAYABLE',
  PAYMENT_IN_PROGRESS: 'PAYMENT_IN_PROGRESS',
  LEASE_NOT_HELD: 'LEASE_NOT_HELD',
  PAYMENT_DEADLINE_NOT_REACHED: 'PAYMENT_DEADLINE_NOT_REACHED',
} as const;

export type DomainErrorCode = (typeof DomainErrorCode)[keyof typeof DomainErrorCode];

export abstract class DomainError extends Error {
  public abstract readonly code: DomainErrorCode;
}

export interface FieldIssue {
  /** Where the problem is, as a JSON-pointer-like path such as `items/0/quantity`. */
  readonly path: string;
  readonly message: string;
}

export class ValidationError extends DomainError {
  public override readonly name = 'ValidationError';
  public readonly code = DomainErrorCode.VALIDATION_FAILED;
  public readonly issues: readonly FieldIssue[];

  public constructor(issues: readonly FieldIssue[]) {
    super(
      `invalid input: ${issues.map((issue) => `${issue.path || '(root)'}: ${issue.message}`).join('; ')}`,
    );
    this.issues = issues;
  }
}

export class OrderNotFoundError extends DomainError {
  public override readonly name = 'OrderNotFoundError';
  public readonly code = DomainErrorCode.ORDER_NOT_FOUND;

  public constructor(public readonly orderId: string) {
    super(`order ${orderId} does not exist`);
  }
}

/** The transition table does not allow this move from the order's current status. */
export class InvalidTransitionError extends DomainError {
  public override readonly name = 'InvalidTransitionError';
  public readonly code = DomainErrorCode.INVALID_TRANSITION;

  public constructor(
    public readonly orderId: string,
    public readonly from: string,
    public readonly to: string,
  ) {
    super(`order ${orderId} cannot move from ${from} to ${to}`);
  }
}

/** Another writer changed the order between our read and our conditional write; the loser of a race gets this. */
export class ConcurrentModificationError extends DomainError {
  public override readonly name = 'ConcurrentModificationError';
  public readonly code = DomainErrorCode.CONCURRENT_MODIFICATION;

  public constructor(
    public readonly orderId: string,
    options?: ErrorOptions,
  ) {
    super(`order ${orderId} was changed concurrently; read it again before retrying`, options);
  }
}

/** The same idempotency key came with a different request than the one it was first used for. */
export class IdempotencyKeyReusedError extends DomainError {
  public override readonly name = 'IdempotencyKeyReusedError';
  public readonly code = DomainErrorCode.IDEMPOTENCY_KEY_REUSED;

  public constructor(public readonly idempotencyKey: string) {
    super(`idempotency key ${idempotencyKey} was already used with a different request`);
  }
}

/** Only an order awaiting payment, before its deadline, can be paid for. */
export class OrderNotPayableError extends DomainError {
  public override readonly name = 'OrderNotPayableError';
  public readonly code = DomainErrorCode.ORDER_NOT_PAYABLE;

  public constructor(
    public readonly orderId: string,
    reason: string,
  ) {
    super(`order ${orderId} cannot be paid: ${reason}`);
  }
}

/** Another request holds the order's payment lease: a payment is being prepared right now. */
export class PaymentInProgressError extends DomainError {
  public override readonly name = 'PaymentInProgressError';
  public readonly code = DomainErrorCode.PAYMENT_IN_PROGRESS;

  public constructor(public readonly orderId: string) {
    super(`a payment for order ${orderId} is being prepared; try again shortly`);
  }
}

/** The lease was taken over (it had expired) or released: its former holder may no longer act under it. */
export class LeaseNotHeldError extends DomainError {
  public override readonly name = 'LeaseNotHeldError';
  public readonly code = DomainErrorCode.LEASE_NOT_HELD;

  public constructor(
    public readonly orderId: string,
    public readonly fencingToken: number,
  ) {
    super(`the payment lease on order ${orderId} with fencing token ${fencingToken} is no longer held`);
  }
}

/** A timeout fired before the deadline it was set for (clock skew): it must be tried again later. */
export class PaymentDeadlineNotReachedError extends DomainError {
  public override readonly name = 'PaymentDeadlineNotReachedError';
  public readonly code = DomainErrorCode.PAYMENT_DEADLINE_NOT_REACHED;

  public constructor(
    public readonly orderId: string,
    public readonly deadline: string,
  ) {
    super(`order ${orderId} may be paid until ${deadline}`);
  }
}
