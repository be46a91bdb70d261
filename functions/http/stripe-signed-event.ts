import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import Stripe from 'stripe';
import {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  InvalidSignatureError,
  SignatureFailure,
} from '../domain/webhook-signature';
import { MalformedJsonError } from './errors';
import { header, rawBody } from './request';

/**
 * The body of a webhook signed by Stripe, verified by the Stripe SDK's own `constructEvent` against the exact bytes
 * received (an HMAC of `"<t>.<body>"`, a timestamp at most {@link DEFAULT_SIGNATURE_TOLERANCE_SECONDS} away). A
 * signature it refuses is an {@link InvalidSignatureError} (401, nothing written), its reason read from the SDK's
 * message; a verified body that is not JSON is MALFORMED_JSON. The event's shape is the caller's to check.
 */
export function parseStripeSignedEvent(
  event: APIGatewayProxyEventV2,
  options: { readonly headerName: string; readonly secret: string; readonly now: Date },
): Stripe.Event {
  const body = rawBody(event);
  const signature = header(event, options.headerName);
  if (signature === undefined || signature.trim() === '') {
    throw new InvalidSignatureError(SignatureFailure.MISSING, options.headerName);
  }
  let verified: Stripe.Event;
  try {
    verified = Stripe.webhooks.constructEvent(
      body,
      signature,
      options.secret,
      DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
      undefined,
      options.now.getTime(),
    );
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new InvalidSignatureError(signatureFailureOf(error.message), options.headerName);
    }
    if (error instanceof SyntaxError) throw new MalformedJsonError({ cause: error });
    throw error;
  }
  // The SDK refuses old timestamps only. One far ahead is refused too, as for the logistics webhook, so that a
  // sender's clock running fast cannot lengthen the time a captured request can be replayed.
  const timestamp = Number(/(?:^|,)\s*t=(\d{1,12})\s*(?:,|$)/.exec(signature)?.[1]);
  if (timestamp - options.now.getTime() / 1000 > DEFAULT_SIGNATURE_TOLERANCE_SECONDS) {
    throw new InvalidSignatureError(SignatureFailure.STALE, options.headerName);
  }
  return verified;
}

/** The SDK says why only in its message: a wrong timestamp, a wrong HMAC, or a header (or body) it cannot read. */
function signatureFailureOf(message: string): SignatureFailure {
  if (message.startsWith('Timestamp outside the tolerance zone')) return SignatureFailure.STALE;
  if (message.startsWith('No signatures found matching the expected signature'))
    return SignatureFailure.MISMATCH;
  return SignatureFailure.MALFORMED;
}
