import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../functions/domain/webhook-signature';
import { signWebhook } from '../../lib/local/outside-parties/webhook-signing';

// Stripe's helpers used here are pure (HMAC with node:crypto); constructing the client makes no request.
const stripe = new Stripe('sk_test_x');

const SECRET = 'whsec_test';
const TIMESTAMP = 1_700_000_000;
const BODY = '{"id":"evt_1"}';

describe('the outside parties’ webhook signer', () => {
  it('signs as openssl computes the HMAC of "<t>.<body>"', () => {
    // Prepare: the digest of `printf '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test`
    const digest = 'c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925';

    // Act
    const header = signWebhook(SECRET, BODY, TIMESTAMP);

    // Assess
    expect(header).toBe(`t=${TIMESTAMP},v1=${digest}`);
  });

  it('writes the header Stripe’s own helper writes', () => {
    // Prepare
    const expected = stripe.webhooks.generateTestHeaderString({
      payload: BODY,
      secret: SECRET,
      timestamp: TIMESTAMP,
    });

    // Act
    const header = signWebhook(SECRET, BODY, TIMESTAMP);

    // Assess
    expect(header).toBe(expected);
  });

  it('is accepted by the application’s verifier, and refused for another body', () => {
    // Prepare
    const header = signWebhook(SECRET, BODY, TIMESTAMP);
    const now = new Date(TIMESTAMP * 1000);

    // Act
    const verify = (rawBody: string) => () => verifySignature({ header, rawBody, secret: SECRET, now });

    // Assess
    expect(verify(BODY)).not.toThrow();
    expect(verify('{"id":"evt_2"}')).toThrow(/mismatch/);
  });
});
