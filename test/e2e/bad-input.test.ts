import {
  type AttributeValue,
  DynamoDBClient,
  ListTablesCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { base64url, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_LIMITS } from '../../functions/domain/order';
import { signatureHeader } from '../../functions/domain/webhook-signature';
import { MAX_BODY_BYTES } from '../../functions/http/request';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { LOGISTICS_WEBHOOK_SECRET, PAYMENT_WEBHOOK_SECRET } from '../../lib/model';
import { fetchAs, nowSeconds, validClaimsFor } from '../support/auth';
import { eventually } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import { startTestSystem } from '../support/local-system';

/**
 * Bad input over real HTTP, as a table: every row is a malformed or refused request to the whole local system
 * (JSON, types, limits, media types, sizes, headers, paths, tokens, webhook signatures and bodies), answered
 * with its 4xx and a stable code: problem+json's `code`, or the fixed body API Gateway answers with itself.
 * None of them writes anything: after each group of rows, every store a write would touch (every table's
 * items, every queue's and dead-letter queue's message counts, the Scheduler's schedules and dead letters, the
 * events on the bus, the saga executions, the payment provider's intents, refunds and webhooks, the warehouse's
 * picks and the carrier's shipments) is as it was before the table.
 */

const CUSTOMER = 'bad-input';
const OTHER_CUSTOMER = 'bad-input-other';
const SETUP_IDEMPOTENCY_KEY = 'bad-input-setup';
/** Well formed, never issued. */
const UNKNOWN_ORDER = '01JZZZZZZZZZZZZZZZZZZZZZZZ';

const ITEM = { sku: 'MUG', quantity: 1, unitPrice: 1250 } as const;
const ORDER = { currency: 'EUR', items: [ITEM] } as const;

let system: LocalSystem;
let dynamodb: DynamoDBClient;
let sqs: SQSClient;
/** An order of CUSTOMER's, placed with SETUP_IDEMPOTENCY_KEY before the table. */
let placedOrderId: string;
let baseline: StoreSnapshot;

interface StoreSnapshot {
  readonly tables: Readonly<Record<string, readonly string[]>>;
  readonly queues: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly views: Readonly<Record<string, unknown>>;
}

/** The local views of what the stand-ins hold; a schedule's next firing time is left out, as it moves by itself. */
const VIEWS = [
  '/_local/schedules',
  '/_local/events',
  '/_local/executions',
  '/_local/provider/intents',
  '/_local/provider/refunds',
  '/_local/provider/deliveries',
  '/_local/warehouse/picks',
  '/_local/transport/shipments',
] as const;

const QUEUE_COUNTS = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
] as const;

async function scanAll(tableName: string): Promise<string[]> {
  const items: string[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      }),
    );
    items.push(...(page.Items ?? []).map((item) => JSON.stringify(item)));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items.sort();
}

async function view(path: string): Promise<unknown> {
  const body = (await (await fetch(`${system.url}${path}`)).json()) as unknown;
  if (path !== '/_local/schedules') return body;
  const { schedules, deadLetters } = body as {
    schedules: readonly { readonly nextInvocation?: string }[];
    deadLetters: unknown;
  };
  return { schedules: schedules.map(({ nextInvocation: _, ...schedule }) => schedule), deadLetters };
}

/** Reads every store without changing any: scans, queue attributes (no receive), and the local views. */
async function snapshot(): Promise<StoreSnapshot> {
  const { TableNames = [] } = await dynamodb.send(new ListTablesCommand({}));
  const { QueueUrls = [] } = await sqs.send(new ListQueuesCommand({ MaxResults: 1000 }));
  const tables = Object.fromEntries(
    await Promise.all(TableNames.map(async (name) => [name, await scanAll(name)] as const)),
  );
  const queues = Object.fromEntries(
    await Promise.all(
      QueueUrls.map(async (url) => {
        const { Attributes = {} } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...QUEUE_COUNTS] }),
        );
        return [url, Attributes] as const;
      }),
    ),
  );
  const views = Object.fromEntries(await Promise.all(VIEWS.map(async (path) => [path, await view(path)])));
  return { tables, queues, views };
}

function isQuiet(state: StoreSnapshot): boolean {
  return Object.values(state.queues).every((counts) => QUEUE_COUNTS.every((name) => counts[name] === '0'));
}

beforeAll(async () => {
  system = await startTestSystem({
    discardFunctionOutput: true,
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
  });
  dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
  sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
  const placed = await postOrder(JSON.stringify(ORDER), { 'Idempotency-Key': SETUP_IDEMPOTENCY_KEY });
  if (placed.status !== 201) throw new Error(`placing the setup order answered ${placed.status}`);
  placedOrderId = ((await placed.json()) as { orderId: string }).orderId;
  // The placed order's event has gone through the outbox, the queue and its consumer to the bus.
  await eventually(async () => {
    const state = await snapshot();
    const { events } = state.views['/_local/events'] as { events: readonly unknown[] };
    return isQuiet(state) && events.length > 0 ? state : undefined;
  });
  baseline = await snapshot();
});

