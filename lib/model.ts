/**
 * The one declaration of the system's tables, queues and functions.
 *
 * Both readers take everything they build from here: the CDK stack (`lib/stack.ts`) and the local runtime
 * (`lib/local/runtime/local-system.ts`). Neither may hard-code a name, a trigger or a size that this file does
 * not state, so the laptop and the cloud cannot drift apart.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TableIndexDeclaration {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  /**
   * The non-key attributes the index copies (projection INCLUDE; none is KEYS_ONLY). Never ALL: an index entry
   * would then carry the whole item, an order's timeline included, and every write of it would cost its size.
   */
  readonly projectedAttributes: readonly string[];
}

export interface TableDeclaration {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
  readonly stream?: 'NEW_AND_OLD_IMAGES' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'KEYS_ONLY';
  /** Attribute holding an expiry in epoch seconds. DynamoDB Local never deletes expired items; readers check it. */
  readonly ttlAttribute?: string;
  readonly indexes?: readonly TableIndexDeclaration[];
}

export interface QueueDeclaration {
  readonly name: string;
  readonly fifo: boolean;
  /** Must be at least six times the timeout of every function the queue triggers (checked by tests). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the queue's dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly contentBasedDeduplication?: boolean;
}

/**
 * The attributes of every FIFO queue and its dead-letter queue, in AWS and locally: high-throughput mode, in which
 * deduplication and the throughput limit apply per message group (an order) instead of per queue, so a queue takes
 * tens of thousands of calls per second instead of 300 per action. Messages are deduplicated by their event id,
 * which belongs to one order, so deduplicating within the group drops exactly what deduplicating in the queue did.
 */
export const HIGH_THROUGHPUT_FIFO = {
  DeduplicationScope: 'messageGroup',
  FifoThroughputLimit: 'perMessageGroupId',
} as const;

/**
 * Who may call a route. `customer`: only a caller with a valid JWT from the customer identity provider (the
 * stack's JWT authorizer in AWS, the local gateway's verifier locally); the handler reads the customer from the
 * token's `sub`. `none`: anyone reaches the handler, which must authenticate the request itself (a webhook
 * checks its signature).
 */
export type RouteAuthorization = 'customer' | 'none';

/**
 * API Gateway route throttling: the steady rate (requests per second) and the burst a route admits. Sized for
 * 1,000 orders/s by the route's calls per order, which the capacity report (`lib/sim/cost.ts`) checks.
 */
export interface RouteThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface HttpTrigger {
  readonly type: 'http';
  readonly method: HttpMethod;
  /** API Gateway route path, with `{name}` parameters. */
  readonly path: string;
  readonly authorization: RouteAuthorization;
  /** Per-route throttling of the API's stage in AWS; the local gateway does not throttle. */
  readonly throttle: RouteThrottle;
}

export interface QueueTrigger {
  readonly type: 'queue';
  readonly queue: string;
  readonly batchSize: number;
  /** Lambda's `ReportBatchItemFailures`: the handler returns `{ batchItemFailures }`. */
  readonly reportBatchItemFailures: boolean;
}

export interface ScheduleTrigger {
  readonly type: 'schedule';
  /** EventBridge Scheduler expression in AWS, e.g. `rate(1 minute)`. */
  readonly expression: string;
}

/**
 * Retry policy of every recurring schedule, in AWS and locally. A recurring job catches up on its next run, so
 * Scheduler's default of 185 retries over 24 h would only pile invocations onto a struggling function.
 */
export const RECURRING_SCHEDULE_RETRY = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 300 } as const;

export interface StreamTrigger {
  readonly type: 'stream';
  readonly table: string;
  readonly batchSize: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly maxRetryAttempts: number;
  readonly bisectBatchOnError: boolean;
  readonly reportBatchItemFailures: boolean;
}

export type Trigger = HttpTrigger | QueueTrigger | ScheduleTrigger | StreamTrigger;

