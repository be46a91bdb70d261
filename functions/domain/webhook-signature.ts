import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode } from './errors';

/**
 * Webhook signatures in Stripe's scheme: the header is `t=<unix seconds>,v1=<hex HMAC-SHA256>` (several `v1`
 * entries allowed, for secret rotation), the HMAC is over `"<t>.<raw body>"`, and a timestamp more than the
 * tolerance away from now (either way) is refused, so a captured request cannot be replayed later.
 */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export const SignatureFailure = {
  MISSING: 'missing',
  MALFORMED: 'malformed',
  STALE: 'stale',
  MISMATCH: 'mismatch',
} as const;

export type SignatureFailure = (typeof SignatureFailure)[keyof typeof SignatureFailure];

export class InvalidSignatureError extends AppError {
  public override readonly name = 'InvalidSignatureError';
  public readonly code = ErrorCode.INVALID_SIGNATURE;
  public readonly retryable = false;

  public constructor(
    public readonly reason: SignatureFailure,
    /** The header the signature was expected in, so the answer can name it. */
    public readonly headerName = 'signature header',
  ) {
    super(`the webhook signature in ${headerName} is ${reason}`);
  }
}

function hmacHex(secret: string, timestamp: number, rawBody: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
}

/** The header a sender puts on `rawBody` at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, rawBody: string, timestamp: number): string {
  return `t=${timestamp},v1=${hmacHex(secret, timestamp, rawBody)}`;
}

/**
 * Verifies `header` against the exact bytes received. Throws {@link InvalidSignatureError} with the reason;
 * compares in constant time so the comparison leaks nothing about the expected value.
 */
export function verifySignature(options: {
  readonly header: string | undefined;
  /** Named in the error, e.g. `Payment-Signature`. */
  readonly headerName?: string;
  readonly rawBody: string;
  readonly secret: string;
  readonly now: Date;
  readonly toleranceSeconds?: number;
}): void {
  const { header, rawBody, secret, now } = options;
  const refuse = (reason: SignatureFailure) => new InvalidSignatureError(reason, options.headerName);
  if (header === undefined || header.trim() === '') {
    throw refuse(SignatureFailure.MISSING);
  }
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw refuse(SignatureFailure.MALFORMED);
  }
  const tolerance = options.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(now.getTime() / 1000 - timestamp) > tolerance) {
    throw refuse(SignatureFailure.STALE);
  }
  const expected = Buffer.from(hmacHex(secret, timestamp, rawBody), 'hex');
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected));
  if (!matches) {
    throw refuse(SignatureFailure.MISMATCH);
  }
}
