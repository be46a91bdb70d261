import { randomBytes, randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LocalRoute, LocalRouteResponse } from '../aws/gateway';
import {
  answerOutsidePartyFailure,
  errorAnswer,
  type JsonAnswer,
  LocalServerError,
  readBody,
  startLoopbackServer,
  writeJson,
} from '../http';

/**
 * Local stand-ins for the warehouse and the transport provider, with the two guarantees the fulfilment saga
 * relies on (see `functions/domain/fulfillment-ports.ts`):
 *
 * - Idempotency: an action (pick, shipment) is keyed by its `Idempotency-Key`; a repeat with the same key and
 *   the same parameters replays the first answer and does nothing, the same key with other parameters is 409
 *   `idempotency_key_reused`.
 * - Tombstones: a compensation (return, cancellation) for a key with no action yet records a tombstone, and an
 *   action under that key is then refused with 409 `cancelled`; so is a repeat of an action that was undone
 *   (answering "done" for it would mislead). A compensation is idempotent.
 *
 * They fail a fraction of calls with 503 `unavailable`, as an outage would, so the saga's Retry and Catch are
 * exercised locally: `failureRate` for actions, `compensationFailureRate` for compensations (separate, so a
 * test can fail the action and still watch its compensation succeed). Both can be changed at run time.
 *
 * Warehouse API: `POST /v1/picks` (`Idempotency-Key`, `{ orderId, items: [{ sku, quantity }] }`) ->
 * `{ pickId, orderId, status: 'picked' }`; `POST /v1/returns` (`{ orderId, pickKey }`) ->
 * `{ pickKey, status: 'returned' | 'tombstoned' }`.
 * Transport API: `POST /v1/shipments` (`Idempotency-Key`, `{ orderId }`) ->
 * `{ shipmentId, trackingNumber, orderId, status: 'booked' }`; `POST /v1/cancellations`
 * (`{ orderId, shipmentKey }`) -> `{ shipmentKey, status: 'cancelled' | 'tombstoned' }`.
 */

export interface LogisticsSimulatorOptions {
  /** Fraction (0..1) of actions (picks, shipments) answered 503 without acting. Default 0. */
  readonly failureRate?: number;
  /** Fraction (0..1) of compensations (returns, cancellations) answered 503 without acting. Default 0. */
  readonly compensationFailureRate?: number;
  /** Delay before each API answer, as a remote system has. Default 0. */
  readonly latencyMs?: number;
  /** Default: a free loopback port. */
  readonly port?: number;
  /** A number in [0, 1) per call, compared with the failure rates. Default `Math.random`. */
  readonly random?: () => number;
}

/** When a forced failure strikes: before the action (nothing happened) or after it (done, but answered 503). */
export type ForcedFailure = 'beforeEffect' | 'afterEffect';

/** Counts of what the simulator did, for tests and the inspection route. */
export interface LogisticsStats {
  /** Actions that took effect (one per distinct key at most). */
  readonly performed: number;
  /** Effects undone by a compensation. */
  readonly undone: number;
  /** Compensations that found no action and left a tombstone. */
  readonly tombstoned: number;
  /** Actions refused because their key was tombstoned or their effect undone. */
  readonly refused: number;
  /** Repeats answered from the idempotency record, with no new effect. */
  readonly replayed: number;
  /** Calls answered 503 (failure rate or forced). */
  readonly failed: number;
}

export interface SimulatedPick {
  readonly pickId: string;
  readonly orderId: string;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  readonly idempotencyKey: string;
  readonly status: 'picked' | 'returned';
  readonly pickedAt: string;
  readonly returnedAt?: string;
}

export interface SimulatedShipment {
  readonly shipmentId: string;
  readonly trackingNumber: string;
  readonly orderId: string;
  readonly idempotencyKey: string;
  readonly status: 'booked' | 'cancelled';
  readonly bookedAt: string;
  readonly cancelledAt?: string;
}

interface LogisticsSimulator {
  /** Base URL of the API, e.g. `http://127.0.0.1:1234`; what `WAREHOUSE_API_URL` / `TRANSPORT_API_URL` take. */
  readonly url: string;
  stats(): LogisticsStats;
  /** Keys whose compensation came before any action. */
  tombstones(): string[];
  /** Sets the fraction (0..1) of actions answered 503. */
  setFailureRate(rate: number): void;
  /** Sets the fraction (0..1) of compensations answered 503. */
  setCompensationFailureRate(rate: number): void;
  /**
   * The next `count` actions answer 503, before or after taking effect (replacing earlier forced failures);
   * the failure rate applies again afterwards. `afterEffect` is a lost answer: the retry is a replay.
   */
  failNextActions(count: number, when?: ForcedFailure): void;
  /** Inspection and control routes for the local gateway. */
  localRoutes(): LocalRoute[];
  stop(): Promise<void>;
}