/** A value for a function's environment that each reader resolves to its own physical name. */
export type EnvironmentValue =
  | { readonly literal: string }
  /** A deployment setting: CDK context in AWS, the host environment locally; `default` when neither sets it. */
  | { readonly setting: string; readonly default: string }
  | { readonly tableName: string }
  | { readonly queueUrl: string }
  | { readonly stateMachineArn: string }
  /** One part of a declared timer: what a function needs to create one-time schedules in its group. */
  | { readonly timer: string; readonly part: TimerPart }
  /**
   * A declared secret. In AWS the variable is named `<KEY>_ARN` and holds the Secrets Manager ARN (the function
   * may read that secret and nothing else); locally the variable `<KEY>` holds the value itself.
   */
  | { readonly secret: string }
  | { readonly eventBusName: string };

export type TimerPart =
  | 'groupName'
  | 'targetArn'
  | 'roleArn'
  | 'deadLetterArn'
  | 'maximumRetryAttempts'
  | 'maximumEventAgeSeconds';

/**
 * One-time EventBridge Scheduler schedules that functions create at run time (one per order, say), all in
 * one schedule group, all aimed at one function. Each reader also creates the group's dead-letter queue (a
 * standard queue, as Scheduler requires) and the role Scheduler assumes to invoke the target.
 */
export interface TimerDeclaration {
  /** The schedule group's name. */
  readonly name: string;
  readonly targetFunction: string;
  /** Bounded: Scheduler's default of 185 retries over 24 hours is far too much for a timeout. */
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
}

export interface SecretDeclaration {
  readonly name: string;
  readonly description: string;
}

/** An EventBridge bus on which the system publishes its domain events for other services. */
export interface EventBusDeclaration {
  readonly name: string;
}

/**
 * A system outside ours that the functions call: the stack deploys nothing for it, and the local runtime starts
 * a stand-in of its `kind` when its URL setting is not given, pointing the setting at the stand-in.
 */
export interface OutsidePartyDeclaration {
  readonly kind: 'payment-provider' | 'warehouse' | 'carrier';
  /** The deployment setting that holds its base URL. */
  readonly urlSetting: string;
  /** The secret our calls to it carry as a Bearer key. */
  readonly apiKeySecret?: string;
  /**
   * The secret it signs the webhooks it sends us with; they go to the HTTP route of the function whose
   * environment holds that secret.
   */
  readonly webhookSecret?: string;
}

export interface FunctionAccess {
  /**
   * `read`: GetItem and Query on the table; `readWrite`: also PutItem, UpdateItem and ConditionCheckItem (what the
   * repositories' writes and transactions need; nothing deletes or scans). `indexes`: Query on each named global
   * secondary index, and on no other index.
   */
  readonly tables?: readonly {
    readonly table: string;
    readonly mode: 'read' | 'readWrite';
    readonly indexes?: readonly string[];
  }[];
  readonly queues?: readonly { readonly queue: string; readonly mode: 'send' | 'consume' }[];
  /**
   * `manage`: create and delete schedules in the timer's group (and pass its role to Scheduler); `cancel`: delete
   * them only, for functions that stop a timer but never start one.
   */
  readonly timers?: readonly { readonly timer: string; readonly mode: 'manage' | 'cancel' }[];
  /** Put events on the bus. */
  readonly eventBuses?: readonly { readonly eventBus: string; readonly mode: 'put' }[];
}

export interface FunctionDeclaration {
  readonly name: string;
  /** Path of the handler file from the repository root; its export `handler` is the Lambda handler. */
  readonly entry: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly triggers: readonly Trigger[];
  readonly environment: Readonly<Record<string, EnvironmentValue>>;
  readonly access: FunctionAccess;
  /**
   * Concurrency reserved for the function in AWS: kept free of every other function's load, and its ceiling. Only
   * for functions whose throttling does harm beyond delay: a queue consumer's throttled batch comes back with one
   * receive more, towards the dead-letter queue. (A throttled stream batch is retried until it goes through, a
   * saga task retries for about 20 s, a webhook's sender sends it again.) A queue trigger's event source polls with at most this
   * concurrency, so it never invokes into its own throttle. The capacity report (`lib/sim/cost.ts`) shows the rate
   * at which each reservation binds.
   */
  readonly reservedConcurrency?: number;
}

/** Levels of the application logs Lambda lets through with advanced logging controls (JSON format only). */
export type ApplicationLogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
/** Levels of the system (platform) logs Lambda writes: START, END and REPORT are INFO records. */
export type SystemLogLevel = 'DEBUG' | 'INFO' | 'WARN';

