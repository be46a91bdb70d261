import {
  IntentStatus,
  type PaymentIntent,
  type PaymentProvider,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  type PaymentTimers,
  type ProviderEvent,
  ProviderEventSubject,
  type RefundRequest,
  RefundStatus,
  type UndeliveredEvents,
} from '../../../functions/domain/ports';

/** Timers that remember what was asked of them, and fail on demand with `failure`. */
export class RecordingTimers implements PaymentTimers {
  public readonly scheduled = new Map<string, Date>();
  public readonly cancelled: string[] = [];
  public failure: Error | undefined;

  public async schedule(orderId: string, deadline: Date): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.scheduled.set(orderId, deadline);
  }

  public async cancel(orderId: string): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.cancelled.push(orderId);
  }
}

/** One call of the port, as a test asserts on it. */
export interface ProviderCall {
  readonly method: keyof PaymentProvider;
  readonly paymentId?: string;
  readonly idempotencyKey?: string;
}

/** An event the provider emitted, and whether a webhook endpoint acknowledged it. */
export interface EmittedEvent {
  readonly event: ProviderEvent;
  delivered: boolean;
}

/** Events numbered across every provider of a test file, so two providers over one table never share an id. */
let eventsEmitted = 0;

/** Intents that can no longer be cancelled: Stripe answers `payment_intent_unexpected_state`. */
const UNCANCELLABLE: readonly IntentStatus[] = [
  IntentStatus.SUCCEEDED,
  IntentStatus.PROCESSING,
  IntentStatus.CANCELED,
];

/**
 * The payment provider as Stripe behaves behind the port, in memory: intents move through Stripe's statuses as
 * the customer acts (`pay`, `fail`, `startProcessing`), each move emits the event Stripe would send, and an
 * idempotency key answers what its first call answered. Every call of the port is recorded in `calls`;
 * `outage(n)` makes the next n calls fail as unavailable; `beforeIntent` runs inside `createIntent`, where a
 * test lets a competitor act.
 */
export class InMemoryPaymentProvider implements PaymentProvider {
  public readonly calls: ProviderCall[] = [];
  public readonly events: EmittedEvent[] = [];
  public beforeIntent: () => Promise<void> = async () => undefined;
  private readonly intents = new Map<string, PaymentIntent>();
  private readonly refunds: RefundRequest[] = [];
  /** Answers by idempotency key, per method, as Stripe replays the first response of a key. */
  private readonly answered = new Map<string, PaymentIntent | RefundRequest>();
  private failingCalls = 0;

  private readonly now: () => Date;
  private readonly paymentIdFor: (orderId: string, sequence: number) => string;

  /**
   * `now` stamps the events, as Stripe's clock does; `paymentIdFor` names a new intent (`pi_<sequence>` unless a
   * test wants ids it can derive from the order).
   */
  public constructor(
    options: {
      readonly now?: () => Date;
      readonly paymentIdFor?: (orderId: string, sequence: number) => string;
    } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.paymentIdFor = options.paymentIdFor ?? ((_, sequence) => `pi_${sequence}`);
  }

  /** The idempotency keys `createIntent` was called with, in order. */
  public get intentKeys(): string[] {
    return this.keysOf('createIntent');
  }

  public get refundKeys(): string[] {
    return this.keysOf('refund');
  }

  public callsOf(method: keyof PaymentProvider): ProviderCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  /** The next `calls` calls of the port fail with `PaymentProviderUnavailableError` (a 503). */
  public outage(calls: number): void {
    this.failingCalls = calls;
  }

