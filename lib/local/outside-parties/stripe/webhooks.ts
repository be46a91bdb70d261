import { signWebhook } from '../webhook-signing';
import { FakePaymentProviderStoppedError, type Lifetime, newId, unixSeconds } from './lifetime';

export interface DeliveryRetryOptions {
  /** Attempts per event, the first included. Default 8. */
  readonly attempts: number;
  /** Wait before the first retry, doubled for each next one. Default 100 ms. */
  readonly baseDelayMs: number;
  /** Upper bound of one wait. Default 5000 ms. */
  readonly maxDelayMs?: number;
}

/** Stripe's event envelope, as stored and as delivered. */
export interface FakeEvent {
  readonly id: string;
  readonly object: 'event';
  readonly api_version: string;
  readonly created: number;
  readonly data: { readonly object: object; readonly previous_attributes?: Record<string, unknown> };
  readonly livemode: false;
  /** 1 until a delivery got a 2xx, then 0; 0 from the start for a type the endpoint is not registered for. */
  pending_webhooks: number;
  readonly request: { readonly id: string | null; readonly idempotency_key: string | null };
  readonly type: string;
}

/**
 * Where an event's delivery stands; `lost` ones were dropped on purpose and are never sent, `unsubscribed` ones
 * have a type the endpoint's `enabled_events` leave out and are never sent either (listed all the same).
 */
export type EventDelivery = 'scheduled' | 'delivered' | 'failed' | 'lost' | 'unsubscribed';

export interface StoredEvent {
  readonly event: FakeEvent;
  /** The PaymentIntent the event is about, directly or through its charge or refund. */
  readonly paymentIntentId: string;
  delivery: EventDelivery;
}

/** One attempt to deliver one event. */
export interface WebhookDelivery {
  readonly eventId: string;
  readonly type: string;
  readonly paymentIntentId: string;
  /** 1 for the first try, counting up across retries. */
  readonly attempt: number;
  /** The receiver's HTTP status; absent when there was no answer. */
  readonly statusCode?: number;
  /** Why there was no answer (network error, timeout, no webhook URL). */
  readonly error?: string;
  readonly url: string;
  readonly at: string;
}

/** Deliberate trouble: the fraction (0..1) of events never sent, and how late the others leave. */
export interface WebhookLoss {
  readonly rate: number;
  readonly delayMs: number;
}

/** Stripe's wildcard in `enabled_events`: every type. */
export const ALL_EVENTS = '*';

export interface EventLogSettings {
  readonly webhookUrl: string | undefined;
  /** The endpoint's `enabled_events`: the types it is sent, or {@link ALL_EVENTS}. */
  readonly enabledEvents: readonly string[];
  readonly webhookSecret: string;
  readonly apiVersion: string;
  readonly retry: Required<DeliveryRetryOptions>;
  readonly deliveryTimeoutMs: number;
  /** Decides losses; injectable so a test's losses are deterministic. */
  readonly random: () => number;
}

/** What the API call that caused an event was, for the event's `request`. */
export interface EventCause {
  readonly requestId: string | null;
  readonly idempotencyKey: string | null;
}

/** A change without an API call (a payment settling, a refund completing). */
export const AUTOMATIC: EventCause = { requestId: null, idempotencyKey: null };

/**
 * The events the fake created and their delivery, as Stripe keeps them: each event is sent on its own, in the
 * background, signed, retried with backoff until a 2xx or the attempts run out.
 */
export class EventLog {
  private readonly stored: StoredEvent[] = [];
  private readonly attempts: WebhookDelivery[] = [];
  private readonly losingIntents = new Set<string>();
  private readonly enabled: ReadonlySet<string>;

  public constructor(
    private readonly settings: EventLogSettings,
    private readonly lifetime: Lifetime,
    public loss: WebhookLoss,
  ) {
    this.enabled = new Set(settings.enabledEvents);
  }

  /** Every later event about this intent is lost. */
  public loseFor(paymentIntentId: string): void {
    this.losingIntents.add(paymentIntentId);
  }