/**
 * How every function's logs reach its log group: Lambda's text format, or JSON with advanced logging controls,
 * where Lambda filters application lines by their `level` field and its own platform records by `systemLevel`.
 */
export type FunctionLogging =
  | { readonly format: 'TEXT' }
  | {
      readonly format: 'JSON';
      readonly applicationLevel: ApplicationLogLevel;
      readonly systemLevel: SystemLogLevel;
    };

/**
 * The logging of every deployed function, read by the function construct (what is deployed) and the cost report
 * (what is billed). System WARN keeps Lambda's START, END and REPORT records out of the log groups: their
 * duration and memory are in the Lambda metrics, and X-Ray traces time every invocation. Application INFO keeps
 * Powertools' INFO lines and the EMF metric lines, which have no `level` and count as INFO.
 */
export const FUNCTION_LOGGING: FunctionLogging = {
  format: 'JSON',
  applicationLevel: 'INFO',
  systemLevel: 'WARN',
};

/**
 * How much of a provisioned table's capacity autoscaling aims to use (DynamoDB's own default), read by the table
 * construct (what is deployed with `-c tableCapacity=PROVISIONED`) and the cost report (what each consumed unit
 * then costs: the idle 30 % is paid too, as the headroom that absorbs a rise until autoscaling catches up).
 */
export const PROVISIONED_TARGET_UTILIZATION_PERCENT = 70;

export interface StateMachineDeclaration {
  readonly name: string;
  /** Path of the Amazon States Language file from the repository root (JSONPath only). */
  readonly definition: string;
}

export interface AppModel {
  readonly tables: readonly TableDeclaration[];
  readonly queues: readonly QueueDeclaration[];
  readonly functions: readonly FunctionDeclaration[];
  readonly stateMachines: readonly StateMachineDeclaration[];
  readonly timers: readonly TimerDeclaration[];
  readonly secrets: readonly SecretDeclaration[];
  readonly eventBuses: readonly EventBusDeclaration[];
  readonly outsideParties: readonly OutsidePartyDeclaration[];
}

/** The declared resources' names, for code and tests that must name one (the declarations below use them). */
export const ORDERS_TABLE = 'orders';
const PAYMENT_TIMEOUT_TIMER = 'payment-timeouts';
export const PAYMENT_WEBHOOK_SECRET = 'payment-webhook-secret';
const PAYMENT_PROVIDER_API_KEY = 'payment-provider-api-key';
export const ORDER_EVENTS_QUEUE = 'order-events.fifo';
export const EVENT_BUS = 'order-backbone-events';
export const FULFILLMENT_SAGA = 'fulfillment';
export const STATUS_EVENTS_QUEUE = 'status-events.fifo';
export const LOGISTICS_WEBHOOK_SECRET = 'logistics-webhook-secret';

/**
 * The sparse, write-sharded index of orders awaiting payment: only PENDING_PAYMENT orders carry its keys
 * (`pendingShard` = `PENDING#<0..n-1>`, `pendingDeadline` = `<paymentDeadline>#<orderId>`), so the sweeper
 * reads just the overdue ones, spread over shards so that no partition takes every new order.
 */
export const PENDING_PAYMENT_INDEX = {
  name: 'pending-payment-by-deadline',
  partitionKey: 'pendingShard',
  sortKey: 'pendingDeadline',
  projectedAttributes: ['orderId'],
} as const;

/**
 * The sparse, write-sharded index of payments owing a refund: only REFUND_PENDING payments carry its keys
 * (`refundShard` = `REFUND#<0..n-1>`, `refundPendingSince` = `<time it became REFUND_PENDING>#<orderId>#<paymentId>`),
 * written and dropped by the same conditional writes that move the payment, so the sweeper counts refunds
 * stuck longer than `REFUND_STUCK_AFTER_SECONDS` without a scan.
 */
export const REFUND_PENDING_INDEX = {
  name: 'refund-pending-by-time',
  partitionKey: 'refundShard',
  sortKey: 'refundPendingSince',
  projectedAttributes: ['orderId'],
} as const;

/**
 * The defaults of the functions' tuning settings, stated once: the declarations below give them to the
 * functions, and `functions/config.ts` falls back to them when a variable is absent.
 */
