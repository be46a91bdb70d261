import { randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { LocalServerError } from '../../http';
import { FakePaymentProviderInputError, type Lifetime, newId, unixSeconds } from './lifetime';
import { AUTOMATIC, type EventCause, type EventLog } from './webhooks';

/** Stripe's refusal body, `{ error: StripeErrorBody }`. */
export interface StripeErrorBody {
  readonly type: 'invalid_request_error' | 'card_error' | 'api_error' | 'idempotency_error';
  readonly code?: string;
  readonly message: string;
  readonly param?: string;
  readonly decline_code?: string;
  readonly payment_intent?: Stripe.PaymentIntent;
}

/**
 * A request Stripe refuses. `kept`: the refusal came after the call changed something (a declined card moves
 * the intent), so it is stored under the idempotency key and replayed; other refusals store nothing.
 */
export class StripeRequestError extends LocalServerError {
  public override readonly name = 'StripeRequestError';

  public constructor(
    public readonly status: number,
    public readonly body: StripeErrorBody,
    public readonly kept = false,
  ) {
    super(body.code ?? body.type, body.message);
  }
}

export function invalidRequest(message: string, code?: string, param?: string): StripeRequestError {
  return new StripeRequestError(400, {
    type: 'invalid_request_error',
    message,
    ...(code === undefined ? {} : { code }),
    ...(param === undefined ? {} : { param }),
  });
}

/** Stripe's answer for an id in the path or a parameter that names nothing. */
export function noSuch(resource: string, id: string, param: string, status: 400 | 404): StripeRequestError {
  return new StripeRequestError(status, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${resource}: '${id}'`,
    param,
  });
}

function unexpectedState(message: string, intent: Stripe.PaymentIntent): StripeRequestError {
  return new StripeRequestError(400, {
    type: 'invalid_request_error',
    code: 'payment_intent_unexpected_state',
    message,
    payment_intent: intent,
  });
}

type MethodType = 'card' | 'us_bank_account' | 'alipay' | 'wechat_pay';
/** What confirming with a method does: pay now, decline, debit a bank (processing), or wait for the customer. */
type Outcome =
  | { kind: 'succeed' }
  | { kind: 'decline'; declineCode: string }
  | { kind: 'process' }
  | { kind: 'action' };

/** Stripe's documented test PaymentMethods the fake knows (see payment-provider.ts's top comment). */
const TEST_PAYMENT_METHODS: Readonly<Record<string, { type: MethodType; outcome: Outcome }>> = {
  pm_card_visa: { type: 'card', outcome: { kind: 'succeed' } },
  pm_card_mastercard: { type: 'card', outcome: { kind: 'succeed' } },
  pm_card_chargeDeclined: { type: 'card', outcome: { kind: 'decline', declineCode: 'generic_decline' } },
  pm_card_chargeDeclinedInsufficientFunds: {
    type: 'card',
    outcome: { kind: 'decline', declineCode: 'insufficient_funds' },
  },
  pm_usBankAccount_success: { type: 'us_bank_account', outcome: { kind: 'process' } },
};
/** The wallets that send the customer away to approve (`payment_method_data[type]`). */
export const WALLET_TYPES = ['alipay', 'wechat_pay'] as const;
export type WalletType = (typeof WALLET_TYPES)[number];
/** What `automatic_payment_methods` offers. */
const AUTOMATIC_TYPES: MethodType[] = ['card', 'us_bank_account', 'alipay', 'wechat_pay'];

/** A charge, reduced to what the fake's charge events carry. */
export interface FakeCharge {
  readonly id: string;
  readonly object: 'charge';
  readonly amount: number;
  readonly amount_captured: number;
  amount_refunded: number;
  readonly created: number;
  readonly currency: string;
  readonly livemode: false;
  readonly metadata: Stripe.Metadata;
  readonly paid: boolean;
  readonly payment_intent: string;
  readonly payment_method: string;
  refunded: boolean;
  readonly status: 'succeeded' | 'failed';
  readonly failure_code: string | null;
  readonly failure_message: string | null;
}

export interface IntentInput {
  readonly amount: number;
  readonly currency: string;
  readonly metadata: Stripe.Metadata;
  readonly paymentMethodTypes: string[] | undefined;
  /** The types came as `allowed_payment_method_types` (echoed back under that name too). */
  readonly allowed: boolean;
  readonly description: string | null;
  /** Kept for a later confirm (status `requires_confirmation`). */
  readonly paymentMethod: string | undefined;
}

export interface ConfirmInput {
  readonly paymentMethod: string | undefined;
  readonly walletType: WalletType | undefined;
  readonly returnUrl: string | undefined;
}

export interface RefundInput {
  readonly paymentIntent: string;
  readonly amount: number | undefined;
  readonly reason: Stripe.RefundCreateParams.Reason | undefined;
  readonly metadata: Stripe.Metadata;
}

export interface ResourceSettings {
  readonly processingMs: number;
  readonly refundSettleMs: number;
  /** The fake's own base URL, for the approval pages of wallets' `next_action`. */
  readonly baseUrl: () => string;
}

const CANCELABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CONFIRMABLE: readonly string[] = [
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
];

/** The PaymentIntents, charges and refunds, and the state machine that moves them and emits their events. */
export class Resources {
  public readonly intents = new Map<string, Stripe.PaymentIntent>();
  public readonly refunds: Stripe.Refund[] = [];
  private readonly charges = new Map<string, FakeCharge>();
  /** PaymentMethods made from `payment_method_data`, so a later confirm can name them. */
  private readonly madeMethods = new Map<string, MethodType>();

  public constructor(
    private readonly settings: ResourceSettings,
    private readonly log: EventLog,
    private readonly lifetime: Lifetime,
  ) {}

  public intent(id: string, param = 'intent', status: 400 | 404 = 404): Stripe.PaymentIntent {
    const intent = this.intents.get(id);
    if (intent === undefined) throw noSuch('payment_intent', id, param, status);
    return intent;
  }

  public refund(id: string): Stripe.Refund {
    const refund = this.refunds.find((candidate) => candidate.id === id);
    if (refund === undefined) throw noSuch('refund', id, 'id', 404);
    return refund;
  }

  public createIntent(input: IntentInput, cause: EventCause): Stripe.PaymentIntent {
    const { paymentMethod } = input;
    if (paymentMethod !== undefined && this.methodType(paymentMethod) === undefined) {
      throw noSuch('PaymentMethod', paymentMethod, 'payment_method', 400);
    }
    const id = newId('pi');
    const automatic = input.paymentMethodTypes === undefined;
    const intent: Stripe.PaymentIntent = {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: input.allowed
        ? (input.paymentMethodTypes as Stripe.PaymentIntent.AllowedPaymentMethodType[])
        : null,
      amount: input.amount,
      amount_capturable: 0,
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: automatic ? { allow_redirects: 'always', enabled: true } : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic_async',
      client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
      confirmation_method: 'automatic',
      created: unixSeconds(),
      currency: input.currency,
      customer: null,
      customer_account: null,
      description: input.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: input.metadata,
      next_action: null,
      on_behalf_of: null,
      payment_method: paymentMethod ?? null,
      payment_method_configuration_details: null,
      payment_method_options: {},
      payment_method_types: input.paymentMethodTypes ?? AUTOMATIC_TYPES,
      payment_record: null,
      processing: null,
      receipt_email: null,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: paymentMethod === undefined ? 'requires_payment_method' : 'requires_confirmation',
      transfer_group: null,
    };
    this.intents.set(id, intent);
    this.log.emit('payment_intent.created', intent, id, cause);
    return intent;
  }

  /** Replaces some fields of an intent and emits `type` with the fields' previous values. */
  private update(
    id: string,
    patch: Partial<Stripe.PaymentIntent>,
    type: string | undefined,
    cause: EventCause,
  ): Stripe.PaymentIntent {
    const before = this.intent(id);
    const after: Stripe.PaymentIntent = { ...before, ...patch };
    this.intents.set(id, after);
    if (type !== undefined) {
      const previous = Object.fromEntries(
        Object.keys(patch).map((key) => [key, before[key as keyof Stripe.PaymentIntent]]),
      );
      this.log.emit(type, after, id, cause, previous);
    }
    return after;
  }

  private methodType(id: string): MethodType | undefined {
    return TEST_PAYMENT_METHODS[id]?.type ?? this.madeMethods.get(id);
  }

  /** The method a confirm pays with: a test PaymentMethod, one made before, or a new wallet one. */
  private methodOf(intent: Stripe.PaymentIntent, input: ConfirmInput): { id: string; type: MethodType } {
    if (input.walletType !== undefined) {
      const id = newId('pm');
      this.madeMethods.set(id, input.walletType);
      return { id, type: input.walletType };
    }
    const id =
      input.paymentMethod ?? (typeof intent.payment_method === 'string' ? intent.payment_method : null);
    if (id === null) {
      throw unexpectedState(
        "You cannot confirm this PaymentIntent because it's missing a payment method. Update it with a payment_method, or confirm it with one.",
        intent,
      );
    }
    const type = this.methodType(id);
    if (type === undefined) throw noSuch('PaymentMethod', id, 'payment_method', 400);
    return { id, type };
  }

  public confirm(id: string, input: ConfirmInput, cause: EventCause): Stripe.PaymentIntent {
    const intent = this.intent(id);
    if (!CONFIRMABLE.includes(intent.status)) {
      throw unexpectedState(
        `This PaymentIntent's status is ${intent.status}, but it must be one of ${CONFIRMABLE.join(', ')} to be confirmed.`,
        intent,
      );
    }
    const method = this.methodOf(intent, input);
    if (!intent.payment_method_types.includes(method.type)) {
      throw invalidRequest(
        `The PaymentMethod provided (${method.type}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${intent.payment_method_types.join(', ')}.`,
        'payment_intent_incompatible_payment_method',
        'payment_method',
      );
    }
    const outcome = TEST_PAYMENT_METHODS[method.id]?.outcome ?? { kind: 'action' };
    const base = { payment_method: method.id, last_payment_error: null, next_action: null };
    switch (outcome.kind) {
      case 'succeed':
        return this.succeed(id, method.id, base, cause);
      case 'decline':
        return this.decline(intent, method.id, outcome.declineCode, cause);
      case 'process':
        return this.process(id, base, cause);
      case 'action':
        return this.update(
          id,
          { ...base, status: 'requires_action', next_action: this.nextAction(id, method.type, input) },
          'payment_intent.requires_action',
          cause,
        );
    }
  }

  private nextAction(id: string, type: MethodType, input: ConfirmInput): Stripe.PaymentIntent.NextAction {
    const page = `${this.settings.baseUrl()}/_local/approve/${id}`;
    if (type === 'wechat_pay') {
      return {
        type: 'wechat_pay_display_qr_code',
        wechat_pay_display_qr_code: {
          data: page,
          hosted_instructions_url: page,
          image_data_url: 'data:image/png;base64,',
          image_url_png: `${page}.png`,
          image_url_svg: `${page}.svg`,
        },
      };
    }
    return {
      type: 'alipay_handle_redirect',
      alipay_handle_redirect: {
        native_data: null,
        native_url: null,
        return_url: input.returnUrl ?? null,
        url: page,
      },
    };
  }

  /** The customer approved a wallet payment: it goes processing, then succeeds. */
  public authorize(id: string): Stripe.PaymentIntent {
    const intent = this.intent(id);
    if (intent.status !== 'requires_action') {
      throw new FakePaymentProviderInputError(`${id} is ${intent.status}, not requires_action`);
    }
    return this.process(id, { next_action: null }, AUTOMATIC);
  }

  private process(id: string, patch: Partial<Stripe.PaymentIntent>, cause: EventCause): Stripe.PaymentIntent {
    const processing = this.update(
      id,
      { ...patch, status: 'processing' },
      'payment_intent.processing',
      cause,
    );
    this.lifetime.later(this.settings.processingMs, () => {
      const current = this.intents.get(id);
      if (current?.status !== 'processing' || typeof current.payment_method !== 'string') return;
      this.succeed(id, current.payment_method, {}, AUTOMATIC);
    });
    return processing;
  }

  private newCharge(intent: Stripe.PaymentIntent, method: string, declineCode?: string): FakeCharge {
    const paid = declineCode === undefined;
    const charge: FakeCharge = {
      id: newId('ch'),
      object: 'charge',
      amount: intent.amount,
      amount_captured: paid ? intent.amount : 0,
      amount_refunded: 0,
      created: unixSeconds(),
      currency: intent.currency,
      livemode: false,
      metadata: intent.metadata,
      paid,
      payment_intent: intent.id,
      payment_method: method,
      refunded: false,
      status: paid ? 'succeeded' : 'failed',
      failure_code: paid ? null : 'card_declined',
      failure_message: paid ? null : 'Your card was declined.',
    };
    this.charges.set(charge.id, charge);
    return charge;
  }

  private succeed(
    id: string,
    method: string,
    patch: Partial<Stripe.PaymentIntent>,
    cause: EventCause,
  ): Stripe.PaymentIntent {
    const charge = this.newCharge(this.intent(id), method);
    this.log.emit('charge.succeeded', charge, id, cause);
    return this.update(
      id,
      { ...patch, status: 'succeeded', amount_received: charge.amount, latest_charge: charge.id },
      'payment_intent.succeeded',
      cause,
    );
  }

  private decline(
    intent: Stripe.PaymentIntent,
    method: string,
    declineCode: string,
    cause: EventCause,
  ): never {
    const charge = this.newCharge(intent, method, declineCode);
    const message = 'Your card was declined.';
    const error = { type: 'card_error', code: 'card_declined', decline_code: declineCode, message } as const;
    const declined = this.update(
      intent.id,
      {
        status: 'requires_payment_method',
        payment_method: null,
        next_action: null,
        latest_charge: charge.id,
        last_payment_error: { ...error, charge: charge.id, payment_method_type: 'card' },
      },
      'payment_intent.payment_failed',
      cause,
    );
    throw new StripeRequestError(402, { ...error, payment_intent: declined }, true);
  }

  public cancel(
    id: string,
    reason: Stripe.PaymentIntentCancelParams.CancellationReason | undefined,
    cause: EventCause,
  ): Stripe.PaymentIntent {
    const intent = this.intent(id);
    if (!CANCELABLE.includes(intent.status)) {
      throw unexpectedState(
        `You cannot cancel this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
        intent,
      );
    }
    const patch = {
      status: 'canceled',
      canceled_at: unixSeconds(),
      cancellation_reason: reason ?? null,
    } as const;
    return this.update(id, { ...patch, next_action: null }, 'payment_intent.canceled', cause);
  }

  public createRefund(input: RefundInput, cause: EventCause): Stripe.Refund {
    const intent = this.intent(input.paymentIntent, 'payment_intent', 400);
    const charge =
      typeof intent.latest_charge === 'string' ? this.charges.get(intent.latest_charge) : undefined;
    if (intent.status !== 'succeeded' || charge === undefined) {
      throw unexpectedState(
        `This PaymentIntent (${intent.id}) does not have a successful charge to refund; its status is ${intent.status}.`,
        intent,
      );
    }
    const refunded = this.refunds
      .filter((refund) => refund.payment_intent === intent.id && refund.status !== 'failed')
      .reduce((sum, refund) => sum + refund.amount, 0);
    const left = intent.amount_received - refunded;
    if (left === 0) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
    }
    const amount = input.amount ?? left;
    if (amount > left) {
      throw invalidRequest(
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
        'amount_too_large',
        'amount',
      );
    }
    const refund: Stripe.Refund = {
      id: newId('re'),
      object: 'refund',
      amount,
      balance_transaction: null,
      charge: charge.id,
      created: unixSeconds(),
      currency: intent.currency,
      customer: null,
      customer_account: null,
      metadata: input.metadata,
      payment_intent: intent.id,
      payment_method: typeof intent.payment_method === 'string' ? intent.payment_method : null,
      reason: input.reason ?? null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'pending',
      transfer_reversal: null,
    };
    this.refunds.push(refund);
    this.log.emit('refund.created', refund, intent.id, cause);
    this.lifetime.later(this.settings.refundSettleMs, () => this.settleRefund(refund, charge));
    return refund;
  }

  /** The money is back with the customer: the refund succeeds and the charge shows it. */
  private settleRefund(refund: Stripe.Refund, charge: FakeCharge): void {
    const settled: Stripe.Refund = { ...refund, status: 'succeeded' };
    this.refunds.splice(this.refunds.indexOf(refund), 1, settled);
    const intentId = charge.payment_intent;
    this.log.emit('refund.updated', settled, intentId, AUTOMATIC, { status: refund.status });
    const before = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
    charge.amount_refunded += refund.amount;
    charge.refunded = charge.amount_refunded >= charge.amount_captured;
    this.log.emit('charge.refunded', charge, intentId, AUTOMATIC, before);
  }
}
