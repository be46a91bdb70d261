import * as z from 'zod/mini';
import {
  LogisticsRejectedError,
  type LogisticsSystem,
  LogisticsUnavailableError,
  type PickLine,
  type PickReceipt,
  type Warehouse,
} from '../domain/fulfillment-ports';
import { ActionRefusedError } from '../domain/saga-ledger';

/**
 * {@link Warehouse} over the warehouse's REST API:
 *
 * - `POST /v1/picks` with `Idempotency-Key: <key>` and `{ orderId, items: [{ sku, quantity }] }` -> 200
 *   `{ pickId, ... }`; a repeat with the same key replays the first answer; 409 `cancelled` when the pick's
 *   return was recorded first (its tombstone).
 * - `POST /v1/returns` with `{ orderId, pickKey }` -> 200 `{ status: 'returned' | 'tombstoned' }`; idempotent.
 *
 * Errors: 429, 5xx and network failures are {@link LogisticsUnavailableError} (transient; the key makes a repeat
 * safe), 409 `cancelled` is `ActionRefusedError`, any other 4xx {@link LogisticsRejectedError}. The adapter does
 * not retry by itself: the state machine's Retry does, with backoff and jitter.
 */

export interface HttpLogisticsOptions {
  /** The API root, e.g. `https://warehouse.example` (a trailing slash is fine). */
  readonly baseUrl: string;
  /** Per call, body included. Default 5000 ms, well under the participant Lambda's timeout. */
  readonly timeoutMs?: number;
  /** Injected for tests; default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

const DEFAULT_TIMEOUT_MS = 5000;

const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.optional(z.string()) }),
});

/** The provider's error code for an action whose cancellation it recorded first. */
const CANCELLED_CODE = 'cancelled';

/**
 * One JSON POST to a logistics system, with its answer mapped to the saga's errors. Shared by the warehouse and
 * transport adapters, whose APIs follow the same conventions (JSON, `Idempotency-Key`, `{ error: { code } }`).
 */
export async function postLogistics<T>(
  system: LogisticsSystem,
  options: HttpLogisticsOptions,
  request: {
    readonly path: string;
    readonly body: Record<string, unknown>;
    readonly idempotencyKey?: string;
    readonly schema: z.core.$ZodType<T>;
  },
): Promise<T> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fetchFn = options.fetch ?? fetch;
  const what = `${system} POST ${request.path}`;
  let status: number;
  let text: string;
  try {
    // The timeout also covers reading the body, so a system that stalls mid-answer is cut off too.
    const response = await fetchFn(`${baseUrl}${request.path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(request.idempotencyKey !== undefined && { 'idempotency-key': request.idempotencyKey }),
      },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${timeoutMs} ms`
        : `network error (${error instanceof Error ? error.message : String(error)})`;
    throw new LogisticsUnavailableError(system, `${what}: ${reason}`, { cause: error });
  }

  if (status >= 200 && status < 300) {
    const parsed = z.safeParse(request.schema, parseJson(text));
    if (!parsed.success) {
      // Not transient: a repeat under the same key replays the same body.
      throw new LogisticsRejectedError(system, `${what} answered ${status} with an unexpected body`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }
  const errorBody = errorBodySchema.safeParse(parseJson(text));
  const code = errorBody.success ? errorBody.data.error.code : 'unknown';
  const message = `${what} answered ${status} (${code})`;
  if (status === 429 || status >= 500) throw new LogisticsUnavailableError(system, message);
  if (status === 409 && code === CANCELLED_CODE) throw new ActionRefusedError(message);
  throw new LogisticsRejectedError(system, message);
}

/** `undefined` for a body that is not JSON, which the schemas then reject. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// Tolerant readers: fields the system adds later must not break us; missing or mistyped ones must.
const pickAnswer = z.object({ pickId: z.string().check(z.minLength(1)) });
const returnAnswer = z.object({ status: z.enum(['returned', 'tombstoned']) });

export class HttpWarehouse implements Warehouse {
  public constructor(private readonly options: HttpLogisticsOptions) {}

  public async pick(
    orderId: string,
    items: readonly PickLine[],
    idempotencyKey: string,
  ): Promise<PickReceipt> {
    const answer = await postLogistics('warehouse', this.options, {
      path: '/v1/picks',
      body: { orderId, items: items.map((line) => ({ sku: line.sku, quantity: line.quantity })) },
      idempotencyKey,
      schema: pickAnswer,
    });
    return { pickId: answer.pickId };
  }

  public async returnGoods(orderId: string, idempotencyKey: string): Promise<void> {
    await postLogistics('warehouse', this.options, {
      path: '/v1/returns',
      body: { orderId, pickKey: idempotencyKey },
      schema: returnAnswer,
    });
  }
}