  public events(): StoredEvent[] {
    return this.stored.slice();
  }

  public deliveries(): WebhookDelivery[] {
    return this.attempts.slice();
  }

  public find(id: string): StoredEvent | undefined {
    return this.stored.find((stored) => stored.event.id === id);
  }

  /**
   * Records an event about `object` (a snapshot of it) and schedules its delivery, or loses it; an event of a
   * type the endpoint is not registered for is only recorded, as Stripe sends an endpoint only its types.
   */
  public emit(
    type: string,
    object: object,
    paymentIntentId: string,
    cause: EventCause,
    previous?: Record<string, unknown>,
  ): void {
    const subscribed = this.enabled.has(ALL_EVENTS) || this.enabled.has(type);
    const event: FakeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: this.settings.apiVersion,
      created: unixSeconds(),
      data: {
        object: structuredClone(object),
        ...(previous === undefined ? {} : { previous_attributes: structuredClone(previous) }),
      },
      livemode: false,
      pending_webhooks: subscribed ? 1 : 0,
      request: { id: cause.requestId, idempotency_key: cause.idempotencyKey },
      type,
    };
    if (!subscribed) {
      this.stored.push({ event, paymentIntentId, delivery: 'unsubscribed' });
      return;
    }
    // Only an event that would be sent can be lost, so the loss rate is a share of deliveries.
    const lost = this.losingIntents.has(paymentIntentId) || this.settings.random() < this.loss.rate;
    const stored: StoredEvent = { event, paymentIntentId, delivery: lost ? 'lost' : 'scheduled' };
    this.stored.push(stored);
    if (lost) return;
    this.lifetime.later(this.loss.delayMs, () => {
      this.deliver(stored).catch((error: unknown) => {
        // Stopping abandons the delivery on purpose; anything else would be a bug in this file.
        if (!(error instanceof FakePaymentProviderStoppedError)) throw error;
      });
    });
  }

  private async deliver(stored: StoredEvent): Promise<void> {
    const { retry } = this.settings;
    // The body is the same bytes on every attempt; only the signature's timestamp is fresh, as with Stripe.
    const rawBody = JSON.stringify(stored.event);
    for (let attempt = 1; attempt <= retry.attempts; attempt += 1) {
      if (this.lifetime.stopped) throw new FakePaymentProviderStoppedError();
      const status = await this.attempt(stored, rawBody, attempt);
      if (status !== undefined && status >= 200 && status < 300) {
        stored.delivery = 'delivered';
        stored.event.pending_webhooks = 0;
        return;
      }
      if (attempt < retry.attempts) {
        await this.lifetime.sleep(Math.min(retry.baseDelayMs * 2 ** (attempt - 1), retry.maxDelayMs));
      }
    }
    stored.delivery = 'failed';
  }

  /** One attempt, recorded; the receiver's status, or undefined when none answered. */
  private async attempt(stored: StoredEvent, rawBody: string, attempt: number): Promise<number | undefined> {
    const url = this.settings.webhookUrl;
    const record = (outcome: { statusCode: number } | { error: string }): void => {
      const { id: eventId, type } = stored.event;
      const at = new Date().toISOString();
      const { paymentIntentId } = stored;
      this.attempts.push({ eventId, type, paymentIntentId, attempt, ...outcome, url: url ?? '', at });
    };
    if (url === undefined) {
      record({ error: 'no webhook URL is configured' });
      return undefined;
    }
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'stripe-signature': signWebhook(this.settings.webhookSecret, rawBody, unixSeconds()),
        },
        body: rawBody,
        redirect: 'manual',
        signal: AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(this.settings.deliveryTimeoutMs)]),
      });
      // Drained so the keep-alive socket is reusable; the content is not the provider's business.
      await response.arrayBuffer();
      record({ statusCode: response.status });
      return response.status;
    } catch (error) {
      if (this.lifetime.stopped) throw new FakePaymentProviderStoppedError();
      record({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      return undefined;
    }
  }
}
