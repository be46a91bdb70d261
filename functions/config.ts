import * as z from 'zod/mini';
import { SETTING_DEFAULTS } from '../lib/model';
import { AppError, ErrorCode } from './domain/errors';
import { describeIssues, parseWith } from './domain/validation';

export class ConfigurationError extends AppError {
  public override readonly name = 'ConfigurationError';
  public readonly code = ErrorCode.CONFIGURATION_INVALID;
  public readonly retryable = false;
}

const positiveInteger = z.pipe(
  z.string().check(z.regex(/^[1-9]\d*$/, 'must be a positive whole number')),
  z.transform(Number),
);
const wholeNumber = z.pipe(z.string().check(z.regex(/^\d+$/, 'must be a whole number')), z.transform(Number));

/**
 * Each part of the configuration is read on its own, so a function is only asked for the variables of the
 * parts it uses (get-order has no timer settings, and must not need them). Defaults come from `lib/model.ts`.
 */
export const configSections = {
  orders: z.object({
    ORDERS_TABLE_NAME: z.string().check(z.minLength(1)),
    PAYMENT_TIMEOUT_SECONDS: z._default(positiveInteger, SETTING_DEFAULTS.PAYMENT_TIMEOUT_SECONDS),
    IDEMPOTENCY_KEY_TTL_SECONDS: z._default(positiveInteger, SETTING_DEFAULTS.IDEMPOTENCY_KEY_TTL_SECONDS),
  }),
  /** Enough to cancel an order's payment timer. */
  paymentTimeoutGroup: z.object({
    PAYMENT_TIMEOUT_GROUP_NAME: z.string().check(z.minLength(1)),
  }),
  /** What creating a payment timer needs besides its group. */
  paymentTimeoutTimer: z.object({
    PAYMENT_TIMEOUT_TARGET_ARN: z.string().check(z.minLength(1)),
    PAYMENT_TIMEOUT_ROLE_ARN: z.string().check(z.minLength(1)),
    PAYMENT_TIMEOUT_DEAD_LETTER_ARN: z.string().check(z.minLength(1)),
    PAYMENT_TIMEOUT_MAX_RETRIES: wholeNumber,
    PAYMENT_TIMEOUT_MAX_EVENT_AGE_SECONDS: positiveInteger,
  }),
  paymentProvider: z.object({
    /** The API root only: the Stripe SDK takes a host, a port and a protocol, and adds `/v1/` itself. */
    PAYMENT_PROVIDER_URL: z
      .url({ protocol: /^https?$/ })
      .check(
        z.refine(
          (url) => new URL(url).pathname === '/',
          'must be an API root such as https://api.stripe.com',
        ),
      ),
    /** Comma-separated payment method types (`card,alipay,wechat_pay`); empty for automatic payment methods. */
    PAYMENT_METHOD_TYPES: z.pipe(
      z.pipe(
        z._default(z.string(), SETTING_DEFAULTS.PAYMENT_METHOD_TYPES),
        z.transform((list: string) =>
          list
            .split(',')
            .map((type) => type.trim())
            .filter((type) => type !== ''),
        ),
      ),
      z.array(z.string().check(z.regex(/^[a-z][a-z0-9_]*$/, 'must be payment method types such as card'))),
    ),
  }),
  paymentLease: z.object({
    PAYMENT_LEASE_SECONDS: z._default(positiveInteger, SETTING_DEFAULTS.PAYMENT_LEASE_SECONDS),
  }),
  /** Read by every function that builds the payment service; only those that expire orders are given a value. */
  paymentCheckBack: z.object({
    /** How long past its deadline an order whose intent is processing stays open (`OrdersHeldForProcessing`). */
    PAYMENT_PROCESSING_GRACE_SECONDS: z._default(
      positiveInteger,
      SETTING_DEFAULTS.PAYMENT_PROCESSING_GRACE_SECONDS,
    ),
  }),
  /** What one reconciliation pass reads at most, so a backlog is worked off over several passes. */
  reconciliation: z.object({
    RECONCILE_MAX_EVENTS: z._default(positiveInteger, SETTING_DEFAULTS.RECONCILE_MAX_EVENTS),
    RECONCILE_MAX_ORDERS: z._default(positiveInteger, SETTING_DEFAULTS.RECONCILE_MAX_ORDERS),
    RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS: z._default(
      positiveInteger,
      SETTING_DEFAULTS.RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS,
    ),
    RECONCILE_MAX_REFUNDS: z._default(positiveInteger, SETTING_DEFAULTS.RECONCILE_MAX_REFUNDS),
  }),
  sweeper: z.object({
    SWEEPER_MAX_ORDERS_PER_RUN: z._default(positiveInteger, SETTING_DEFAULTS.SWEEPER_MAX_ORDERS_PER_RUN),
    /** A refund still REFUND_PENDING after this long is counted as stuck (`RefundsStuckPending`, alarmed). */
    REFUND_STUCK_AFTER_SECONDS: z._default(positiveInteger, SETTING_DEFAULTS.REFUND_STUCK_AFTER_SECONDS),
  }),
  orderEventsConsumer: z.object({
    FULFILLMENT_STATE_MACHINE_ARN: z
      .string()
      .check(z.regex(/^arn:aws[a-z-]*:states:/, 'must be a state machine ARN')),
  }),
  outbox: z.object({
    ORDER_EVENTS_QUEUE_URL: z.url(),
    EVENT_BUS_NAME: z.string().check(z.minLength(1)),
  }),
  logisticsWebhook: z.object({
    STATUS_EVENTS_QUEUE_URL: z.url(),
  }),
  warehouse: z.object({
    WAREHOUSE_API_URL: z.url(),
  }),
  transport: z.object({
    TRANSPORT_API_URL: z.url(),
  }),
} as const;