export const SETTING_DEFAULTS = {
  PAYMENT_TIMEOUT_SECONDS: 1800,
  IDEMPOTENCY_KEY_TTL_SECONDS: 24 * 60 * 60,
  PAYMENT_LEASE_SECONDS: 30,
  SWEEPER_MAX_ORDERS_PER_RUN: 500,
  REFUND_STUCK_AFTER_SECONDS: 3600,
  PAYMENT_PROCESSING_GRACE_SECONDS: 3600,
  RECONCILE_MAX_EVENTS: 100,
  RECONCILE_MAX_ORDERS: 200,
  /** An open intent younger than this is left to its webhook (normally seconds late) by the reconciliation. */
  RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS: 300,
  RECONCILE_MAX_REFUNDS: 100,
  /** Empty: Stripe offers the payment methods enabled in its Dashboard (automatic payment methods). */
  PAYMENT_METHOD_TYPES: '',
} as const;

const ordersTable = { ORDERS_TABLE_NAME: { tableName: ORDERS_TABLE } } as const satisfies Record<
  string,
  EnvironmentValue
>;

/**
 * How long a provider event id is remembered: 30 days, as long as Stripe lists events, and far longer than it
 * retries a webhook (three days).
 */
export const PROVIDER_EVENT_RETENTION_SECONDS = 30 * 24 * 60 * 60;

/** Stripe's API root, where the payment functions (and `ops payments`) go unless a deployment says otherwise. */
export const STRIPE_API_URL = 'https://api.stripe.com';

const paymentProvider = {
  PAYMENT_PROVIDER_URL: { setting: 'PAYMENT_PROVIDER_URL', default: STRIPE_API_URL },
  PAYMENT_PROVIDER_API_KEY: { secret: PAYMENT_PROVIDER_API_KEY },
  PAYMENT_METHOD_TYPES: {
    setting: 'PAYMENT_METHOD_TYPES',
    default: SETTING_DEFAULTS.PAYMENT_METHOD_TYPES,
  },
} as const satisfies Record<string, EnvironmentValue>;

/** Enough to cancel an order's payment timer; the timer's own target can hold no more than this. */
const paymentTimeoutGroup = {
  PAYMENT_TIMEOUT_GROUP_NAME: { timer: PAYMENT_TIMEOUT_TIMER, part: 'groupName' },
} as const satisfies Record<string, EnvironmentValue>;

/** Everything creating a payment timer needs. */
const paymentTimeoutTimer = {
  ...paymentTimeoutGroup,
  PAYMENT_TIMEOUT_TARGET_ARN: { timer: PAYMENT_TIMEOUT_TIMER, part: 'targetArn' },
  PAYMENT_TIMEOUT_ROLE_ARN: { timer: PAYMENT_TIMEOUT_TIMER, part: 'roleArn' },
  PAYMENT_TIMEOUT_DEAD_LETTER_ARN: { timer: PAYMENT_TIMEOUT_TIMER, part: 'deadLetterArn' },
  PAYMENT_TIMEOUT_MAX_RETRIES: { timer: PAYMENT_TIMEOUT_TIMER, part: 'maximumRetryAttempts' },
  PAYMENT_TIMEOUT_MAX_EVENT_AGE_SECONDS: { timer: PAYMENT_TIMEOUT_TIMER, part: 'maximumEventAgeSeconds' },
} as const satisfies Record<string, EnvironmentValue>;

/** What a check-back needs besides the table: the provider, and the timer a payment it finds cancels. */
const checkBack = {
  ...paymentProvider,
  ...paymentTimeoutGroup,
  PAYMENT_PROCESSING_GRACE_SECONDS: {
    setting: 'PAYMENT_PROCESSING_GRACE_SECONDS',
    default: String(SETTING_DEFAULTS.PAYMENT_PROCESSING_GRACE_SECONDS),
  },
} as const satisfies Record<string, EnvironmentValue>;

const readWriteOrders = { table: ORDERS_TABLE, mode: 'readWrite' } as const;
const managePaymentTimers = { timer: PAYMENT_TIMEOUT_TIMER, mode: 'manage' } as const;
/** Applying a payment, from a webhook, a check-back or a reconciliation, cancels the order's timer. */
const cancelPaymentTimers = { timer: PAYMENT_TIMEOUT_TIMER, mode: 'cancel' } as const;

