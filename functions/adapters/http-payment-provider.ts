import { z } from 'zod';
import {
  type PaymentIntent,
  type PaymentProvider,
  PaymentProviderInvalidResponseError,
  PaymentProviderRejectedError,
  PaymentProviderUnavailableError,
  type RefundRequest,
} from '../domain/ports';
import { describeIssues, parseWith } from '../domain/validation';

export interface HttpPaymentProviderOptions {
  /** The provider's API root, e.g. `https://api.provider.example` (a trailing slash is fine). */
  readonly baseUrl: string;
  /** Secret API key, sent as a Bearer token. */
  readonly apiKey: string;
  /** Per call, body included. Default 5000 ms; keep it well under the Lambda's own timeout. */
  readonly timeoutMs?: number;
  /** Injected for tests; default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

// Tolerant readers: extra fields the provider adds later must not break us, missing or mistyped ones must.
const intentResponseSchema = z.object({
  paymentId: z.string().min(1),
  orderId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
});

const refundResponseSchema = z.object({
  refundId: z.string().min(1),
  paymentId: z.string().min(1),
});

const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string().optional() }),
});

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * {@link PaymentProvider} over the provider's REST API (JSON, Bearer key, `Idempotency-Key` header). It does not
 * retry by itself: the caller (a Lambda with its trigger's retries, or a saga step) decides, using `retryable`.
 */
export class HttpPaymentProvider implements PaymentProvider {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  public constructor(private readonly options: HttpPaymentProviderOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchFn = options.fetch ?? fetch;
  }

  public async createIntent(
    intent: { readonly orderId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<PaymentIntent> {
    const body = { orderId: intent.orderId, amount: intent.amount, currency: intent.currency };
    const answer = await this.post('/v1/payment_intents', body, idempotencyKey, intentResponseSchema);
    return {
      paymentId: answer.paymentId,
      orderId: answer.orderId,
      amount: answer.amount,
      currency: answer.currency,
    };
  }

  public async refund(
    payment: { readonly paymentId: string; readonly amount: number; readonly currency: string },
    idempotencyKey: string,
  ): Promise<RefundRequest> {
    const body = { paymentId: payment.paymentId, amount: payment.amount, currency: payment.currency };
    const answer = await this.post('/v1/refunds', body, idempotencyKey, refundResponseSchema);
    return { refundId: answer.refundId, paymentId: answer.paymentId };
  }

  private async post<T>(
    path: string,
    body: Record<string, unknown>,
    idempotencyKey: string,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const what = `POST ${path}`;
    let status: number;
    let text: string;
    try {
      // The timeout signal also covers reading the body, so a provider that stalls mid-answer is cut off too.
      const response = await this.fetchFn(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : `network error (${error instanceof Error ? error.message : String(error)})`;
      throw new PaymentProviderUnavailableError(`payment provider ${what}: ${reason}`, undefined, {
        cause: error,
      });
    }

    if (status >= 200 && status < 300) {
      return parseWith(
        schema,
        parseJson(text),
        (issues, cause) =>
          new PaymentProviderInvalidResponseError(
            `payment provider ${what} answered ${status} with an unexpected body: ${describeIssues(issues)}`,
            { cause },
          ),
      );
    }

    const error = errorBodySchema.safeParse(parseJson(text));
    const providerCode = error.success ? error.data.error.code : 'unknown';
    const detail =
      error.success && error.data.error.message !== undefined ? `: ${error.data.error.message}` : '';
    const message = `payment provider ${what} answered ${status} (${providerCode})${detail}`;
    if (status === 429 || status >= 500) {
      throw new PaymentProviderUnavailableError(message, status);
    }
    throw new PaymentProviderRejectedError(status, providerCode, message);
  }
}

/** `undefined` for a body that is not JSON, which the schemas then reject with a clear message. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