export type ConfigSection = keyof typeof configSections;

/** Reads one part of the function's environment; a missing or malformed value fails loudly at cold start. */
export function loadConfig<Section extends ConfigSection>(
  section: Section,
  environment: NodeJS.ProcessEnv,
): z.output<(typeof configSections)[Section]> {
  return parseWith(
    configSections[section],
    environment,
    (issues) =>
      new ConfigurationError(`invalid function environment (${section}): ${describeIssues(issues)}`),
  ) as z.output<(typeof configSections)[Section]>;
}

/** What a function that expires or settles orders through the payment service reads, whichever it is. */
const SETTLING_PAYMENT_SECTIONS = [
  'orders',
  'paymentTimeoutGroup',
  'paymentProvider',
  'paymentLease',
  'paymentCheckBack',
] as const satisfies readonly ConfigSection[];

/**
 * What each function's code loads, by its name in `lib/model.ts`: the configuration sections its composition
 * reads and the secrets it asks {@link secretSource} for. `test/infra/model.test.ts` checks that the environment
 * the model declares for each function satisfies these, so a declaration cannot lack what the code needs.
 */
export const FUNCTION_CONFIG = {
  'create-order': { sections: ['orders', 'paymentTimeoutGroup', 'paymentTimeoutTimer'], secrets: [] },
  'get-order': { sections: ['orders'], secrets: [] },
  'cancel-order': { sections: ['orders'], secrets: [] },
  'create-payment': {
    sections: ['orders', 'paymentProvider', 'paymentLease', 'paymentCheckBack'],
    secrets: ['PAYMENT_PROVIDER_API_KEY'],
  },
  'payment-webhook': {
    sections: SETTLING_PAYMENT_SECTIONS,
    secrets: ['PAYMENT_WEBHOOK_SECRET', 'PAYMENT_PROVIDER_API_KEY'],
  },
  'payment-timeout': {
    sections: SETTLING_PAYMENT_SECTIONS,
    secrets: ['PAYMENT_PROVIDER_API_KEY'],
  },
  sweeper: {
    sections: [...SETTLING_PAYMENT_SECTIONS, 'sweeper'],
    secrets: ['PAYMENT_PROVIDER_API_KEY'],
  },
  'payment-reconciler': {
    sections: [...SETTLING_PAYMENT_SECTIONS, 'reconciliation'],
    secrets: ['PAYMENT_PROVIDER_API_KEY'],
  },
  'outbox-relay': { sections: ['outbox'], secrets: [] },
  'order-events-consumer': {
    sections: ['orders', 'paymentProvider', 'orderEventsConsumer'],
    secrets: ['PAYMENT_PROVIDER_API_KEY'],
  },
  'fulfillment-order': { sections: ['orders'], secrets: [] },
  'warehouse-pick': { sections: ['orders', 'warehouse'], secrets: [] },
  'transport-ship': { sections: ['orders', 'transport'], secrets: [] },
  'fulfillment-outcome': { sections: ['orders'], secrets: [] },
  'logistics-webhook': { sections: ['logisticsWebhook'], secrets: ['LOGISTICS_WEBHOOK_SECRET'] },
  'status-events-consumer': { sections: ['orders'], secrets: [] },
} as const satisfies Readonly<
  Record<string, { readonly sections: readonly ConfigSection[]; readonly secrets: readonly string[] }>
>;

/**
 * A secret declared in the model: in AWS the function gets `<NAME>_ARN` and reads the value from Secrets
 * Manager; locally it gets `<NAME>` with the value itself. Returns which one this environment has.
 */
export function secretSource(
  name: string,
  environment: NodeJS.ProcessEnv,
): { readonly value: string } | { readonly arn: string } {
  const value = environment[name];
  if (value !== undefined && value !== '') return { value };
  const arn = environment[`${name}_ARN`];
  if (arn !== undefined && arn !== '') return { arn };
  throw new ConfigurationError(`invalid function environment: neither ${name} nor ${name}_ARN is set`);
}
