import Stripe from 'stripe';

/**
 * Per attempt, below the 10 s of the shortest Lambda that calls Stripe (payment-webhook) even with one retry
 * (4 + at most 0.5 s of backoff + 4). Stripe answers these calls in well under a second.
 */
const STRIPE_TIMEOUT_MS = 4000;
/**
 * The SDK repeats a write with the same idempotency key after a connection error, a 409 (the same key still in
 * flight), or a 5xx, so a repeat is safe; one is enough to ride over a blip, and more would outlast the Lambda.
 * The callers retry beyond that (the webhook's sender, the queue, the schedules).
 */
const STRIPE_MAX_NETWORK_RETRIES = 1;

/**
 * A Stripe client for the API at `apiUrl`: `https://api.stripe.com` in AWS, the fake provider's
 * `http://127.0.0.1:<port>` locally and in tests. The URL is configuration, so the adapter has no code path of
 * its own for either. The SDK's default Node HTTP client is kept: it reuses connections and retries one closed
 * by a frozen Lambda, and Powertools Tracer traces its requests like any other `https` call.
 */
export function stripeClient(apiUrl: string, secretKey: string): Stripe {
  const url = new URL(apiUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return new Stripe(secretKey, {
    // Pinned to the version this SDK release is typed for (2026-10-28.endive): a newer account default
    // cannot change the shapes we read.
    apiVersion: Stripe.API_VERSION,
    host: url.hostname,
    port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
    protocol,
    timeout: STRIPE_TIMEOUT_MS,
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    appInfo: { name: 'order-backbone' },
  });
}
