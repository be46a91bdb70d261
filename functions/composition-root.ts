import { Logger } from '@aws-lambda-powertools/logger';
import { search } from '@aws-lambda-powertools/logger/correlationId';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { METRICS_NAMESPACE } from '../lib/business-metrics';
import { PENDING_PAYMENT_INDEX } from '../lib/model';
import { DynamoDbOrderRepository } from './adapters/dynamodb-order-repository';
import { DynamoDbPaymentRepository } from './adapters/dynamodb-payment-repository';
import { SchedulerPaymentTimers } from './adapters/scheduler-payment-timers';
import { loadConfig, secretSource } from './config';
import { OrderService } from './domain/order-service';
import type { Clock, PaymentTimers } from './domain/ports';
import { LeanLogFormatter } from './log-formatter';

/**
 * The one place where AWS clients and services are built (with one module per area under `composition/` for
 * what only that area's functions use), once per execution environment (cold start), never
 * per invocation. Endpoints come from the SDK's own configuration (`AWS_ENDPOINT_URL_<SERVICE>`), which is how
 * the same code reaches DynamoDB Local on a laptop and DynamoDB in AWS. Everything is built on first use, so a
 * function only needs the environment of the parts it uses.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'order-backbone';

export const logger = new Logger({
  serviceName,
  correlationIdSearchFn: search,
  logFormatter: new LeanLogFormatter(),
});

/**
 * Passes on errors only. Not a child logger at ERROR: with Lambda's advanced logging controls on, Powertools
 * gives every Logger the level in `AWS_LAMBDA_LOG_LEVEL` (INFO) whatever level it was built with.
 */
type MetricsLogger = NonNullable<MetricsOptions['logger']>;

export function errorsOnly(target: Pick<MetricsLogger, 'error'>): MetricsLogger {
  const ignore = (): void => undefined;
  return {
    trace: ignore,
    debug: ignore,
    info: ignore,
    warn: ignore,
    error: (...content) => target.error(...content),
  };
}

export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName,
  // Its own warnings go through our JSON logger, and only its errors: "no application metrics to publish" would
  // otherwise be a line on every invocation of a function that had no business outcome to count.
  logger: errorsOnly(logger),
});

/**
 * X-Ray tracing: active only in Lambda with tracing on (Powertools turns itself off outside Lambda, and the
 * local runtime sets `POWERTOOLS_TRACE_ENABLED=false`), so the same code never looks for a daemon on a laptop.
 */
export const tracer = new Tracer({ serviceName });

export const systemClock: Clock = { now: () => new Date() };

/** Secrets are read again after five minutes, so a rotated secret takes effect without a deployment. */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * Marked free of side effects for esbuild: a `once(...)` whose result a function never uses is left out of its
 * bundle with everything only it builds (a consumer that refunds does not carry the payment service).
 */
/* @__NO_SIDE_EFFECTS__ */
export function once<T>(build: () => T): () => T {
  let built: { readonly value: T } | undefined;
  return () => {
    built ??= { value: build() };
    return built.value;
  };
}

/** Like {@link once}, but a failure is not kept: the next call tries again (a secret read can fail transiently). */
/* @__NO_SIDE_EFFECTS__ */
export function onceAsync<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

export const documentClient = once(() =>
  DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({}))),
);
export const ordersConfig = once(() => loadConfig('orders', process.env));

export const orderRepository = once(
  () =>
    new DynamoDbOrderRepository({
      client: documentClient(),
      tableName: ordersConfig().ORDERS_TABLE_NAME,
      pendingIndexName: PENDING_PAYMENT_INDEX.name,
      now: systemClock.now,
    }),
);

const schedulerTimers = once(() => {
  return new SchedulerPaymentTimers({
    client: tracer.captureAWSv3Client(new SchedulerClient({})),
    groupName: loadConfig('paymentTimeoutGroup', process.env).PAYMENT_TIMEOUT_GROUP_NAME,
    // Only functions that create timers have these settings; those that only cancel one have the group alone.
    target: once(() => {
      const config = loadConfig('paymentTimeoutTimer', process.env);
      return {
        targetArn: config.PAYMENT_TIMEOUT_TARGET_ARN,
        roleArn: config.PAYMENT_TIMEOUT_ROLE_ARN,
        deadLetterArn: config.PAYMENT_TIMEOUT_DEAD_LETTER_ARN,
        maximumRetryAttempts: config.PAYMENT_TIMEOUT_MAX_RETRIES,
        maximumEventAgeSeconds: config.PAYMENT_TIMEOUT_MAX_EVENT_AGE_SECONDS,
      };
    }),
    onCancelFailure: (orderId, error) =>
      logger.warn('could not delete the payment timeout schedule; it will fire and change nothing', {
        orderId,
        error: error instanceof Error ? error : String(error),
      }),
  });
});

/** Timers are only built when one is scheduled or cancelled, so functions that never do need no timer settings. */
export const paymentTimers: PaymentTimers = {
  schedule: (orderId, deadline) => schedulerTimers().schedule(orderId, deadline),
  cancel: (orderId) => schedulerTimers().cancel(orderId),
};

export async function secretValue(name: string): Promise<string> {
  const source = secretSource(name, process.env);
  if ('value' in source) return source.value;
  const value = await getSecret(source.arn, { maxAge: SECRET_MAX_AGE_SECONDS });
  if (typeof value !== 'string' || value === '') {
    throw new Error(`secret ${source.arn} holds no string value`);
  }
  return value;
}

export const paymentRepository = once(
  () =>
    new DynamoDbPaymentRepository({ client: documentClient(), tableName: ordersConfig().ORDERS_TABLE_NAME }),
);

export const getOrderService = once(() => {
  const config = ordersConfig();
  return new OrderService({
    repository: orderRepository(),
    timers: paymentTimers,
    clock: systemClock,
    ids: { newOrderId: () => ulid() },
    paymentTimeoutSeconds: config.PAYMENT_TIMEOUT_SECONDS,
    idempotencyKeyTtlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS,
  });
});