export const appModel: AppModel = {
  tables: [
    {
      name: ORDERS_TABLE,
      partitionKey: 'PK',
      sortKey: 'SK',
      stream: 'NEW_AND_OLD_IMAGES',
      ttlAttribute: 'expiresAt',
      indexes: [PENDING_PAYMENT_INDEX, REFUND_PENDING_INDEX],
    },
  ],
  queues: [
    {
      name: ORDER_EVENTS_QUEUE,
      fifo: true,
      // Six times the consumer's 30 s timeout, so a message is never handed to a second consumer mid-batch.
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 5,
    },
    {
      name: STATUS_EVENTS_QUEUE,
      fifo: true,
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 5,
    },
  ],
  stateMachines: [{ name: FULFILLMENT_SAGA, definition: 'state-machines/fulfillment.asl.json' }],
  eventBuses: [{ name: EVENT_BUS }],
  timers: [
    {
      name: PAYMENT_TIMEOUT_TIMER,
      targetFunction: 'payment-timeout',
      maximumRetryAttempts: 10,
      maximumEventAgeSeconds: 3600,
    },
  ],
  secrets: [
    { name: PAYMENT_WEBHOOK_SECRET, description: "HMAC secret of the payment provider's webhook signatures" },
    { name: PAYMENT_PROVIDER_API_KEY, description: 'API key for the payment provider' },
    {
      name: LOGISTICS_WEBHOOK_SECRET,
      description: "HMAC secret of the logistics provider's webhook signatures",
    },
  ],
  outsideParties: [
    {
      kind: 'payment-provider',
      urlSetting: 'PAYMENT_PROVIDER_URL',
      apiKeySecret: PAYMENT_PROVIDER_API_KEY,
      webhookSecret: PAYMENT_WEBHOOK_SECRET,
    },
    { kind: 'warehouse', urlSetting: 'WAREHOUSE_API_URL' },
    { kind: 'carrier', urlSetting: 'TRANSPORT_API_URL', webhookSecret: LOGISTICS_WEBHOOK_SECRET },
  ],
  functions: [
    {
      name: 'create-order',
      entry: 'functions/http/create-order.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      triggers: [
        {
          type: 'http',
          method: 'POST',
          path: '/orders',
          authorization: 'customer',
          throttle: { rateLimit: 1000, burstLimit: 2000 },
        },
      ],
      environment: {
        ...ordersTable,
        ...paymentTimeoutTimer,
        PAYMENT_TIMEOUT_SECONDS: {
          setting: 'PAYMENT_TIMEOUT_SECONDS',
          default: String(SETTING_DEFAULTS.PAYMENT_TIMEOUT_SECONDS),
        },
      },
      access: { tables: [readWriteOrders], timers: [managePaymentTimers] },
    },
    {
      name: 'get-order',
      entry: 'functions/http/get-order.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [
        {
          type: 'http',
          method: 'GET',
          path: '/orders/{orderId}',
          authorization: 'customer',
          throttle: { rateLimit: 2000, burstLimit: 4000 },
        },
      ],
      environment: ordersTable,
      access: { tables: [{ table: ORDERS_TABLE, mode: 'read' }] },
    },
    {
      name: 'cancel-order',
      entry: 'functions/http/cancel-order.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [
        {
          type: 'http',
          method: 'POST',
          path: '/orders/{orderId}/cancel',
          authorization: 'customer',
          throttle: { rateLimit: 200, burstLimit: 400 },
        },
      ],
      environment: ordersTable,
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'create-payment',
      entry: 'functions/http/create-payment.ts',
      memoryMb: 512,
      timeoutSeconds: 15,
      triggers: [
        {
          type: 'http',
          method: 'POST',
          path: '/orders/{orderId}/payments',
          authorization: 'customer',
          throttle: { rateLimit: 1000, burstLimit: 2000 },
        },
      ],
      environment: {
        ...ordersTable,
        ...paymentProvider,
        PAYMENT_LEASE_SECONDS: { literal: String(SETTING_DEFAULTS.PAYMENT_LEASE_SECONDS) },
      },
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'payment-webhook',
      entry: 'functions/http/payment-webhook.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      triggers: [
        {
          type: 'http',
          method: 'POST',
          path: '/webhooks/payments',
          // Authenticated by its Stripe-Signature; one handled event per paid order, more for refunds and retries
          // (Stripe retries what is throttled).
          authorization: 'none',
          throttle: { rateLimit: 4000, burstLimit: 8000 },
        },
      ],
      environment: {
        ...ordersTable,
        ...paymentTimeoutGroup,
        // An event only says which intent to read again from the provider.
        ...paymentProvider,
        PAYMENT_WEBHOOK_SECRET: { secret: PAYMENT_WEBHOOK_SECRET },
      },
      access: { tables: [readWriteOrders], timers: [cancelPaymentTimers] },
    },
    {
      name: 'payment-timeout',
      entry: 'functions/scheduled/payment-timeout.ts',
      memoryMb: 256,
      // The check-back reads, and may cancel, the order's intents at the provider before the order is cancelled.
      timeoutSeconds: 15,
      triggers: [],
      environment: { ...ordersTable, ...checkBack },
      access: { tables: [readWriteOrders], timers: [cancelPaymentTimers] },
    },
    {
      name: 'sweeper',
      entry: 'functions/scheduled/sweeper.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      triggers: [{ type: 'schedule', expression: 'rate(1 minute)' }],
      environment: {
        ...ordersTable,
        ...checkBack,
        SWEEPER_MAX_ORDERS_PER_RUN: { literal: String(SETTING_DEFAULTS.SWEEPER_MAX_ORDERS_PER_RUN) },
        REFUND_STUCK_AFTER_SECONDS: {
          setting: 'REFUND_STUCK_AFTER_SECONDS',
          default: String(SETTING_DEFAULTS.REFUND_STUCK_AFTER_SECONDS),
        },
      },
      access: {
        tables: [{ ...readWriteOrders, indexes: [PENDING_PAYMENT_INDEX.name, REFUND_PENDING_INDEX.name] }],
        timers: [cancelPaymentTimers],
      },
    },
    {
      name: 'payment-reconciler',
      entry: 'functions/scheduled/payment-reconciler.ts',
      memoryMb: 512,
      // A full pass at the default limits is a few hundred provider calls, one after another; under the rate, so
      // passes do not overlap.
      timeoutSeconds: 180,
      triggers: [{ type: 'schedule', expression: 'rate(5 minutes)' }],
      environment: {
        ...ordersTable,
        ...paymentProvider,
        // Applying a payment cancels the order's payment timer.
        ...paymentTimeoutGroup,
        RECONCILE_MAX_EVENTS: { literal: String(SETTING_DEFAULTS.RECONCILE_MAX_EVENTS) },
        RECONCILE_MAX_ORDERS: { literal: String(SETTING_DEFAULTS.RECONCILE_MAX_ORDERS) },
        RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS: {
          literal: String(SETTING_DEFAULTS.RECONCILE_OPEN_INTENT_MIN_AGE_SECONDS),
        },
        RECONCILE_MAX_REFUNDS: { literal: String(SETTING_DEFAULTS.RECONCILE_MAX_REFUNDS) },
      },
      access: {
        // Open orders from the pending-payment index, refunds still owed from the refund-pending index.
        tables: [{ ...readWriteOrders, indexes: [PENDING_PAYMENT_INDEX.name, REFUND_PENDING_INDEX.name] }],
        timers: [cancelPaymentTimers],
      },
    },
    {
      name: 'outbox-relay',
      entry: 'functions/stream/outbox-relay.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      triggers: [
        {
          type: 'stream',
          table: ORDERS_TABLE,
          batchSize: 100,
          startingPosition: 'TRIM_HORIZON',
          maxRetryAttempts: 10,
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
        },
      ],
      environment: {
        ORDER_EVENTS_QUEUE_URL: { queueUrl: ORDER_EVENTS_QUEUE },
        EVENT_BUS_NAME: { eventBusName: EVENT_BUS },
      },
      access: {
        queues: [{ queue: ORDER_EVENTS_QUEUE, mode: 'send' }],
        eventBuses: [{ eventBus: EVENT_BUS, mode: 'put' }],
      },
    },
    {
      name: 'order-events-consumer',
      entry: 'functions/queue/order-events-consumer.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 100,
      triggers: [{ type: 'queue', queue: ORDER_EVENTS_QUEUE, batchSize: 10, reportBatchItemFailures: true }],
      environment: {
        ...ordersTable,
        ...paymentProvider,
        FULFILLMENT_STATE_MACHINE_ARN: { stateMachineArn: FULFILLMENT_SAGA },
      },
      access: { tables: [readWriteOrders], queues: [{ queue: ORDER_EVENTS_QUEUE, mode: 'consume' }] },
    },
    {
      name: 'fulfillment-order',
      entry: 'functions/saga/fulfillment-order.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [],
      environment: ordersTable,
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'warehouse-pick',
      entry: 'functions/saga/warehouse-pick.ts',
      memoryMb: 256,
      timeoutSeconds: 15,
      triggers: [],
      environment: {
        ...ordersTable,
        WAREHOUSE_API_URL: { setting: 'WAREHOUSE_API_URL', default: 'https://warehouse.invalid' },
      },
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'transport-ship',
      entry: 'functions/saga/transport-ship.ts',
      memoryMb: 256,
      timeoutSeconds: 15,
      triggers: [],
      environment: {
        ...ordersTable,
        TRANSPORT_API_URL: { setting: 'TRANSPORT_API_URL', default: 'https://transport.invalid' },
      },
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'fulfillment-outcome',
      entry: 'functions/saga/fulfillment-outcome.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [],
      environment: ordersTable,
      access: { tables: [readWriteOrders] },
    },
    {
      name: 'logistics-webhook',
      entry: 'functions/http/logistics-webhook.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [
        {
          type: 'http',
          method: 'POST',
          path: '/webhooks/logistics',
          // Authenticated by its Logistics-Signature; about three reports per order.
          authorization: 'none',
          throttle: { rateLimit: 4000, burstLimit: 8000 },
        },
      ],
      environment: {
        STATUS_EVENTS_QUEUE_URL: { queueUrl: STATUS_EVENTS_QUEUE },
        LOGISTICS_WEBHOOK_SECRET: { secret: LOGISTICS_WEBHOOK_SECRET },
      },
      access: { queues: [{ queue: STATUS_EVENTS_QUEUE, mode: 'send' }] },
    },
    {
      name: 'status-events-consumer',
      entry: 'functions/queue/status-events-consumer.ts',
      memoryMb: 256,
      timeoutSeconds: 30,
      reservedConcurrency: 20,
      triggers: [{ type: 'queue', queue: STATUS_EVENTS_QUEUE, batchSize: 10, reportBatchItemFailures: true }],
      environment: ordersTable,
      access: { tables: [readWriteOrders], queues: [{ queue: STATUS_EVENTS_QUEUE, mode: 'consume' }] },
    },
  ],
};

