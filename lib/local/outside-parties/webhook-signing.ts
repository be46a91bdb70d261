import { createHmac } from 'node:crypto';

/**
 * How the outside parties (the fake payment provider, the carrier the simulator plays) sign their webhooks, in
 * Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. Written apart from the
 * application's verifier (`functions/domain/webhook-signature.ts`), so that verifier is tested against an
 * independent signer rather than against itself.
 */
export function signWebhook(secret: string, rawBody: string, timestamp: number): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${digest}`;
}
