import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import {
  InvalidSignatureError,
  type SignatureFailure,
  signatureHeader,
  verifySignature,
} from '../../functions/domain/webhook-signature';

// Stripe's helpers used here are pure (HMAC with node:crypto); constructing the client makes no request.
const stripe = new Stripe('sk_test_x');

const SECRET = 'whsec_test_secret';
const NOW = new Date('2030-01-01T00:00:00Z');
const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);
const PAYLOAD = JSON.stringify({
  id: 'evt_1',
  object: 'event',
  type: 'payment.succeeded',
  data: { paymentId: 'pi_1', orderId: 'o-1', amount: 4200, currency: 'EUR' },
});

/** The reason our verifier refuses with, or `accepted`. */
function verdict(
  header: string | undefined,
  rawBody = PAYLOAD,
  secret = SECRET,
): SignatureFailure | 'accepted' {
  try {
    verifySignature({ header, rawBody, secret, now: NOW });
    return 'accepted';
  } catch (error) {
    if (error instanceof InvalidSignatureError) return error.reason;
    throw error;
  }
}

describe('webhook signatures agree with Stripe', () => {
  it('accepts a header made by Stripe’s own library', () => {
    // Prepare
    const header = stripe.webhooks.generateTestHeaderString({
      payload: PAYLOAD,
      secret: SECRET,
      timestamp: NOW_SECONDS,
    });

    // Act
    const result = verdict(header);

    // Assess
    expect(header).toBe(signatureHeader(SECRET, PAYLOAD, NOW_SECONDS));
    expect(result).toBe('accepted');
  });

  it('makes headers that Stripe’s constructEvent accepts', () => {
    // Prepare
    const header = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS);

    // Act
    const event = stripe.webhooks.constructEvent(PAYLOAD, header, SECRET, 300, undefined, NOW.getTime());

    // Assess
    expect(event.id).toBe('evt_1');
  });

  it('refuses what Stripe refuses: a tampered body, a wrong secret, a stale timestamp', () => {
    // Prepare
    const header = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS);
    const tampered = PAYLOAD.replace('4200', '1');
    const staleHeader = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS - 301);
    const stripeAccepts = (payload: string, signature: string, secret: string) => {
      try {
        stripe.webhooks.constructEvent(payload, signature, secret, 300, undefined, NOW.getTime());
        return true;
      } catch {
        return false;
      }
    };

    // Act
    const ours = [verdict(header, tampered), verdict(header, PAYLOAD, 'whsec_other'), verdict(staleHeader)];
    const theirs = [
      stripeAccepts(tampered, header, SECRET),
      stripeAccepts(PAYLOAD, header, 'whsec_other'),
      stripeAccepts(PAYLOAD, staleHeader, SECRET),
    ];

    // Assess
    expect(ours).toEqual(['mismatch', 'mismatch', 'stale']);
    expect(theirs).toEqual([false, false, false]);
  });

  it('accepts a timestamp just inside the tolerance either way', () => {
    // Prepare
    const old = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS - 300);
    const ahead = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS + 300);

    // Act
    const results = [verdict(old), verdict(ahead)];

    // Assess
    expect(results).toEqual(['accepted', 'accepted']);
  });

  it('refuses a timestamp more than 300 s in the future (stricter than Stripe, which only checks age)', () => {
    // Prepare
    const header = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS + 301);

    // Act
    const result = verdict(header);

    // Assess
    expect(result).toBe('stale');
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['blank', '   '],
  ])('refuses a %s header as missing', (_label, header) => {
    // Act
    const result = verdict(header);

    // Assess
    expect(result).toBe('missing');
  });

  it.each([
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['no v1 signature', `t=${NOW_SECONDS}`],
    ['a non-numeric timestamp', `t=soon,v1=${'a'.repeat(64)}`],
    ['a short signature', `t=${NOW_SECONDS},v1=abc`],
    // The valid signature with one more digit: its first 32 bytes would match if the length were not checked.
    ['an over-long signature', `${signatureHeader(SECRET, PAYLOAD, NOW_SECONDS)}0`],
    ['an over-long timestamp', `t=${'9'.repeat(13)},v1=${'a'.repeat(64)}`],
    ['a timestamp after other characters', `t=x${NOW_SECONDS},v1=${'a'.repeat(64)}`],
    ['a signature after another character', `t=${NOW_SECONDS},v1=z${'a'.repeat(64)}`],
    // The right timestamp and signature, but the timestamp under another key.
    ['the timestamp under another key', signatureHeader(SECRET, PAYLOAD, NOW_SECONDS).replace('t=', 'v0=')],
    ['only another scheme', `t=${NOW_SECONDS},v0=${'a'.repeat(64)}`],
    ['garbage', 'not a signature'],
  ])('refuses a header with %s as malformed', (_label, header) => {
    // Act
    const result = verdict(header);

    // Assess
    expect(result).toBe('malformed');
  });

  it('accepts a header with spaces around its keys and values', () => {
    // Prepare
    const header = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS)
      .replace('t=', ' t = ')
      .replace(',v1=', ', v1= ');

    // Act
    const result = verdict(header);

    // Assess
    expect(result).toBe('accepted');
  });

  it('accepts when any of several v1 signatures matches, as during secret rotation', () => {
    // Prepare
    const current = signatureHeader(SECRET, PAYLOAD, NOW_SECONDS);
    const previous = signatureHeader('whsec_old', PAYLOAD, NOW_SECONDS).split(',')[1] ?? '';
    const header = `${current.split(',')[0]},${previous},${current.split(',')[1]}`;

    // Act
    const result = verdict(header);

    // Assess
    expect(result).toBe('accepted');
  });
});