afterAll(async () => {
  dynamodb?.destroy();
  sqs?.destroy();
  await system?.stop();
});

// --- requests ---------------------------------------------------------------------------------------------

const JSON_TYPE = { 'content-type': 'application/json' } as const;

async function postOrder(
  body: string | Uint8Array,
  headers: Readonly<Record<string, string>> = {},
): Promise<Response> {
  return await fetchAs(system, CUSTOMER, '/orders', {
    method: 'POST',
    headers: { ...JSON_TYPE, ...headers },
    body,
  });
}

function postOrderJson(body: unknown): () => Promise<Response> {
  return () => postOrder(JSON.stringify(body));
}

function withItem(overrides: Readonly<Record<string, unknown>>): unknown {
  return { ...ORDER, items: [{ ...ITEM, ...overrides }] };
}

function withoutItemField(field: keyof typeof ITEM): unknown {
  const { [field]: _, ...item } = ITEM;
  return { ...ORDER, items: [item] };
}

function withSku(sku: string): unknown {
  return withItem({ sku });
}

function withItems(items: readonly unknown[]): unknown {
  return { ...ORDER, items };
}

const ORDER_ROUTES = [
  { method: 'GET', path: (orderId: string) => `/orders/${orderId}` },
  { method: 'POST', path: (orderId: string) => `/orders/${orderId}/cancel` },
  { method: 'POST', path: (orderId: string) => `/orders/${orderId}/payments` },
] as const;

type OrderRoute = (typeof ORDER_ROUTES)[number];

function routeName(route: OrderRoute): string {
  return `${route.method} ${route.path('{orderId}')}`;
}

function asCustomer(customer: string, method: string, path: string): () => Promise<Response> {
  return () => fetchAs(system, customer, path, { method });
}

function withAuthorization(authorization: () => Promise<string | undefined>, method: string, path: string) {
  return async () => {
    const value = await authorization();
    return await fetch(`${system.url}${path}`, {
      method,
      headers: { ...JSON_TYPE, ...(value === undefined ? {} : { authorization: value }) },
      ...(method === 'POST' ? { body: JSON.stringify(ORDER) } : {}),
    });
  };
}

const claimsFor = (sub: string): JWTPayload => validClaimsFor(system, sub);

function signedWith(claims: () => JWTPayload): () => Promise<string> {
  return async () => `Bearer ${await system.auth.sign(claims())}`;
}

const segment = (value: unknown) => base64url.encode(JSON.stringify(value));

interface Webhook {
  readonly path: string;
  readonly header: string;
  readonly secretName: string;
  readonly otherSecretName: string;
  readonly validBody: () => Record<string, unknown>;
}

// Both bodies name the placed order, so that one that got past its refusal would pay or ship it: a write.
const PAYMENT_WEBHOOK: Webhook = {
  path: '/webhooks/payments',
  header: 'Stripe-Signature',
  secretName: PAYMENT_WEBHOOK_SECRET,
  otherSecretName: LOGISTICS_WEBHOOK_SECRET,
  validBody: () => ({
    id: 'evt_bad_input',
    object: 'event',
    type: 'payment_intent.succeeded',
    created: nowSeconds(),
    data: { object: { id: 'pi_bad_input', object: 'payment_intent', metadata: { orderId: placedOrderId } } },
  }),
};

const LOGISTICS_WEBHOOK: Webhook = {
  path: '/webhooks/logistics',
  header: 'Logistics-Signature',
  secretName: LOGISTICS_WEBHOOK_SECRET,
  otherSecretName: PAYMENT_WEBHOOK_SECRET,
  validBody: () => ({
    eventId: 'evt-bad-input',
    orderId: placedOrderId,
    status: 'SHIPPED',
    occurredAt: new Date().toISOString(),
  }),
};

function secret(name: string): string {
  const value = system.secrets[name];
  if (value === undefined) throw new Error(`the local system has no ${name}`);
  return value;
}

/** Posts `body` to `webhook` with the signature header `signature(body)` makes, or none when it makes none. */
function postWebhook(
  webhook: Webhook,
  body: () => string,
  signature: (rawBody: string) => string | undefined,
): () => Promise<Response> {
  return async () => {
    const rawBody = body();
    const header = signature(rawBody);
    return await fetch(`${system.url}${webhook.path}`, {
      method: 'POST',
      headers: { ...JSON_TYPE, ...(header === undefined ? {} : { [webhook.header]: header }) },
      body: rawBody,
    });
  };
}

function validlySigned(webhook: Webhook): (rawBody: string) => string {
  return (rawBody) => signatureHeader(secret(webhook.secretName), rawBody, nowSeconds());
}