export interface WarehouseSimulator extends LogisticsSimulator {
  /** Every pick that took effect, returned ones included, in order. */
  picks(): SimulatedPick[];
}

export interface TransportSimulator extends LogisticsSimulator {
  /** Every shipment that took effect, cancelled ones included, in order. */
  shipments(): SimulatedShipment[];
}

/** A simulator option or control call was invalid. */
export class LogisticsSimulatorInputError extends LocalServerError {
  public override readonly name = 'LogisticsSimulatorInputError';

  public constructor(message: string) {
    super('LOGISTICS_SIMULATOR_INVALID_INPUT', message);
  }
}

/** One kind of logistics system: its action and compensation, everything else is shared. */
interface SystemSpec<R, Input> {
  readonly name: 'warehouse' | 'transport';
  readonly actionPath: string;
  readonly compensationPath: string;
  /** The body field of a compensation that names the action's key. */
  readonly keyField: string;
  /** A compensation's answer when it found the action (now or before) and undid it. */
  readonly undoneStatus: string;
  readonly actionInput: z.ZodType<Input>;
  /** The parameters a key is bound to; a repeat with other parameters is a reused key. */
  fingerprint(input: Input): string;
  act(input: Input, key: string, at: string): R;
  undo(record: R, at: string): R;
  isUndone(record: R): boolean;
  /** The action's answer, the same for the first call and every replay. */
  answer(record: R): Record<string, unknown>;
  orderIdOf(record: R): string;
}

const MAX_BODY_BYTES = 64 * 1024;
const idSchema = z.string().min(1).max(255);
const rateSchema = z.number().min(0).max(1);
const controlBody = z.strictObject({
  failureRate: rateSchema.optional(),
  compensationFailureRate: rateSchema.optional(),
});

function checkRate(what: string, rate: number): number {
  if (!rateSchema.safeParse(rate).success) {
    throw new LogisticsSimulatorInputError(`${what} must be a number from 0 to 1, not ${rate}`);
  }
  return rate;
}

class BodyRefusedError extends Error {}

async function readJson(request: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    const text = await readBody(request, MAX_BODY_BYTES, () => new BodyRefusedError());
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    if (error instanceof BodyRefusedError || error instanceof SyntaxError) return { ok: false };
    throw error;
  }
}

function send(response: ServerResponse, answer: JsonAnswer): void {
  writeJson(response, answer.statusCode, answer.body);
}

interface Core<R> {
  records(): R[];
  simulator: LogisticsSimulator;
}

/** What one running simulator remembers: its rates, idempotency records, tombstones and counts. */
interface SystemState<R, I> {
  readonly spec: SystemSpec<R, I>;
  failureRate: number;
  compensationFailureRate: number;
  readonly latencyMs: number;
  readonly random: () => number;
  readonly forced: ForcedFailure[];
  readonly byKey: Map<string, { readonly fingerprint: string; record: R }>;
  readonly tombstones: Set<string>;
  readonly counts: { -readonly [K in keyof LogisticsStats]: number };
  readonly timers: Set<NodeJS.Timeout>;
  stopped: boolean;
}

function newSystemState<R, I>(spec: SystemSpec<R, I>, options: LogisticsSimulatorOptions): SystemState<R, I> {
  const latencyMs = options.latencyMs ?? 0;
  if (!Number.isInteger(latencyMs) || latencyMs < 0) {
    throw new LogisticsSimulatorInputError('latencyMs must be a whole number of milliseconds >= 0');
  }
  return {
    spec,
    failureRate: checkRate('failureRate', options.failureRate ?? 0),
    compensationFailureRate: checkRate('compensationFailureRate', options.compensationFailureRate ?? 0),
    latencyMs,
    random: options.random ?? Math.random,
    forced: [],
    byKey: new Map(),
    tombstones: new Set(),
    counts: { performed: 0, undone: 0, tombstoned: 0, refused: 0, replayed: 0, failed: 0 },
    timers: new Set(),
    stopped: false,
  };
}

function unavailable<R, I>(state: SystemState<R, I>): JsonAnswer {
  state.counts.failed += 1;
  return errorAnswer(503, 'unavailable', `the ${state.spec.name} is temporarily unavailable`);
}

