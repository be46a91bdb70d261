import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpPaymentProvider } from '../../functions/adapters/http-payment-provider';
import { PaymentProviderRejectedError, PaymentProviderUnavailableError } from '../../functions/domain/ports';
import { InvalidSignatureError, verifySignature } from '../../functions/domain/webhook-signature';
import type { LocalRoute } from '../../lib/local/aws/gateway';
import {
  type FakePaymentProvider,
  FakePaymentProviderStoppedError,
  startFakePaymentProvider,
} from '../../lib/local/outside-parties/payment-provider';
import { findFreePort } from '../../lib/local/ports';
import { eventually } from '../support/eventually';

const API_KEY = 'sk_test_local';
const WEBHOOK_SECRET = 'whsec_local';

interface ReceivedWebhook {
  readonly signature: string | undefined;
  readonly contentType: string | undefined;
  readonly rawBody: string;
  /** What the receiver made of the signature: `valid`, or the InvalidSignatureError reason. */
  readonly verdict: string;
}

/** A tiny webhook receiver that verifies signatures as the real handler does and answers as scripted. */
interface Receiver {
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /**
   * Per event id, statuses to answer with, first to last, before falling back to 200 (or 400 for a bad
   * signature). Keyed by event so a late webhook from another test cannot take a scripted answer.
   */
  readonly script: Map<string, number[]>;
  stop(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const script = new Map<string, number[]>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const signature = request.headers['payment-signature'];
      const header = typeof signature === 'string' ? signature : undefined;
      let verdict = 'valid';
      try {
        verifySignature({ header, rawBody, secret: WEBHOOK_SECRET, now: new Date() });
      } catch (error) {
        verdict = error instanceof InvalidSignatureError ? error.reason : 'error';
      }
      received.push({ signature: header, contentType: request.headers['content-type'], rawBody, verdict });
      const eventId = (JSON.parse(rawBody) as { id?: string }).id ?? '';
      const status = script.get(eventId)?.shift() ?? (verdict === 'valid' ? 200 : 400);
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('receiver has no port');
  return {
    url: `http://127.0.0.1:${address.port}/webhooks/payment`,
    received,
    script,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}

function parsedBody(webhook: ReceivedWebhook): { id: string; type: string; data: Record<string, unknown> } {
  return JSON.parse(webhook.rawBody) as { id: string; type: string; data: Record<string, unknown> };
}

function localRoute(path: string): LocalRoute {
  const route = provider.localRoutes().find((local) => local.path === path);
  if (route === undefined) throw new Error(`the fake has no local route ${path}`);
  return route;
}

let provider: FakePaymentProvider;
let receiver: Receiver;
let adapter: HttpPaymentProvider;

beforeAll(async () => {
  receiver = await startReceiver();
  provider = await startFakePaymentProvider({
    apiKey: API_KEY,
    webhookSecret: WEBHOOK_SECRET,
    webhookUrl: receiver.url,
    refundCallbackDelayMs: 5,
    deliveryRetry: { attempts: 4, baseDelayMs: 10 },
  });
  adapter = new HttpPaymentProvider({ baseUrl: provider.url, apiKey: API_KEY });
});

afterAll(async () => {
  await provider.stop();
  await receiver.stop();
});

let sequence = 0;
function uniqueOrderId(): string {
  sequence += 1;
  return `order-${Date.now()}-${sequence}`;
}

describe('HttpPaymentProvider against the fake provider', () => {
  it('creates a payment intent', async () => {
    // Prepare
    const orderId = uniqueOrderId();

    // Act
    const intent = await adapter.createIntent(
      { orderId, amount: 4200, currency: 'EUR' },
      `intent-${orderId}`,
    );

    // Assess
    expect(intent).toEqual({
      paymentId: expect.stringMatching(/^pi_/),
      orderId,
      amount: 4200,
      currency: 'EUR',
    });
    expect(provider.intents().filter((stored) => stored.orderId === orderId)).toEqual([
      expect.objectContaining({ paymentId: intent.paymentId, status: 'requires_payment' }),
    ]);
  });

  it('returns the same intent for a repeat with the same key and body', async () => {
    // Prepare
    const orderId = uniqueOrderId();
    const request = { orderId, amount: 100, currency: 'EUR' };

    // Act
    const first = await adapter.createIntent(request, `intent-${orderId}`);
    const second = await adapter.createIntent(request, `intent-${orderId}`);

    // Assess
    expect(second.paymentId).toBe(first.paymentId);
    expect(provider.intents().filter((stored) => stored.orderId === orderId)).toHaveLength(1);
  });

  it('rejects a reused key with a different body, creating nothing', async () => {
    // Prepare
    const orderId = uniqueOrderId();
    await adapter.createIntent({ orderId, amount: 100, currency: 'EUR' }, `intent-${orderId}`);

    // Act
    const attempt = adapter.createIntent({ orderId, amount: 999, currency: 'EUR' }, `intent-${orderId}`);

    // Assess
    const error = await attempt.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PaymentProviderRejectedError);
    expect(error).toMatchObject({
      code: 'PAYMENT_PROVIDER_REJECTED',
      status: 409,
      providerCode: 'idempotency_key_reused',
      retryable: false,
    });
    expect(provider.intents().filter((stored) => stored.orderId === orderId)).toHaveLength(1);
  });

  it('refunds idempotently and delivers one validly signed refund.succeeded webhook', async () => {
    // Prepare
    const orderId = uniqueOrderId();
    const { paymentId } = await adapter.createIntent(
      { orderId, amount: 500, currency: 'EUR' },
      `i-${orderId}`,
    );
    const payment = { paymentId, amount: 500, currency: 'EUR' };

    // Act
    const first = await adapter.refund(payment, `refund-${orderId}`);
    const second = await adapter.refund(payment, `refund-${orderId}`);
    // The provider records an attempt once the answer is in, which is after the receiver has the body.
    const delivered = await eventually(() =>
      provider
        .deliveries()
        .find((delivery) => delivery.paymentId === paymentId && delivery.statusCode === 200),
    );

    // Assess
    expect(first).toEqual({ refundId: expect.stringMatching(/^re_/), paymentId });
    expect(second.refundId).toBe(first.refundId);
    expect(provider.refunds().filter((refund) => refund.paymentId === paymentId)).toEqual([
      expect.objectContaining({ refundId: first.refundId, orderId, idempotencyKey: `refund-${orderId}` }),
    ]);
    const webhook = receiver.received.find((received) => parsedBody(received).id === delivered.eventId);
    if (webhook === undefined) throw new Error('the receiver did not record the delivered webhook');
    expect(webhook.contentType).toBe('application/json');
    expect(webhook.verdict).toBe('valid');
    expect(() =>
      verifySignature({
        header: webhook.signature,
        rawBody: webhook.rawBody,
        secret: WEBHOOK_SECRET,
        now: new Date(),
      }),
    ).not.toThrow();
    expect(parsedBody(webhook)).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'refund.succeeded',
      data: { paymentId, orderId, amount: 500, currency: 'EUR' },
    });
    const refundDeliveries = provider
      .deliveries()
      .filter((delivery) => delivery.paymentId === paymentId && delivery.type === 'refund.succeeded');
    expect(refundDeliveries).toHaveLength(1);
  });