function signedBody(webhook: Webhook, body: unknown): () => Promise<Response> {
  return postWebhook(webhook, () => JSON.stringify(body), validlySigned(webhook));
}

// --- the table --------------------------------------------------------------------------------------------

type Expected =
  | { readonly status: number; readonly code: string }
  | { readonly status: number; readonly message: string };

interface Row {
  readonly name: string;
  readonly send: () => Promise<Response>;
  readonly expected: Expected;
}

interface Group {
  readonly name: string;
  readonly rows: readonly Row[];
}

const malformedJson = { status: 400, code: 'MALFORMED_JSON' } as const;
const invalid = { status: 400, code: 'VALIDATION_FAILED' } as const;
const unsupportedMediaType = { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' } as const;
const tooLarge = { status: 413, code: 'PAYLOAD_TOO_LARGE' } as const;
const orderNotFound = { status: 404, code: 'ORDER_NOT_FOUND' } as const;
const badSignature = { status: 401, code: 'INVALID_SIGNATURE' } as const;
/** API Gateway's own answers, before any function runs. */
const gatewayBadRequest = { status: 400, message: 'Bad Request' } as const;
const gatewayNotFound = { status: 404, message: 'Not Found' } as const;
const unauthorized = { status: 401, message: 'Unauthorized' } as const;

const VALID_ORDER_JSON = JSON.stringify(ORDER);
const OVERSIZE_PADDING = ' '.repeat(MAX_BODY_BYTES);

function webhookRows(webhook: Webhook, bodyRows: readonly Row[]): Row[] {
  const body = () => JSON.stringify(webhook.validBody());
  const validHex = (rawBody: string) => validlySigned(webhook)(rawBody).split('v1=')[1] ?? '';
  return [
    { name: 'no signature', send: postWebhook(webhook, body, () => undefined), expected: badSignature },
    { name: 'an empty signature', send: postWebhook(webhook, body, () => ''), expected: badSignature },
    {
      name: 'a signature that is no t=,v1= list',
      send: postWebhook(webhook, body, () => 'garbage'),
      expected: badSignature,
    },
    {
      name: 'a signature without a timestamp',
      send: postWebhook(webhook, body, (rawBody) => `v1=${validHex(rawBody)}`),
      expected: badSignature,
    },
    {
      name: 'a signature without v1',
      send: postWebhook(webhook, body, () => `t=${nowSeconds()}`),
      expected: badSignature,
    },
    {
      name: 'a timestamp that is no number',
      send: postWebhook(webhook, body, (rawBody) => `t=soon,v1=${validHex(rawBody)}`),
      expected: badSignature,
    },
    {
      name: 'a v1 that is no hex digest',
      send: postWebhook(webhook, body, () => `t=${nowSeconds()},v1=${'z'.repeat(64)}`),
      expected: badSignature,
    },
    {
      name: 'a signature with another secret',
      send: postWebhook(webhook, body, (rawBody) => signatureHeader('not-the-secret', rawBody, nowSeconds())),
      expected: badSignature,
    },
    {
      name: "a signature with the other webhook's secret",
      send: postWebhook(webhook, body, (rawBody) =>
        signatureHeader(secret(webhook.otherSecretName), rawBody, nowSeconds()),
      ),
      expected: badSignature,
    },
    {
      name: 'a stale signature (10 minutes old)',
      send: postWebhook(webhook, body, (rawBody) =>
        signatureHeader(secret(webhook.secretName), rawBody, nowSeconds() - 600),
      ),
      expected: badSignature,
    },
    {
      name: 'a signature dated 10 minutes ahead',
      send: postWebhook(webhook, body, (rawBody) =>
        signatureHeader(secret(webhook.secretName), rawBody, nowSeconds() + 600),
      ),
      expected: badSignature,
    },
    {
      name: 'a signature of another body',
      send: postWebhook(webhook, body, () => signatureHeader(secret(webhook.secretName), '{}', nowSeconds())),
      expected: badSignature,
    },
    {
      name: 'a validly signed body that is no JSON',
      send: postWebhook(webhook, () => '{"id":', validlySigned(webhook)),
      expected: malformedJson,
    },
    {
      name: 'a validly signed body over 16 KiB',
      send: postWebhook(webhook, () => `${body()}${OVERSIZE_PADDING}`, validlySigned(webhook)),
      expected: tooLarge,
    },
    { name: 'a validly signed empty object', send: signedBody(webhook, {}), expected: invalid },
    { name: 'a validly signed array', send: signedBody(webhook, []), expected: invalid },
    ...bodyRows,
  ];
}

/** The valid Stripe event with `object` merged into its `data.object` and `top` into the envelope. */
function paymentEvent(
  object: Readonly<Record<string, unknown>>,
  top: Readonly<Record<string, unknown>> = {},
) {
  const valid = PAYMENT_WEBHOOK.validBody();
  const data = valid.data as { readonly object: Record<string, unknown> };
  return { ...valid, ...top, data: { object: { ...data.object, ...object } } };
}

function logisticsEvent(overrides: Readonly<Record<string, unknown>>) {
  return { ...LOGISTICS_WEBHOOK.validBody(), ...overrides };
}

const groups: readonly Group[] = [
  {
    name: 'malformed JSON bodies',
    rows: [
      {
        name: 'a truncated object',
        send: () => postOrder('{"currency":"EUR","items":['),
        expected: malformedJson,
      },
      {
        name: 'garbage after the object',
        send: () => postOrder(`${VALID_ORDER_JSON}x`),
        expected: malformedJson,
      },
      {
        name: 'two objects',
        send: () => postOrder(`${VALID_ORDER_JSON}${VALID_ORDER_JSON}`),
        expected: malformedJson,
      },
      { name: 'an empty body', send: () => postOrder(''), expected: malformedJson },
      { name: 'single quotes', send: () => postOrder("{'currency':'EUR'}"), expected: malformedJson },
      { name: 'a trailing comma', send: () => postOrder('{"currency":"EUR",}'), expected: malformedJson },
      { name: 'a comment', send: () => postOrder(`/* order */${VALID_ORDER_JSON}`), expected: malformedJson },
      {
        name: 'NaN',
        send: () => postOrder('{"currency":"EUR","items":[{"sku":"A","quantity":NaN,"unitPrice":1}]}'),
        expected: malformedJson,
      },
      {
        name: 'a raw newline inside a string',
        send: () => postOrder('{"currency":"EU\nR","items":[]}'),
        expected: malformedJson,
      },
      {
        name: 'bytes that are not UTF-8 between tokens',
        send: () => postOrder(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])),
        expected: malformedJson,
      },
      { name: 'the JSON value null', send: () => postOrder('null'), expected: invalid },
      { name: 'a JSON array', send: () => postOrder('[]'), expected: invalid },
      { name: 'a JSON string', send: () => postOrder('"order"'), expected: invalid },
      { name: 'a JSON number', send: () => postOrder('42'), expected: invalid },
      {
        name: 'arrays nested 4000 deep',
        send: () => postOrder(`${'['.repeat(4000)}${']'.repeat(4000)}`),
        expected: invalid,
      },
      {
        name: 'bytes that are not UTF-8 inside a SKU (arrive as U+FFFD)',
        send: () =>
          postOrder(
            Buffer.concat([
              Buffer.from('{"currency":"EUR","items":[{"sku":"MU'),
              Buffer.from([0xff]),
              Buffer.from('G","quantity":1,"unitPrice":1250}]}'),
            ]),
          ),
        expected: invalid,
      },
    ],
  },
  {
    name: 'missing, extra and mistyped fields',
    rows: [
      { name: 'no currency', send: postOrderJson({ items: ORDER.items }), expected: invalid },
      { name: 'no items', send: postOrderJson({ currency: 'EUR' }), expected: invalid },
      { name: 'a numeric currency', send: postOrderJson({ ...ORDER, currency: 978 }), expected: invalid },
      {
        name: 'a lower-case currency',
        send: postOrderJson({ ...ORDER, currency: 'eur' }),
        expected: invalid,
      },
      {
        name: 'a four-letter currency',
        send: postOrderJson({ ...ORDER, currency: 'EURO' }),
        expected: invalid,
      },
      {
        name: 'a currency ISO 4217 does not know',
        send: postOrderJson({ ...ORDER, currency: 'XYZ' }),
        expected: invalid,
      },
      { name: 'items as an object', send: postOrderJson({ ...ORDER, items: ITEM }), expected: invalid },
      { name: 'items null', send: postOrderJson({ ...ORDER, items: null }), expected: invalid },
      { name: 'an item that is a string', send: postOrderJson(withItems(['MUG'])), expected: invalid },
      { name: 'an item that is null', send: postOrderJson(withItems([null])), expected: invalid },
      { name: 'an item without sku', send: postOrderJson(withoutItemField('sku')), expected: invalid },
      {
        name: 'an item without quantity',
        send: postOrderJson(withoutItemField('quantity')),
        expected: invalid,
      },
      {
        name: 'an item without unitPrice',
        send: postOrderJson(withoutItemField('unitPrice')),
        expected: invalid,
      },
      { name: 'a numeric sku', send: postOrderJson(withItem({ sku: 42 })), expected: invalid },
      { name: 'a null sku', send: postOrderJson(withItem({ sku: null })), expected: invalid },
      { name: 'a quantity as a string', send: postOrderJson(withItem({ quantity: '1' })), expected: invalid },
      { name: 'a fractional quantity', send: postOrderJson(withItem({ quantity: 1.5 })), expected: invalid },
      { name: 'a negative quantity', send: postOrderJson(withItem({ quantity: -1 })), expected: invalid },
      { name: 'a null quantity', send: postOrderJson(withItem({ quantity: null })), expected: invalid },
      {
        name: 'a unit price as a string',
        send: postOrderJson(withItem({ unitPrice: '1250' })),
        expected: invalid,
      },
      {
        name: 'a fractional unit price',
        send: postOrderJson(withItem({ unitPrice: 12.5 })),
        expected: invalid,
      },
      {
        name: 'a negative unit price',
        send: postOrderJson(withItem({ unitPrice: -1250 })),
        expected: invalid,
      },
      { name: 'a boolean unit price', send: postOrderJson(withItem({ unitPrice: true })), expected: invalid },
      {
        name: 'an unknown top-level field',
        send: postOrderJson({ ...ORDER, coupon: 'FREE' }),
        expected: invalid,
      },
      { name: 'an unknown item field', send: postOrderJson(withItem({ discount: 100 })), expected: invalid },
      {
        name: 'a __proto__ member',
        send: () => postOrder(`{"__proto__":{"admin":true},${VALID_ORDER_JSON.slice(1)}`),
        expected: invalid,
      },
      { name: 'an empty customerId', send: postOrderJson({ ...ORDER, customerId: '' }), expected: invalid },
      { name: 'a blank customerId', send: postOrderJson({ ...ORDER, customerId: '   ' }), expected: invalid },
      {
        name: 'a customerId of 129 characters',
        send: postOrderJson({ ...ORDER, customerId: 'c'.repeat(129) }),
        expected: invalid,
      },
      { name: 'a numeric customerId', send: postOrderJson({ ...ORDER, customerId: 42 }), expected: invalid },
      {
        name: "another customer's customerId",
        send: postOrderJson({ ...ORDER, customerId: OTHER_CUSTOMER }),
        expected: { status: 403, code: 'CUSTOMER_MISMATCH' },
      },
    ],
  },
  {
    name: 'the limits of an order',
    rows: [
      { name: 'no items', send: postOrderJson(withItems([])), expected: invalid },
      {
        name: `${ORDER_LIMITS.maxItems + 1} items`,
        send: postOrderJson(
          withItems(
            Array.from({ length: ORDER_LIMITS.maxItems + 1 }, (_, index) => ({ ...ITEM, sku: `S${index}` })),
          ),
        ),
        expected: invalid,
      },
      { name: 'a quantity of 0', send: postOrderJson(withItem({ quantity: 0 })), expected: invalid },
      {
        name: 'a quantity one over the maximum',
        send: postOrderJson(withItem({ quantity: ORDER_LIMITS.maxQuantity + 1 })),
        expected: invalid,
      },
      { name: 'a unit price of 0', send: postOrderJson(withItem({ unitPrice: 0 })), expected: invalid },
      {
        name: 'a unit price one over the maximum',
        send: postOrderJson(withItem({ unitPrice: ORDER_LIMITS.maxUnitPrice + 1 })),
        expected: invalid,
      },
      {
        name: 'a unit price of 10^15',
        send: postOrderJson(withItem({ unitPrice: 1e15 })),
        expected: invalid,
      },
      {
        name: 'a unit price beyond safe integers',
        send: postOrderJson(withItem({ unitPrice: 2 ** 60 })),
        expected: invalid,
      },
      {
        name: 'a total one minor unit over the maximum',
        send: postOrderJson(
          withItems([
            { ...ITEM, sku: 'A', unitPrice: ORDER_LIMITS.maxTotalAmount },
            { ...ITEM, sku: 'B', unitPrice: 1 },
          ]),
        ),
        expected: invalid,
      },
      {
        name: 'a total over the maximum through quantity',
        send: postOrderJson(
          withItem({
            quantity: ORDER_LIMITS.maxQuantity,
            unitPrice: Math.floor(ORDER_LIMITS.maxTotalAmount / ORDER_LIMITS.maxQuantity) + 1,
          }),
        ),
        expected: invalid,
      },
      { name: 'an empty sku', send: postOrderJson(withSku('')), expected: invalid },
      { name: 'a blank sku', send: postOrderJson(withSku('   ')), expected: invalid },
      {
        name: 'a sku one character too long',
        send: postOrderJson(withSku('M'.repeat(ORDER_LIMITS.maxSkuLength + 1))),
        expected: invalid,
      },
      {
        name: 'a sku one character too long outside the BMP',
        send: postOrderJson(withSku('\u{1F375}'.repeat(ORDER_LIMITS.maxSkuLength + 1))),
        expected: invalid,
      },
      { name: 'a sku with NUL', send: postOrderJson(withSku('MU\u0000G')), expected: invalid },
      { name: 'a sku with a newline inside', send: postOrderJson(withSku('MU\nG')), expected: invalid },
      { name: 'a sku with a tab inside', send: postOrderJson(withSku('MU\tG')), expected: invalid },
      { name: 'a sku with DEL', send: postOrderJson(withSku('MUG\u007f')), expected: invalid },
      { name: 'a sku with a C1 control', send: postOrderJson(withSku('MU\u0085G')), expected: invalid },
      {
        name: 'a sku with a right-to-left override',
        send: postOrderJson(withSku('MUG\u202E10')),
        expected: invalid,
      },
      {
        name: 'a sku with a left-to-right embedding',
        send: postOrderJson(withSku('MUG\u202A10')),
        expected: invalid,
      },
      { name: 'a sku with a zero-width space', send: postOrderJson(withSku('MU\u200BG')), expected: invalid },
      {
        name: 'a sku with a byte order mark inside',
        send: postOrderJson(withSku('MU\uFEFFG')),
        expected: invalid,
      },
      {
        name: 'a sku with a line separator inside',
        send: postOrderJson(withSku('MU\u2028G')),
        expected: invalid,
      },
      {
        name: 'a sku with a paragraph separator inside',
        send: postOrderJson(withSku('MU\u2029G')),
        expected: invalid,
      },
      {
        name: 'a sku with a no-break space inside',
        send: postOrderJson(withSku('MU\u00A0G')),
        expected: invalid,
      },
      { name: 'a sku with a lone surrogate', send: postOrderJson(withSku('MUG\uD800')), expected: invalid },
      {
        name: 'a sku with a private-use character',
        send: postOrderJson(withSku('MUG\uE000')),
        expected: invalid,
      },
      { name: 'a sku with U+FFFD', send: postOrderJson(withSku('MU\uFFFDG')), expected: invalid },
      {
        name: 'the same sku on two lines',
        send: postOrderJson(withItems([ITEM, { ...ITEM, quantity: 2 }])),
        expected: invalid,
      },
      {
        name: 'the same sku on two lines at two prices',
        send: postOrderJson(withItems([ITEM, { ...ITEM, unitPrice: 1 }])),
        expected: invalid,
      },
      {
        name: 'the same sku on two lines once the schema trims it',
        send: postOrderJson(withItems([ITEM, { ...ITEM, sku: ` ${ITEM.sku} ` }])),
        expected: invalid,
      },
      {
        name: 'the same sku on two lines in two Unicode forms',
        send: postOrderJson(
          withItems([
            { ...ITEM, sku: 'CAF\u00C9' },
            { ...ITEM, sku: 'CAFE\u0301' },
          ]),
        ),
        expected: invalid,
      },
    ],
  },
  {
    name: 'media types, sizes and headers',
    rows: [
      {
        name: 'no content type',
        // fetch sets no content type for bytes.
        send: () =>
          fetchAs(system, CUSTOMER, '/orders', {
            method: 'POST',
            body: new TextEncoder().encode(VALID_ORDER_JSON),
          }),
        expected: unsupportedMediaType,
      },
      {
        name: 'an empty content type',
        send: () => postOrder(VALID_ORDER_JSON, { 'content-type': '' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'text/plain',
        send: () => postOrder(VALID_ORDER_JSON, { 'content-type': 'text/plain' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'application/xml',
        send: () => postOrder('<order/>', { 'content-type': 'application/xml' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'a form',
        send: () => postOrder('currency=EUR', { 'content-type': 'application/x-www-form-urlencoded' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'multipart',
        send: () => postOrder(VALID_ORDER_JSON, { 'content-type': 'multipart/form-data; boundary=x' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'JSON in Latin-1',
        send: () => postOrder(VALID_ORDER_JSON, { 'content-type': 'application/json; charset=iso-8859-1' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'application/jsonp',
        send: () => postOrder(VALID_ORDER_JSON, { 'content-type': 'application/jsonp' }),
        expected: unsupportedMediaType,
      },
      {
        name: 'a body one byte over 16 KiB',
        send: () => postOrder(VALID_ORDER_JSON.padEnd(MAX_BODY_BYTES + 1, ' ')),
        expected: tooLarge,
      },
      {
        name: 'a body of 1 MiB',
        send: () => postOrder(VALID_ORDER_JSON.padEnd(1024 * 1024, ' ')),
        expected: tooLarge,
      },
      {
        name: "a body over API Gateway's own 10 MiB",
        send: () => postOrder(VALID_ORDER_JSON.padEnd(10 * 1024 * 1024 + 1, ' ')),
        expected: { status: 413, message: 'Request Entity Too Large' },
      },
      {
        name: 'an oversize body of the wrong type (size first)',
        send: () =>
          postOrder(OVERSIZE_PADDING.padEnd(MAX_BODY_BYTES + 1, 'x'), { 'content-type': 'text/plain' }),
        expected: tooLarge,
      },
      {
        name: 'an empty Idempotency-Key',
        send: () => postOrder(VALID_ORDER_JSON, { 'Idempotency-Key': '' }),
        expected: invalid,
      },
      {
        name: 'an Idempotency-Key of 256 characters',
        send: () => postOrder(VALID_ORDER_JSON, { 'Idempotency-Key': 'k'.repeat(256) }),
        expected: invalid,
      },
      {
        name: 'an Idempotency-Key with a space',
        send: () => postOrder(VALID_ORDER_JSON, { 'Idempotency-Key': 'key one' }),
        expected: invalid,
      },
      {
        name: 'an Idempotency-Key with a tab',
        send: () => postOrder(VALID_ORDER_JSON, { 'Idempotency-Key': 'key\tone' }),
        expected: invalid,
      },
      {
        name: 'an Idempotency-Key with a byte outside ASCII',
        send: () => postOrder(VALID_ORDER_JSON, { 'Idempotency-Key': 'cl\u00e9' }),
        expected: invalid,
      },
      {
        name: 'an Idempotency-Key reused with another body',
        send: () =>
          postOrder(JSON.stringify(withItem({ quantity: 2 })), { 'Idempotency-Key': SETUP_IDEMPOTENCY_KEY }),
        expected: { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' },
      },
    ],
  },
  {
    name: 'malformed paths and unknown orders',
    rows: [
      ...ORDER_ROUTES.flatMap((route) =>
        ['%', '%E0%A4%A', '%ZZ', '%C0%AE', '%ED%A0%80'].map((bad) => ({
          name: `${routeName(route)} with ${bad}`,
          send: asCustomer(CUSTOMER, route.method, route.path(bad)),
          expected: gatewayBadRequest,
        })),
      ),
      ...ORDER_ROUTES.flatMap((route) =>
        [
          { name: 'an unknown order', orderId: () => UNKNOWN_ORDER },
          { name: 'an id of 300 characters', orderId: () => 'A'.repeat(300) },
          { name: 'the lower-case id of an order', orderId: () => placedOrderId.toLowerCase() },
          { name: 'an id of 25 characters', orderId: () => placedOrderId.slice(1) },
          { name: 'an encoded NUL', orderId: () => '%00' },
          { name: 'an encoded slash', orderId: () => `..%2F${placedOrderId}` },
        ].map(({ name, orderId }) => ({
          name: `${routeName(route)} with ${name}`,
          send: () => asCustomer(CUSTOMER, route.method, route.path(orderId()))(),
          expected: orderNotFound,
        })),
      ),
      ...ORDER_ROUTES.map((route) => ({
        name: `${routeName(route)} on another customer's order`,
        send: () => asCustomer(OTHER_CUSTOMER, route.method, route.path(placedOrderId))(),
        expected: orderNotFound,
      })),
      {
        name: 'GET /orders, no such route',
        send: asCustomer(CUSTOMER, 'GET', '/orders'),
        expected: gatewayNotFound,
      },
      {
        name: 'DELETE /orders/{orderId}, no such route',
        send: () => asCustomer(CUSTOMER, 'DELETE', `/orders/${placedOrderId}`)(),
        expected: gatewayNotFound,
      },
      {
        name: 'POST /orders/{orderId}/refund, no such route',
        send: () => asCustomer(CUSTOMER, 'POST', `/orders/${placedOrderId}/refund`)(),
        expected: gatewayNotFound,
      },
      {
        name: 'a malformed path with no route',
        send: asCustomer(CUSTOMER, 'POST', '/orders%'),
        expected: gatewayBadRequest,
      },
    ],
  },
  {
    name: 'customer tokens',
    rows: [
      ...[
        { name: 'no token', authorization: async () => undefined },
        { name: 'an empty bearer', authorization: async () => 'Bearer ' },
        { name: 'a token that is no JWT', authorization: async () => 'Bearer not-a-jwt' },
        { name: 'basic credentials', authorization: async () => `Basic ${btoa(`${CUSTOMER}:secret`)}` },
        {
          name: 'an expired token',
          authorization: signedWith(() => ({
            ...claimsFor(CUSTOMER),
            iat: nowSeconds() - 7200,
            exp: nowSeconds() - 3600,
          })),
        },
        {
          name: 'a token not yet valid',
          authorization: signedWith(() => ({ ...claimsFor(CUSTOMER), nbf: nowSeconds() + 600 })),
        },
        {
          name: 'a token without exp',
          authorization: signedWith(() => {
            const { exp: _, ...claims } = claimsFor(CUSTOMER);
            return claims;
          }),
        },
        {
          name: 'a token of another issuer',
          authorization: signedWith(() => ({ ...claimsFor(CUSTOMER), iss: 'https://issuer.example.com' })),
        },
        {
          name: 'a token for another audience',
          authorization: signedWith(() => ({ ...claimsFor(CUSTOMER), aud: 'another-client' })),
        },
        {
          name: 'a token forged with another key under the published kid',
          authorization: async () => {
            const { privateKey } = await generateKeyPair('RS256');
            const kid = system.auth.jwks.keys[0]?.kid ?? '';
            return `Bearer ${await new SignJWT(claimsFor(CUSTOMER)).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey)}`;
          },
        },
        {
          name: 'a token whose payload was swapped',
          authorization: async () => {
            const [header, , signature] = (await system.auth.tokenFor(OTHER_CUSTOMER)).split('.');
            return `Bearer ${header}.${segment(claimsFor(CUSTOMER))}.${signature}`;
          },
        },
        {
          name: 'an unsigned token (alg none)',
          authorization: async () =>
            `Bearer ${segment({ alg: 'none', typ: 'JWT', kid: system.auth.jwks.keys[0]?.kid })}.${segment(claimsFor(CUSTOMER))}.`,
        },
      ].map(({ name, authorization }) => ({
        name: `POST /orders with ${name}`,
        send: withAuthorization(authorization, 'POST', '/orders'),
        expected: unauthorized,
      })),
      ...ORDER_ROUTES.flatMap((route) => [
        {
          name: `${routeName(route)} with no token`,
          send: () => withAuthorization(async () => undefined, route.method, route.path(placedOrderId))(),
          expected: unauthorized,
        },
        {
          name: `${routeName(route)} with an expired token`,
          send: () =>
            withAuthorization(
              signedWith(() => ({
                ...claimsFor(CUSTOMER),
                iat: nowSeconds() - 7200,
                exp: nowSeconds() - 3600,
              })),
              route.method,
              route.path(placedOrderId),
            )(),
          expected: unauthorized,
        },
      ]),
    ],
  },
  {
    name: 'payment webhooks',
    rows: webhookRows(PAYMENT_WEBHOOK, [
      {
        name: 'no data',
        send: () => signedBody(PAYMENT_WEBHOOK, { ...PAYMENT_WEBHOOK.validBody(), data: undefined })(),
        expected: invalid,
      },
      {
        name: 'an empty event id',
        send: () => signedBody(PAYMENT_WEBHOOK, paymentEvent({}, { id: '' }))(),
        expected: invalid,
      },
      {
        name: 'a creation time as a string',
        send: () => signedBody(PAYMENT_WEBHOOK, paymentEvent({}, { created: 'now' }))(),
        expected: invalid,
      },
      {
        name: 'an intent without an id',
        send: () => signedBody(PAYMENT_WEBHOOK, paymentEvent({ id: undefined }))(),
        expected: invalid,
      },
      {
        name: 'an order id in metadata that is no string',
        send: () => signedBody(PAYMENT_WEBHOOK, paymentEvent({ metadata: { orderId: 7 } }))(),
        expected: invalid,
      },
      {
        name: 'a refund whose intent is a number',
        send: () =>
          signedBody(
            PAYMENT_WEBHOOK,
            paymentEvent(
              { id: 're_bad_input', object: 'refund', payment_intent: 5 },
              { type: 'refund.updated' },
            ),
          )(),
        expected: invalid,
      },
    ]),
  },
  {
    name: 'logistics webhooks',
    rows: webhookRows(LOGISTICS_WEBHOOK, [
      {
        name: 'an unknown field',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ carrier: 'x' }))(),
        expected: invalid,
      },
      {
        name: 'a status that is no logistics status',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ status: 'CANCELLED' }))(),
        expected: invalid,
      },
      {
        name: 'an order id that is no ULID',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ orderId: 'order-1' }))(),
        expected: invalid,
      },
      {
        name: 'an event id with a space',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ eventId: 'evt 1' }))(),
        expected: invalid,
      },
      {
        name: 'an event id of 129 characters',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ eventId: 'e'.repeat(129) }))(),
        expected: invalid,
      },
      {
        name: 'a time that is no ISO 8601',
        send: () => signedBody(LOGISTICS_WEBHOOK, logisticsEvent({ occurredAt: 'yesterday' }))(),
        expected: invalid,
      },
    ]),
  },
];

describe.each(groups)('$name', ({ rows }) => {
  it.each(rows)('refuses $name', async ({ send, expected }) => {
    const response = await send();
    const text = await response.text();

    expect(response.status).toBe(expected.status);
    if ('code' in expected) {
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(JSON.parse(text)).toMatchObject({ status: expected.status, code: expected.code });
    } else {
      expect(response.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(text)).toEqual({ message: expected.message });
    }
  });

  it('wrote nothing anywhere', async () => {
    expect(await snapshot()).toEqual(baseline);
  });
});

describe('the table of bad input', () => {
  it('has at least 100 rows', () => {
    expect(groups.flatMap((group) => group.rows).length).toBeGreaterThanOrEqual(100);
  });

  it('would notice a write: one valid order changes the snapshot', async () => {
    const placed = await postOrder(JSON.stringify(withSku('PROOF')));

    expect(placed.status).toBe(201);
    expect(await snapshot()).not.toEqual(baseline);
  });
});