function act<R, I>(state: SystemState<R, I>, key: string, body: unknown): JsonAnswer {
  const { spec, counts } = state;
  const parsed = spec.actionInput.safeParse(body);
  if (!parsed.success) return errorAnswer(400, 'invalid_request', parsed.error.message);
  const failure = state.forced.shift() ?? (state.random() < state.failureRate ? 'beforeEffect' : undefined);
  if (failure === 'beforeEffect') return unavailable(state);
  const fingerprint = spec.fingerprint(parsed.data);
  const existing = state.byKey.get(key);
  let answer: JsonAnswer;
  if (existing !== undefined) {
    if (existing.fingerprint !== fingerprint) {
      return errorAnswer(
        409,
        'idempotency_key_reused',
        'this Idempotency-Key was used with other parameters',
      );
    }
    if (spec.isUndone(existing.record)) {
      // Done, then compensated: the action is no longer in effect, and saying "done" would mislead.
      counts.refused += 1;
      return errorAnswer(409, 'cancelled', `the ${spec.name} action under this key was cancelled`);
    }
    counts.replayed += 1;
    answer = { statusCode: 200, body: spec.answer(existing.record) };
  } else if (state.tombstones.has(key)) {
    counts.refused += 1;
    return errorAnswer(
      409,
      'cancelled',
      `the ${spec.name} action under this key was cancelled before it ran`,
    );
  } else {
    const record = spec.act(parsed.data, key, new Date().toISOString());
    state.byKey.set(key, { fingerprint, record });
    counts.performed += 1;
    answer = { statusCode: 200, body: spec.answer(record) };
  }
  return failure === 'afterEffect' ? unavailable(state) : answer;
}

function compensate<R, I>(state: SystemState<R, I>, body: unknown): JsonAnswer {
  const { spec, counts } = state;
  const parsed = z.object({ orderId: idSchema, [spec.keyField]: idSchema }).safeParse(body);
  if (!parsed.success) return errorAnswer(400, 'invalid_request', parsed.error.message);
  if (state.random() < state.compensationFailureRate) return unavailable(state);
  const orderId = String(parsed.data.orderId);
  const key = String(parsed.data[spec.keyField]);
  const existing = state.byKey.get(key);
  if (existing === undefined) {
    if (!state.tombstones.has(key)) {
      state.tombstones.add(key);
      counts.tombstoned += 1;
    }
    return { statusCode: 200, body: { [spec.keyField]: key, status: 'tombstoned' } };
  }
  if (spec.orderIdOf(existing.record) !== orderId) {
    return errorAnswer(409, 'order_mismatch', `the action under this key belongs to another order`);
  }
  if (!spec.isUndone(existing.record)) {
    existing.record = spec.undo(existing.record, new Date().toISOString());
    counts.undone += 1;
  }
  return { statusCode: 200, body: { [spec.keyField]: key, status: spec.undoneStatus } };
}

function delay<R, I>(state: SystemState<R, I>): Promise<void> {
  if (state.latencyMs === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      state.timers.delete(timer);
      resolve();
    }, state.latencyMs);
    state.timers.add(timer);
  });
}

async function handle<R, I>(
  state: SystemState<R, I>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { spec } = state;
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const isAction = path === spec.actionPath;
  if (!isAction && path !== spec.compensationPath) {
    request.resume();
    send(response, errorAnswer(404, 'not_found', `no route for ${request.method ?? ''} ${path}`));
    return;
  }
  if (request.method !== 'POST') {
    request.resume();
    send(response, errorAnswer(405, 'method_not_allowed'));
    return;
  }
  const body = await readJson(request);
  await delay(state);
  if (!body.ok) {
    send(
      response,
      errorAnswer(400, 'invalid_request', `the body must be JSON of at most ${MAX_BODY_BYTES} bytes`),
    );
    return;
  }
  if (!isAction) {
    send(response, compensate(state, body.value));
    return;
  }
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || !idSchema.safeParse(key).success) {
    send(
      response,
      errorAnswer(400, 'invalid_request', 'an Idempotency-Key header (1-255 chars) is required'),
    );
    return;
  }
  send(response, act(state, key, body.value));
}

function controlRoutes<R, I>(state: SystemState<R, I>): LocalRoute[] {
  const prefix = `/_local/${state.spec.name}` as const;
  return [
    {
      method: 'GET',
      path: `${prefix}/stats`,
      handle: async () => ({ statusCode: 200, body: { ...state.counts } }),
    },
    {
      method: 'GET',
      path: `${prefix}/tombstones`,
      handle: async () => ({ statusCode: 200, body: [...state.tombstones] }),
    },
    {
      method: 'POST',
      path: `${prefix}/failure-rate`,
      handle: async ({ body }): Promise<LocalRouteResponse> => {
        const parsed = controlBody.safeParse(body);
        if (!parsed.success) return { statusCode: 400, body: { message: parsed.error.message } };
        if (parsed.data.failureRate !== undefined) state.failureRate = parsed.data.failureRate;
        if (parsed.data.compensationFailureRate !== undefined) {
          state.compensationFailureRate = parsed.data.compensationFailureRate;
        }
        const { failureRate, compensationFailureRate } = state;
        return { statusCode: 200, body: { failureRate, compensationFailureRate } };
      },
    },
  ];
}