/** The HTTP routes of the functions that hold `secret` in their environment: where a webhook signed with it goes. */
export function webhookRoutes(model: AppModel, secret: string): HttpTrigger[] {
  return model.functions
    .filter((declaration) =>
      Object.values(declaration.environment).some((value) => 'secret' in value && value.secret === secret),
    )
    .flatMap((declaration) => declaration.triggers.filter((trigger) => trigger.type === 'http'));
}

/** The names of every deployment setting the model's functions read, e.g. `PAYMENT_TIMEOUT_SECONDS`. */
export function settingNames(model: AppModel): string[] {
  const names = new Set(
    model.functions.flatMap((declaration) =>
      Object.values(declaration.environment).flatMap((value) => ('setting' in value ? [value.setting] : [])),
    ),
  );
  return [...names].sort();
}

/**
 * The model with every queue's `maxReceiveCount` replaced, for a deployment (CDK context `maxReceiveCount`) or
 * a local run (`MAX_RECEIVE_COUNT`) that wants messages to reach their dead-letter queue sooner or later than
 * after the declared number of receives.
 */
export function withMaxReceiveCount(model: AppModel, maxReceiveCount: number | undefined): AppModel {
  if (maxReceiveCount === undefined) return model;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
    throw new Error(
      `maxReceiveCount must be a whole number from 1 to 1000 (SQS's range), not ${maxReceiveCount}`,
    );
  }
  return { ...model, queues: model.queues.map((queue) => ({ ...queue, maxReceiveCount })) };
}
