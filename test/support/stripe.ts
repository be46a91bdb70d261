import type Stripe from 'stripe';
import { stripeClient } from '../../functions/adapters/stripe-client';
import type { FakePaymentProvider } from '../../lib/local/outside-parties/payment-provider';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { appModel, PAYMENT_WEBHOOK_SECRET } from '../../lib/model';
import type { CustomerEndpoint } from './auth';
import { runScript } from './cli';
import { type HttpAnswer, placeBoxOrder, requestAs } from './local-system';

/** The system's fake Stripe; throws when the local system started none. */
export function fakeStripeOf(system: Pick<LocalSystem, 'paymentProvider'>): FakePaymentProvider {
  if (system.paymentProvider === undefined) throw new Error('the local system started no fake Stripe');
  return system.paymentProvider;
}

/** The secret that holds the key the fake accepts: the payment provider's API key in the model. */
const apiKeySecret = appModel.outsideParties.find((party) => party.kind === 'payment-provider')?.apiKeySecret;

/** One client per fake, so tests that pay hundreds of orders reuse its connections. */
const clients = new WeakMap<FakePaymentProvider, Stripe>();

/** The official SDK pointed at the system's fake Stripe with the test key it accepts, as a shop front uses it. */
export function stripeFor(system: Pick<LocalSystem, 'paymentProvider' | 'secrets'>): Stripe {
  const fake = fakeStripeOf(system);
  const known = clients.get(fake);
  if (known !== undefined) return known;
  const key = apiKeySecret === undefined ? undefined : system.secrets[apiKeySecret];
  if (key === undefined) throw new Error('the local system has no secret key for Stripe');
  const client = stripeClient(fake.url, key);
  clients.set(fake, client);
  return client;
}

/** What `POST /orders/{orderId}/payments` answers for an intent. */
export interface PaymentAnswer {
  readonly paymentId: string;
  readonly orderId: string;
  readonly amount: number;
  readonly currency: string;
  readonly status: string;
  readonly clientSecret: string;
}

/** `POST /orders/{orderId}/payments` as `customer`; throws unless it answered an intent (201 or 200). */
export async function openPayment(
  system: CustomerEndpoint,
  customer: string,
  orderId: string,
): Promise<PaymentAnswer> {
  const answer = await requestAs<PaymentAnswer>(system, customer, 'POST', `/orders/${orderId}/payments`);
  if (answer.status !== 201 && answer.status !== 200) {
    throw new Error(
      `POST /orders/${orderId}/payments answered ${answer.status}: ${JSON.stringify(answer.body)}`,
    );
  }
  return answer.body;
}

/**
 * Runs the order and payment functions once, so that starting their environments (seconds on a machine busy
 * starting other test files' systems) is not spent in a test's short payment window. What the payment request
 * answers does not matter (its order may be past paying by then): it ran the function.
 */
export async function startPaymentFunctions(system: CustomerEndpoint, customer: string): Promise<void> {
  const order = await placeBoxOrder(system, customer, 1, 1000);
  await requestAs(system, customer, 'POST', `/orders/${order.orderId}/payments`);
}

/**
 * Pays an order as its customer would: asks the API for the order's intent, then confirms it at Stripe with
 * `paymentMethod` (one of Stripe's test methods). Returns the intent's id, the order's paymentId. A declined
 * card throws the SDK's `StripeCardError`.
 */
export async function payOrder(
  system: CustomerEndpoint & Pick<LocalSystem, 'paymentProvider' | 'secrets'>,
  customer: string,
  orderId: string,
  paymentMethod = 'pm_card_visa',
): Promise<string> {
  const { paymentId } = await openPayment(system, customer, orderId);
  await stripeFor(system).paymentIntents.confirm(paymentId, { payment_method: paymentMethod });
  return paymentId;
}

/** The fake's intents created for `orderId` (the adapter puts the order id in their metadata). */
export function intentsOf(
  system: Pick<LocalSystem, 'paymentProvider'>,
  orderId: string,
): Stripe.PaymentIntent[] {
  return fakeStripeOf(system)
    .intents()
    .filter((intent) => intent.metadata.orderId === orderId);
}

/** The fake's refunds of the intent `paymentId`. */
export function refundsOf(system: Pick<LocalSystem, 'paymentProvider'>, paymentId: string): Stripe.Refund[] {
  return fakeStripeOf(system)
    .refunds()
    .filter((refund) => refund.payment_intent === paymentId);
}

/** How a test webhook is signed: a header as given (`undefined`: none), or the SDK's with a secret and time. */
export type WebhookSigning =
  | { readonly header: string | undefined }
  | { readonly secret?: string; readonly timestamp?: number };

/**
 * Posts `payload` to `POST /webhooks/payments` as Stripe does, signed by the SDK's `generateTestHeaderString`
 * with the system's webhook secret now, unless `signing` says otherwise.
 */
export async function postStripeWebhook(
  system: Pick<LocalSystem, 'url' | 'paymentProvider' | 'secrets'>,
  payload: string,
  signing: WebhookSigning = {},
): Promise<HttpAnswer> {
  let header: string | undefined;
  if ('header' in signing) header = signing.header;
  else {
    const secret = signing.secret ?? system.secrets[PAYMENT_WEBHOOK_SECRET];
    if (secret === undefined) throw new Error(`the local system has no ${PAYMENT_WEBHOOK_SECRET}`);
    header = stripeFor(system).webhooks.generateTestHeaderString({
      payload,
      secret,
      ...(signing.timestamp === undefined ? {} : { timestamp: signing.timestamp }),
    });
  }
  const response = await fetch(`${system.url}/webhooks/payments`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(header === undefined ? {} : { 'stripe-signature': header }),
    },
    body: payload,
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: (text.length > 0 ? JSON.parse(text) : null) as Record<string, unknown>,
  };
}

/** Delivers every event the fake created about the intent once more, as a Stripe retry would; their answers. */
export async function redeliverEvents(
  system: Pick<LocalSystem, 'url' | 'paymentProvider' | 'secrets'>,
  paymentId: string,
): Promise<HttpAnswer[]> {
  const answers: HttpAnswer[] = [];
  for (const stored of fakeStripeOf(system).events()) {
    if (stored.paymentIntentId !== paymentId) continue;
    answers.push(await postStripeWebhook(system, JSON.stringify(stored.event)));
  }
  return answers;
}

/** A payment as `npm run ops -- order <orderId> --json` shows it: with the source of its last fact. */
export interface PaymentAsOpsSeesIt {
  readonly paymentId: string;
  readonly status: string;
  readonly recordedBy: string | null;
}

/** The order's payments as `npm run ops -- --local <url> order <orderId> --json` prints them. */
export async function paymentsInOpsOrder(
  system: Pick<LocalSystem, 'url'>,
  orderId: string,
): Promise<PaymentAsOpsSeesIt[]> {
  const run = await runScript('ops.ts', ['--local', system.url, 'order', orderId, '--json']);
  if (run.code !== 0) throw new Error(`ops order ${orderId} exited ${run.code}: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { payments: PaymentAsOpsSeesIt[] }).payments;
}