  public async createIntent(
    intent: { readonly orderId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<PaymentIntent> {
    this.call({ method: 'createIntent', idempotencyKey });
    await this.beforeIntent();
    const replayed = this.answered.get(`createIntent:${idempotencyKey}`);
    if (replayed !== undefined) return { ...(replayed as PaymentIntent) };
    const sequence = this.intents.size + 1;
    const paymentId = this.paymentIdFor(intent.orderId, sequence);
    const created: PaymentIntent = {
      paymentId,
      ...intent,
      status: IntentStatus.REQUIRES_PAYMENT_METHOD,
      clientSecret: `${paymentId}_secret_${sequence}`,
      lastPaymentError: undefined,
    };
    this.intents.set(paymentId, created);
    this.answered.set(`createIntent:${idempotencyKey}`, created);
    return { ...created };
  }

  public async retrieveIntent(paymentId: string): Promise<PaymentIntent> {
    this.call({ method: 'retrieveIntent', paymentId });
    return { ...this.intent(paymentId) };
  }

  public async cancelIntent(paymentId: string, idempotencyKey: string): Promise<PaymentIntent> {
    this.call({ method: 'cancelIntent', paymentId, idempotencyKey });
    const replayed = this.answered.get(`cancelIntent:${idempotencyKey}`);
    if (replayed !== undefined) return { ...(replayed as PaymentIntent) };
    const intent = this.intent(paymentId);
    if (UNCANCELLABLE.includes(intent.status)) {
      throw new PaymentProviderRejectedError(
        400,
        'payment_intent_unexpected_state',
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`,
      );
    }
    const cancelled = this.move(paymentId, { status: IntentStatus.CANCELED }, 'payment_intent.canceled');
    this.answered.set(`cancelIntent:${idempotencyKey}`, cancelled);
    return { ...cancelled };
  }

  public async refund(
    payment: { readonly paymentId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<RefundRequest> {
    this.call({ method: 'refund', paymentId: payment.paymentId, idempotencyKey });
    const replayed = this.answered.get(`refund:${idempotencyKey}`);
    if (replayed !== undefined) return { ...(replayed as RefundRequest) };
    if (this.intent(payment.paymentId).status !== IntentStatus.SUCCEEDED) {
      throw new PaymentProviderRejectedError(
        400,
        'charge_not_succeeded',
        'This PaymentIntent has no charge.',
      );
    }
    const refund: RefundRequest = {
      refundId: `re_${this.refunds.length + 1}`,
      paymentId: payment.paymentId,
      status: RefundStatus.PENDING,
    };
    this.refunds.push(refund);
    this.answered.set(`refund:${idempotencyKey}`, refund);
    this.emit('refund.created', ProviderEventSubject.REFUND, payment.paymentId);
    return { ...refund };
  }

  public async refundsOf(paymentId: string): Promise<RefundRequest[]> {
    this.call({ method: 'refundsOf', paymentId });
    return this.refunds
      .filter((refund) => refund.paymentId === paymentId)
      .reverse()
      .map((refund) => ({ ...refund }));
  }

  public async undeliveredEvents(since: Date, limit: number): Promise<UndeliveredEvents> {
    this.call({ method: 'undeliveredEvents' });
    const undelivered = this.events
      .filter(({ event, delivered }) => !delivered && event.created.getTime() >= since.getTime())
      .map(({ event }) => ({ ...event }));
    return { events: undelivered.slice(0, limit), hasMore: undelivered.length > limit };
  }

  /** The customer pays the intent: it succeeds. */
  public pay(paymentId: string): ProviderEvent {
    return this.customerMove(
      paymentId,
      { status: IntentStatus.SUCCEEDED, lastPaymentError: undefined },
      'payment_intent.succeeded',
    );
  }

  /** The customer's attempt is declined: the intent asks for a payment method again, with the reason. */
  public fail(paymentId: string, message: string): ProviderEvent {
    return this.customerMove(
      paymentId,
      { status: IntentStatus.REQUIRES_PAYMENT_METHOD, lastPaymentError: message },
      'payment_intent.payment_failed',
    );
  }

  /** The customer paid with an asynchronous method: the intent is processing until `pay` or `fail`. */
  public startProcessing(paymentId: string): ProviderEvent {
    return this.customerMove(paymentId, { status: IntentStatus.PROCESSING }, 'payment_intent.processing');
  }

  /** The customer must act (3-D Secure, a wallet's QR code) before the payment goes on. */
  public requireAction(paymentId: string): ProviderEvent {
    return this.customerMove(
      paymentId,
      { status: IntentStatus.REQUIRES_ACTION },
      'payment_intent.requires_action',
    );
  }

  /** Stripe's amend of an intent (PaymentIntent update), for a provider reporting other facts than ordered. */
  public update(paymentId: string, changes: { readonly amount?: number; readonly currency?: string }): void {
    this.intents.set(paymentId, { ...this.intent(paymentId), ...changes });
  }

  /** The provider completes every pending refund of the intent; the refunds' events are returned. */
  public completeRefunds(paymentId: string): ProviderEvent[] {
    const completed: ProviderEvent[] = [];
    this.refunds.forEach((refund, index) => {
      if (refund.paymentId !== paymentId || refund.status !== RefundStatus.PENDING) return;
      this.refunds[index] = { ...refund, status: RefundStatus.SUCCEEDED };
      completed.push(this.emit('refund.updated', ProviderEventSubject.REFUND, paymentId));
    });
    return completed;
  }

  /** The newest event about the intent; fails the test if there is none. */
  public latestEventOf(paymentId: string): ProviderEvent {
    const found = this.events.findLast(({ event }) => event.paymentId === paymentId);
    if (found === undefined) throw new Error(`no event about ${paymentId}`);
    return found.event;
  }

  /** A webhook endpoint acknowledged the event: it is no longer listed as undelivered. */
  public acknowledge(eventId: string): void {
    for (const emitted of this.events) {
      if (emitted.event.id === eventId) emitted.delivered = true;
    }
  }

  private customerMove(
    paymentId: string,
    changes: Partial<Pick<PaymentIntent, 'status' | 'lastPaymentError'>>,
    type: string,
  ): ProviderEvent {
    const { status } = this.intent(paymentId);
    if (status === IntentStatus.SUCCEEDED || status === IntentStatus.CANCELED) {
      throw new Error(`the customer cannot act on ${paymentId}: it is ${status}`);
    }
    this.move(paymentId, changes, type);
    return this.latestEventOf(paymentId);
  }

  private move(
    paymentId: string,
    changes: Partial<Pick<PaymentIntent, 'status' | 'lastPaymentError'>>,
    type: string,
  ): PaymentIntent {
    const moved = { ...this.intent(paymentId), ...changes };
    this.intents.set(paymentId, moved);
    this.emit(type, ProviderEventSubject.PAYMENT_INTENT, paymentId);
    return moved;
  }

  private emit(type: string, subject: ProviderEventSubject, paymentId: string): ProviderEvent {
    const event: ProviderEvent = {
      id: `evt_${++eventsEmitted}`,
      type,
      subject,
      paymentId,
      orderId: this.intent(paymentId).orderId,
      created: this.now(),
    };
    this.events.push({ event, delivered: false });
    return event;
  }

  private intent(paymentId: string): PaymentIntent {
    const intent = this.intents.get(paymentId);
    if (intent === undefined) {
      throw new PaymentProviderRejectedError(
        404,
        'resource_missing',
        `No such payment_intent: '${paymentId}'`,
      );
    }
    return intent;
  }

  private call(call: ProviderCall): void {
    this.calls.push(call);
    if (this.failingCalls > 0) {
      this.failingCalls -= 1;
      throw new PaymentProviderUnavailableError('the provider is unavailable (outage)', 503);
    }
  }

  private keysOf(method: keyof PaymentProvider): string[] {
    return this.callsOf(method).flatMap((call) =>
      call.idempotencyKey === undefined ? [] : [call.idempotencyKey],
    );
  }
}