  it('lists exactly one refund per key on the local inspection route', async () => {
    // Prepare
    const paymentId = `pi_unknown_${uniqueOrderId()}`;
    const payment = { paymentId, amount: 70, currency: 'EUR' };
    await adapter.refund(payment, `refund-${paymentId}`);
    await adapter.refund(payment, `refund-${paymentId}`);
    const route = localRoute('/_local/provider/refunds');

    // Act
    const answer = await route.handle({ body: undefined, query: new URLSearchParams() });

    // Assess
    expect(answer.statusCode).toBe(200);
    const listed = (answer.body as { paymentId: string; orderId: string }[]).filter(
      (refund) => refund.paymentId === paymentId,
    );
    // A payment the provider never saw is still refunded; its orderId is unknown.
    expect(listed).toEqual([expect.objectContaining({ paymentId, orderId: '' })]);
  });

  it('retries a webhook the receiver answered with 500, with the same event', async () => {
    // Prepare
    const orderId = uniqueOrderId();
    const eventId = `evt_retry_${orderId}`;
    receiver.script.set(eventId, [500]);

    // Act
    const result = await provider.sendCallback({
      type: 'payment.succeeded',
      orderId,
      eventId,
      amount: 1000,
      currency: 'EUR',
    });

    // Assess
    expect(result.statuses).toEqual([200]);
    const attempts = provider.deliveries().filter((delivery) => delivery.eventId === result.eventId);
    expect(attempts.map((delivery) => [delivery.attempt, delivery.statusCode])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    const bodies = receiver.received.filter((received) => parsedBody(received).id === result.eventId);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]?.rawBody).toBe(bodies[0]?.rawBody);
  });

  it('sends the same event several times for duplicate tests, and badly signed ones once', async () => {
    // Prepare
    const orderId = uniqueOrderId();

    // Act
    const duplicated = await provider.sendCallback({
      type: 'payment.failed',
      orderId,
      amount: 10,
      currency: 'EUR',
      times: 2,
    });
    const stale = await provider.sendCallback({
      type: 'payment.succeeded',
      orderId,
      amount: 10,
      currency: 'EUR',
      signatureOverride: 'stale',
    });
    const wrongSecret = await provider.sendCallback({
      type: 'payment.succeeded',
      orderId,
      amount: 10,
      currency: 'EUR',
      signatureOverride: 'wrong-secret',
    });

    // Assess
    expect(duplicated.statuses).toEqual([200, 200]);
    const verdictsOf = (eventId: string) =>
      receiver.received.filter((received) => parsedBody(received).id === eventId).map((r) => r.verdict);
    expect(verdictsOf(duplicated.eventId)).toEqual(['valid', 'valid']);
    expect(stale.statuses).toEqual([400]);
    expect(verdictsOf(stale.eventId)).toEqual(['stale']);
    expect(wrongSecret.statuses).toEqual([400]);
    expect(verdictsOf(wrongSecret.eventId)).toEqual(['mismatch']);
  });

  it('answers 400 on the local callbacks route for an invalid body', async () => {
    // Prepare
    const route = localRoute('/_local/provider/callbacks');

    // Act
    const answer = await route.handle({
      body: { type: 'payment.refunded', orderId: 'o', amount: -1, currency: 'EUR' },
      query: new URLSearchParams(),
    });

    // Assess
    expect(answer.statusCode).toBe(400);
    expect(answer.body).toEqual({ message: expect.stringMatching(/type.*amount|amount.*type/s) });
  });

  it('rejects a wrong API key', async () => {
    // Prepare
    const wrongKey = new HttpPaymentProvider({ baseUrl: provider.url, apiKey: 'sk_test_wrong' });

    // Act
    const error = await wrongKey
      .createIntent({ orderId: uniqueOrderId(), amount: 1, currency: 'EUR' }, 'k')
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PaymentProviderRejectedError);
    expect(error).toMatchObject({ status: 401, providerCode: 'unauthorized', retryable: false });
  });

  it('reports an outage as retryable, and the retry with the same key succeeds once', async () => {
    // Prepare
    const paymentId = `pi_outage_${uniqueOrderId()}`;
    const payment = { paymentId, amount: 30, currency: 'EUR' };
    provider.failNextRefunds(1);

    // Act
    const error = await adapter.refund(payment, `refund-${paymentId}`).catch((caught: unknown) => caught);
    const refundsDuringOutage = provider.refunds().filter((refund) => refund.paymentId === paymentId).length;
    const retried = await adapter.refund(payment, `refund-${paymentId}`);

    // Assess
    expect(error).toBeInstanceOf(PaymentProviderUnavailableError);
    expect(error).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE', status: 503, retryable: true });
    expect(refundsDuringOutage).toBe(0);
    expect(provider.refunds().filter((refund) => refund.paymentId === paymentId)).toEqual([
      expect.objectContaining({ refundId: retried.refundId }),
    ]);
  });

  it('reports an unreachable provider as unavailable', async () => {
    // Prepare
    const closedPort = await findFreePort();
    const unreachable = new HttpPaymentProvider({
      baseUrl: `http://127.0.0.1:${closedPort}`,
      apiKey: API_KEY,
    });

    // Act
    const error = await unreachable
      .createIntent({ orderId: uniqueOrderId(), amount: 1, currency: 'EUR' }, 'k')
      .catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(PaymentProviderUnavailableError);
    expect(error).toMatchObject({ retryable: true, status: undefined });
  });

  it('reports a provider that does not answer in time as unavailable', async () => {
    // Prepare
    const silent = createServer(() => {
      // Never answers: the adapter's timeout must end the call.
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const slow = new HttpPaymentProvider({
      baseUrl: `http://127.0.0.1:${address.port}`,
      apiKey: API_KEY,
      timeoutMs: 50,
    });

    try {
      // Act
      const error = await slow
        .refund({ paymentId: 'pi_x', amount: 1, currency: 'EUR' }, 'k')
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(PaymentProviderUnavailableError);
      expect((error as Error).message).toContain('no answer within 50 ms');
    } finally {
      await new Promise<void>((resolve) => {
        silent.close(() => resolve());
        silent.closeAllConnections();
      });
    }
  });

  it('stops with deliveries still pending, abandoning them', async () => {
    // Prepare
    const closedPort = await findFreePort();
    const doomed = await startFakePaymentProvider({
      apiKey: API_KEY,
      webhookSecret: WEBHOOK_SECRET,
      webhookUrl: `http://127.0.0.1:${closedPort}/webhooks`,
      refundCallbackDelayMs: 0,
      deliveryRetry: { attempts: 5, baseDelayMs: 60_000 },
    });
    const client = new HttpPaymentProvider({ baseUrl: doomed.url, apiKey: API_KEY });
    await client.refund({ paymentId: 'pi_doomed', amount: 1, currency: 'EUR' }, 'refund-doomed');
    const callback = doomed.sendCallback({
      type: 'payment.succeeded',
      orderId: 'o',
      amount: 1,
      currency: 'EUR',
    });
    const outcome = callback.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await eventually(() => (doomed.deliveries().length >= 2 ? true : undefined));

    // Act
    const startedAt = Date.now();
    await doomed.stop();

    // Assess
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(await outcome).toBeInstanceOf(FakePaymentProviderStoppedError);
    expect(doomed.deliveries().map((delivery) => delivery.attempt)).toEqual([1, 1]);
    const afterStop = await client
      .refund({ paymentId: 'pi_doomed', amount: 1, currency: 'EUR' }, 'refund-doomed')
      .catch((caught: unknown) => caught);
    expect(afterStop).toBeInstanceOf(PaymentProviderUnavailableError);
  });
});
