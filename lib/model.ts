/**
 * The one declaration of the system's tables, queues and functions.
 *
 * Both readers take everything they build from here: the CDK stack (`lib/stack.ts`) and the local runtime
 * (`lib/local/runtime.ts`). Neither may hard-code a name, a trigger or a size that this file does not state,
 * so the laptop and the cloud cannot drift apart.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TableIndexDeclaration {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
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

export interface HttpTrigger {
  readonly type: 'http';
  readonly method: HttpMethod;
  /** API Gateway route path, with `{name}` parameters. */
  readonly path: string;
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
  | { readonly stateMachineArn: string };

export interface FunctionAccess {
  readonly tables?: readonly { readonly table: string; readonly mode: 'read' | 'readWrite' }[];
  readonly queues?: readonly { readonly queue: string; readonly mode: 'send' | 'consume' }[];
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
}

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
}

const ORDERS_TABLE = 'orders';

const ordersTableEnvironment = {
  ORDERS_TABLE_NAME: { tableName: ORDERS_TABLE },
} as const satisfies Record<string, EnvironmentValue>;

export const appModel: AppModel = {
  tables: [
    {
      name: ORDERS_TABLE,
      partitionKey: 'PK',
      sortKey: 'SK',
      stream: 'NEW_AND_OLD_IMAGES',
      ttlAttribute: 'expiresAt',
    },
  ],
  queues: [],
  stateMachines: [],
  functions: [
    {
      name: 'create-order',
      entry: 'functions/http/create-order.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      triggers: [{ type: 'http', method: 'POST', path: '/orders' }],
      environment: {
        ...ordersTableEnvironment,
        PAYMENT_TIMEOUT_SECONDS: { setting: 'PAYMENT_TIMEOUT_SECONDS', default: '1800' },
      },
      access: { tables: [{ table: ORDERS_TABLE, mode: 'readWrite' }] },
    },
    {
      name: 'get-order',
      entry: 'functions/http/get-order.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [{ type: 'http', method: 'GET', path: '/orders/{orderId}' }],
      environment: ordersTableEnvironment,
      access: { tables: [{ table: ORDERS_TABLE, mode: 'read' }] },
    },
    {
      name: 'cancel-order',
      entry: 'functions/http/cancel-order.ts',
      memoryMb: 256,
      timeoutSeconds: 10,
      triggers: [{ type: 'http', method: 'POST', path: '/orders/{orderId}/cancel' }],
      environment: ordersTableEnvironment,
      access: { tables: [{ table: ORDERS_TABLE, mode: 'readWrite' }] },
    },
  ],
};

/** The names of every deployment setting the model's functions read, e.g. `PAYMENT_TIMEOUT_SECONDS`. */
export function settingNames(model: AppModel): string[] {
  const names = new Set(
    model.functions.flatMap((declaration) =>
      Object.values(declaration.environment).flatMap((value) => ('setting' in value ? [value.setting] : [])),
    ),
  );
  return [...names].sort();
}
