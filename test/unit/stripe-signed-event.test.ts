import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { InvalidSignatureError } from '../../functions/domain/webhook-signature';
import { MalformedJsonError, PayloadTooLargeError } from '../../functions/http/errors';
import { parseStripeSignedEvent } from '../../functions/http/stripe-signed-event';
import { httpEvent } from '../support/http-events';

const SECRET = 'whsec_unit_test_secret';
const NOW = new Date('2026-12-07T10:00:00Z');
const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);

const payload = JSON.stringify({
  id: 'evt_1',
  object: 'event',
  type: 'payment_intent.succeeded',
  created: NOW_SECONDS,
  data: { object: { id: 'pi_1', object: 'payment_intent', metadata: {} } },
});

function signed(
  body: string,
  options: { secret?: string; timestamp?: number; header?: string | null; base64?: boolean } = {},
) {
  const signature =
    options.header === undefined
      ? Stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: options.secret ?? SECRET,
          timestamp: options.timestamp ?? NOW_SECONDS,
        })
      : options.header;
  return httpEvent({
    method: 'POST',
    path: '/webhooks/payments',
    routeKey: 'POST /webhooks/payments',
    body: options.base64 === true ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 === true,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      ...(signature === null ? {} : { 'Stripe-Signature': signature }),
    },
  });
}

function parse(event: ReturnType<typeof signed>) {
  return parseStripeSignedEvent(event, { headerName: 'Stripe-Signature', secret: SECRET, now: NOW });
}

function reasonOf(event: ReturnType<typeof signed>): string {
  try {
    parse(event);
  } catch (error) {
    if (error instanceof InvalidSignatureError) return error.reason;
    throw error;
  }
  throw new Error('the signature was accepted');
}

describe('parseStripeSignedEvent', () => {
  it('returns the event Stripe signed, from a plain or a base64 body', () => {
    expect(parse(signed(payload))).toMatchObject({ id: 'evt_1', type: 'payment_intent.succeeded' });
    expect(parse(signed(payload, { base64: true }))).toMatchObject({ id: 'evt_1' });
  });

  it('accepts a signature up to 300 s away and refuses one further either way as stale', () => {
    expect(parse(signed(payload, { timestamp: NOW_SECONDS - 300 }))).toMatchObject({ id: 'evt_1' });
    expect(parse(signed(payload, { timestamp: NOW_SECONDS + 300 }))).toMatchObject({ id: 'evt_1' });
    expect(reasonOf(signed(payload, { timestamp: NOW_SECONDS - 301 }))).toBe('stale');
    expect(reasonOf(signed(payload, { timestamp: NOW_SECONDS + 301 }))).toBe('stale');
  });

  it('refuses a signature made with another secret, or over other bytes, as a mismatch', () => {
    expect(reasonOf(signed(payload, { secret: 'whsec_someone_else' }))).toBe('mismatch');
    const header = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: SECRET,
      timestamp: NOW_SECONDS,
    });
    expect(reasonOf(signed(payload.replace('pi_1', 'pi_2'), { header }))).toBe('mismatch');
  });

  it('refuses a missing header before asking the SDK, and a header it cannot read as malformed', () => {
    expect(reasonOf(signed(payload, { header: null }))).toBe('missing');
    expect(reasonOf(signed(payload, { header: '  ' }))).toBe('missing');
    expect(reasonOf(signed(payload, { header: 'v1=abc' }))).toBe('malformed');
    expect(reasonOf(signed(payload, { header: `t=${NOW_SECONDS},v0=abc` }))).toBe('malformed');
  });

  it('names the header in the error', () => {
    expect(() => parse(signed(payload, { header: null }))).toThrow(/Stripe-Signature/);
  });

  it('refuses a correctly signed body that is not JSON as malformed JSON', () => {
    expect(() => parse(signed('{not json'))).toThrow(MalformedJsonError);
  });

  it('refuses a body over 16 KiB before verifying it', () => {
    // Signed with another secret: verified first, it would be refused as a mismatch instead.
    const oversized = signed(`{"pad":"${'x'.repeat(17 * 1024)}"}`, { secret: 'whsec_someone_else' });
    expect(() => parse(oversized)).toThrow(PayloadTooLargeError);
  });
});