async function startSystem<R, I>(
  spec: SystemSpec<R, I>,
  options: LogisticsSimulatorOptions,
): Promise<Core<R>> {
  const state = newSystemState(spec, options);
  const server = await startLoopbackServer(
    (request, response) => handle(state, request, response),
    options.port,
    answerOutsidePartyFailure,
  );
  const simulator: LogisticsSimulator = {
    url: server.url,
    stats: () => ({ ...state.counts }),
    tombstones: () => [...state.tombstones],
    setFailureRate: (rate) => {
      state.failureRate = checkRate('failureRate', rate);
    },
    setCompensationFailureRate: (rate) => {
      state.compensationFailureRate = checkRate('compensationFailureRate', rate);
    },
    failNextActions: (count, when = 'beforeEffect') => {
      if (!Number.isInteger(count) || count < 0) {
        throw new LogisticsSimulatorInputError('failNextActions needs a whole number >= 0');
      }
      state.forced.splice(0, state.forced.length, ...Array.from({ length: count }, () => when));
    },
    localRoutes: () => controlRoutes(state),
    stop: async () => {
      if (state.stopped) return;
      state.stopped = true;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
      // Closes every connection too, keep-alive ones included.
      await server.close();
    },
  };
  return { records: () => [...state.byKey.values()].map((entry) => entry.record), simulator };
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

const pickInput = z.strictObject({
  orderId: idSchema,
  items: z
    .array(z.strictObject({ sku: idSchema, quantity: z.int().min(1).max(100_000) }))
    .min(1)
    .max(1000),
});

const shipmentInput = z.strictObject({ orderId: idSchema });

/** Starts the warehouse simulator on 127.0.0.1; see the file comment for its API. */
export async function startWarehouseSimulator(
  options: LogisticsSimulatorOptions = {},
): Promise<WarehouseSimulator> {
  const core = await startSystem<SimulatedPick, z.infer<typeof pickInput>>(
    {
      name: 'warehouse',
      actionPath: '/v1/picks',
      compensationPath: '/v1/returns',
      keyField: 'pickKey',
      undoneStatus: 'returned',
      actionInput: pickInput,
      // Items in a fixed member order, so the JSON's member order does not matter.
      fingerprint: (input) =>
        JSON.stringify([input.orderId, input.items.map((line) => [line.sku, line.quantity])]),
      act: (input, key, at) => ({
        pickId: newId('pk'),
        orderId: input.orderId,
        items: input.items.map((line) => ({ sku: line.sku, quantity: line.quantity })),
        idempotencyKey: key,
        status: 'picked',
        pickedAt: at,
      }),
      undo: (pick, at) => ({ ...pick, status: 'returned', returnedAt: at }),
      isUndone: (pick) => pick.status === 'returned',
      answer: (pick) => ({ pickId: pick.pickId, orderId: pick.orderId, status: 'picked' }),
      orderIdOf: (pick) => pick.orderId,
    },
    options,
  );
  return {
    ...core.simulator,
    picks: core.records,
    localRoutes: () => [
      ...core.simulator.localRoutes(),
      {
        method: 'GET',
        path: '/_local/warehouse/picks',
        handle: async () => ({ statusCode: 200, body: core.records() }),
      },
    ],
  };
}

/** Starts the transport simulator on 127.0.0.1; see the file comment for its API. */
export async function startTransportSimulator(
  options: LogisticsSimulatorOptions = {},
): Promise<TransportSimulator> {
  const core = await startSystem<SimulatedShipment, z.infer<typeof shipmentInput>>(
    {
      name: 'transport',
      actionPath: '/v1/shipments',
      compensationPath: '/v1/cancellations',
      keyField: 'shipmentKey',
      undoneStatus: 'cancelled',
      actionInput: shipmentInput,
      fingerprint: (input) => JSON.stringify([input.orderId]),
      act: (input, key, at) => ({
        shipmentId: newId('sh'),
        trackingNumber: `TRK${randomInt(10 ** 9, 10 ** 10)}`,
        orderId: input.orderId,
        idempotencyKey: key,
        status: 'booked',
        bookedAt: at,
      }),
      undo: (shipment, at) => ({ ...shipment, status: 'cancelled', cancelledAt: at }),
      isUndone: (shipment) => shipment.status === 'cancelled',
      answer: (shipment) => ({
        shipmentId: shipment.shipmentId,
        trackingNumber: shipment.trackingNumber,
        orderId: shipment.orderId,
        status: 'booked',
      }),
      orderIdOf: (shipment) => shipment.orderId,
    },
    options,
  );
  return {
    ...core.simulator,
    shipments: core.records,
    localRoutes: () => [
      ...core.simulator.localRoutes(),
      {
        method: 'GET',
        path: '/_local/transport/shipments',
        handle: async () => ({ statusCode: 200, body: core.records() }),
      },
    ],
  };
}
