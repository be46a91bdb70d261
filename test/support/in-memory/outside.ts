import type {
  PaymentIntent,
  PaymentProvider,
  PaymentTimers,
  RefundRequest,
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

/**
 * A payment provider that keeps its promise of idempotency: a repeated key answers the first intent. Every call
 * is recorded with its key; `beforeIntent` runs inside the call, where a test lets a competitor act.
 */
export class RecordingPaymentProvider implements PaymentProvider {
  public readonly intentKeys: string[] = [];
  public readonly refundKeys: string[] = [];
  public beforeIntent: () => Promise<void> = async () => undefined;
  private readonly intents = new Map<string, PaymentIntent>();

  public async createIntent(
    intent: { readonly orderId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<PaymentIntent> {
    this.intentKeys.push(idempotencyKey);
    await this.beforeIntent();
    const existing = this.intents.get(idempotencyKey);
    if (existing !== undefined) return existing;
    const created = { paymentId: `pi_${this.intents.size + 1}`, ...intent };
    this.intents.set(idempotencyKey, created);
    return created;
  }

  public async refund(
    payment: { readonly paymentId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<RefundRequest> {
    this.refundKeys.push(idempotencyKey);
    return { refundId: `re_${payment.paymentId}`, paymentId: payment.paymentId };
  }
}
