import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OrderSummary } from '../../lib/console/backend';
import { createConsoleHandler } from '../../lib/console/server';
import { type LoopbackServer, readBodyBytes, startLoopbackServer } from '../../lib/local/http';
import type { OrderStory, SagaStep } from '../../lib/ops/order';
import type { SagaExecution } from '../../lib/ops/sagas';
import { InMemoryConsoleBackend } from '../support/in-memory/console-backend';

const NOW = new Date('2026-12-07T12:10:00.000Z');
const ORDER_ID = '01KB0000000000000000000001';
const QUEUE = 'order-events-dlq.fifo';
const SOURCE = 'order-events.fifo';
const HOSTILE = '<script>alert(1)</script>';

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

let server: LoopbackServer;
let backend: InMemoryConsoleBackend;
let logs: string[];

/** A raw HTTP exchange, so a test controls every header (fetch would add or refuse some). */
async function send(
  method: string,
  path: string,
  headers: Readonly<Record<string, string>> = {},
  body = '',
): Promise<Reply> {
  const url = new URL(path, server.url);
  return await new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const get = (path: string, headers: Readonly<Record<string, string>> = {}) => send('GET', path, headers);

/** The CSRF token a browser holds after loading a page: the cookie the console set. */
async function csrfToken(): Promise<string> {
  const reply = await get('/console');
  const cookie = String(reply.headers['set-cookie']);
  const token = /console_csrf=([^;]+)/.exec(cookie)?.[1];
  if (token === undefined) throw new Error(`no console_csrf cookie in ${cookie}`);
  return token;
}

/** A form POST as the browser sends it from a console page, with parts left out or changed by `overrides`. */
async function post(
  path: string,
  fields: Readonly<Record<string, string>>,
  overrides: { origin?: string | null; cookie?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const origin = overrides.origin === undefined ? server.url : overrides.origin;
  if (origin !== null) headers.origin = origin;
  if (overrides.cookie !== null && overrides.cookie !== undefined)
    headers.cookie = `console_csrf=${overrides.cookie}`;
  return await send('POST', path, headers, new URLSearchParams(fields).toString());
}

function h1s(text: string): string[] {
  return [...text.matchAll(/<h1>(.*?)<\/h1>/g)].map((match) => match[1] ?? '');
}

/** The contract every page keeps: one heading, and the console's navigation with its four links. */
function expectConsolePage(reply: Reply, heading: string): void {
  expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(h1s(reply.text)).toEqual([heading]);
  const navigation = /<nav aria-label="Console">(.*?)<\/nav>/s.exec(reply.text)?.[1] ?? '';
  expect(
    [...navigation.matchAll(/<a href="([^"]+)"[^>]*>([^<]+)<\/a>/g)].map((match) => [match[2], match[1]]),
  ).toEqual([
    ['Overview', '/console'],
    ['Orders', '/console/orders'],
    ['Dead letters', '/console/dead-letters'],
    ['Sagas', '/console/sagas'],
  ]);
  expect(reply.text).toMatch(/<html lang="en">/);
  expect(reply.text).toContain('<a class="skip-link" href="#main">');
  expect(reply.text).toContain('<main id="main"');
  for (const table of reply.text.match(/<table>[\s\S]*?<\/table>/g) ?? [])
    expect(table).toMatch(/^<table><caption>/);
}

function summary(overrides: Partial<OrderSummary> = {}): OrderSummary {
  return {
    orderId: ORDER_ID,
    customerId: 'customer-1',
    status: 'PAID',
    totalAmount: 2500,
    currency: 'EUR',
    createdAt: '2026-12-07T12:00:00.000Z',
    updatedAt: '2026-12-07T12:01:00.000Z',
    ...overrides,
  };
}

function sagaStep(
  name: string,
  type: string,
  outcome: SagaStep['outcome'],
  failures: SagaStep['failures'] = [],
): SagaStep {
  return {
    run: 0,
    name,
    type,
    compensation: !['CreateFulfillmentOrder', 'PickGoods'].includes(name),
    enteredAt: '2026-12-07T12:02:00.000Z',
    exitedAt: outcome === 'succeeded' ? '2026-12-07T12:02:01.000Z' : undefined,
    attempts: type === 'Task' ? Math.max(1, failures.length) : 0,
    failures,
    outcome,
  };
}

/** An order whose warehouse failed: compensated, FULFILLMENT_FAILED, its payment owed back, a message dead. */
function failedOrderStory(orderId = ORDER_ID): OrderStory {
  const at = (minute: number) => `2026-12-07T12:0${minute}:00.000Z`;
  return {
    orderId,
    gatheredAt: NOW.toISOString(),
    tableName: 'orders',
    order: {
      orderId,
      customerId: 'customer-1',
      status: 'FULFILLMENT_FAILED',
      version: 4,
      currency: 'EUR',
      totalAmount: 2500,
      items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 2500 }],
      paymentDeadline: at(5),
      createdAt: at(0),
      updatedAt: at(3),
    },
    timeline: [
      { orderId, version: 1, from: null, to: 'PENDING_PAYMENT', at: at(0), reason: 'placed' },
      {
        orderId,
        version: 2,
        from: 'PENDING_PAYMENT',
        to: 'PAID',
        at: at(1),
        reason: 'payment pay_1 succeeded',
      },
      { orderId, version: 3, from: 'PAID', to: 'FULFILLING', at: at(2), reason: 'saga started' },
      { orderId, version: 4, from: 'FULFILLING', to: 'FULFILLMENT_FAILED', at: at(3), reason: 'compensated' },
    ],
    payments: [
      {
        paymentId: 'pay_1',
        orderId,
        status: 'REFUND_PENDING',
        amount: 2500,
        currency: 'EUR',
        createdAt: at(0),
        updatedAt: at(3),
        refundReason: 'FULFILLMENT_FAILED',
        recordedBy: 'fulfilment',
      },
    ],
    events: [{ eventId: `${orderId}-1`, type: 'OrderPlaced', occurredAt: at(0), detail: '2500 EUR' }],
    ledger: [{ step: 'PickGoods', status: 'FAILED', compensatedFrom: undefined, updatedAt: at(2) }],
    saga: {
      executionName: `fulfillment-${orderId}`,
      executionArn: `arn:aws:states:eu-west-1:000000000000:execution:fulfillment:fulfillment-${orderId}`,
      status: 'FAILED',
      startedAt: at(2),
      stoppedAt: at(3),
      redriveCount: 0,
      redrivenAt: undefined,
      error: 'FulfillmentFailed',
      cause: 'compensated after WarehouseError: out of stock',
      steps: [
        sagaStep('CreateFulfillmentOrder', 'Task', 'succeeded'),
        sagaStep('PickGoods', 'Task', 'failed', [
          { error: 'WarehouseError', cause: 'out of stock', at: at(2) },
          { error: 'WarehouseError', cause: 'out of stock', at: at(2) },
        ]),
        sagaStep('ReturnGoods', 'Task', 'succeeded'),
        sagaStep('CancelFulfillmentOrder', 'Task', 'succeeded'),
        sagaStep('MarkFulfillmentFailed', 'Task', 'succeeded'),
        sagaStep('Compensated', 'Pass', 'succeeded'),
        sagaStep('FulfillmentFailed', 'Fail', 'failed'),
      ],
    },
    deadLetters: [
      {
        queue: QUEUE,
        source: SOURCE,
        approximateMessages: 1,
        messages: [
          {
            messageId: 'm-1',
            messageGroupId: orderId,
            receiveCount: 5,
            sentAt: at(3),
            body: `{"orderId":"${orderId}"}`,
          },
        ],
      },
    ],
    deadLetterQueuesSearched: [QUEUE],
    problems: [
      {
        summary: `payment pay_1 awaits its refund (REFUND_PENDING since ${at(3)})`,
        details: ['the RefundRequested event asks the provider'],
        command: undefined,
      },
    ],
  };
}

function execution(name: string, status: SagaExecution['status']): SagaExecution {
  return {
    name,
    executionArn: `arn:aws:states:eu-west-1:000000000000:execution:fulfillment:${name}`,
    status,
    startDate: new Date('2026-12-07T12:02:00.000Z'),
    stopDate: status === 'RUNNING' ? undefined : new Date('2026-12-07T12:03:00.000Z'),
    redriveCount: 0,
    redriveDate: undefined,
  };
}

beforeEach(async () => {
  backend = new InMemoryConsoleBackend(() => NOW);
  logs = [];
  const handler = createConsoleHandler({
    backend,
    operator: async () => 'operator@example',
    log: (line) => logs.push(line),
    now: () => NOW,
  });
  server = await startLoopbackServer(async (request, response) => {
    const body = await readBodyBytes(request, 1024 * 1024, () => new Error('body too large'));
    await handler(request, response, body);
  });
  backend.queues = [
    {
      name: QUEUE,
      source: SOURCE,
      messages: [
        {
          messageId: 'm-1',
          messageGroupId: ORDER_ID,
          receiveCount: 5,
          sentAt: '2026-12-07T12:03:00.000Z',
          body: '{}',
        },
        {
          messageId: 'm-2',
          messageGroupId: 'o-2',
          receiveCount: 5,
          sentAt: '2026-12-07T12:04:00.000Z',
          body: HOSTILE,
        },
        {
          messageId: 'm-3',
          messageGroupId: 'o-3',
          receiveCount: 5,
          sentAt: '2026-12-07T12:05:00.000Z',
          body: '{}',
        },
      ],
    },
  ];
});

afterEach(async () => {
  await server.close();
});

describe('pages', () => {
  it('serves the overview: funnel, figures as links to their lists, and a CSRF cookie', async () => {
    // Prepare
    backend.orders = [
      summary(),
      summary({ orderId: 'o-2' }),
      summary({ orderId: 'o-3', status: 'DELIVERED' }),
    ];
    backend.executions = [execution('fulfillment-o-9', 'FAILED')];
    backend.stuckRefunds = [{ orderId: 'o-7', paymentId: 'pay_7', since: '2026-12-07T11:00:00.000Z' }];
    backend.ordersPerMinute = [
      { minute: '2026-12-07T12:08:00.000Z', count: 1 },
      { minute: '2026-12-07T12:09:00.000Z', count: 2 },
    ];

    // Act
    const reply = await get('/console');

    // Assess
    expect(reply.status).toBe(200);
    expectConsolePage(reply, 'Overview');
    expect(reply.text).toMatch(
      /<a href="\/console\/orders\?status=PAID">.*?<span class="funnel-count">2<\/span><\/a>/,
    );
    expect(reply.text).toMatch(/<a href="\/console\/orders\?status=DELIVERED">.*?>1<\/span><\/a>/);
    expect(reply.text).toContain(`<a href="/console/dead-letters/${QUEUE}">${QUEUE}</a>`);
    expect(reply.text).toContain('<a href="/console/sagas?status=FAILED">1 failed saga</a>');
    expect(reply.text).toContain('<a href="/console/orders/o-7">o-7</a>');
    expect(reply.text).toContain(
      'aria-label="3 orders in the last 2 minutes; at most 2 in one minute (12:09 UTC)',
    );
    expect(reply.text).toContain('data-refresh');
    expect(reply.text).not.toContain('http-equiv="refresh"');
    expect(reply.headers['set-cookie']).toEqual([
      expect.stringMatching(/^console_csrf=[A-Za-z0-9_-]{43}; Path=\/console; HttpOnly; SameSite=Strict$/),
    ]);
  });

  it('writes capped counts as floors', async () => {
    // Prepare
    backend.orders = [summary(), summary({ orderId: 'o-2' }), summary({ orderId: 'o-3' })];
    backend.countCap = 2;

    // Act
    const reply = await get('/console');

    // Assess
    expect(reply.text).toContain('<span class="funnel-count">at least 2</span>');
    expect(reply.text).toContain('<span class="card-figure">at least 2</span>');
  });

  it('sets no new cookie for a browser that has one, and sends the security headers on every answer', async () => {
    // Prepare
    const token = await csrfToken();

    // Act
    const replies = await Promise.all([
      get('/console/dead-letters', { cookie: `console_csrf=${token}` }),
      get('/console/assets/console.js'),
      get('/console/nowhere'),
    ]);

    // Assess
    expect(replies[0]?.headers['set-cookie']).toBeUndefined();
    for (const reply of replies) {
      expect(reply.headers['content-security-policy']).toContain("script-src 'self'; style-src 'self'");
      expect(reply.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['referrer-policy']).toBe('same-origin');
      expect(reply.headers['cache-control']).toBe('no-store');
    }
  });

  it('serves its stylesheet and script', async () => {
    // Act
    const [css, js] = await Promise.all([
      get('/console/assets/console.css'),
      get('/console/assets/console.js'),
    ]);

    // Assess
    expect([css.status, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
    expect(css.text).toContain(':focus-visible');
    expect([js.status, js.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(js.text).toContain("setAttribute('aria-pressed'");
  });

  it('searches orders with the form filters and links the next page by its cursor', async () => {
    // Prepare
    backend.orders = Array.from({ length: 51 }, (_, index) =>
      summary({ orderId: `o-${String(index).padStart(2, '0')}` }),
    );

    // Act
    const reply = await get('/console/orders?customerId=customer-1&status=PAID&from=2026-12-07&to=');

    // Assess
    expectConsolePage(reply, 'Orders');
    expect(backend.callsOf('listOrders')).toEqual([
      {
        method: 'listOrders',
        args: [
          { limit: 50, customerId: 'customer-1', status: 'PAID', createdFrom: '2026-12-07T00:00:00.000Z' },
        ],
      },
    ]);
    for (const label of ['Order id', 'Customer id', 'Status', 'Created from', 'Created before']) {
      expect(reply.text).toMatch(new RegExp(`<label for="\\w+">${label}</label>`));
    }
    expect(reply.text).toContain('<option value="PAID" selected>PAID</option>');
    expect(reply.text).toContain(
      '<a rel="next" href="/console/orders?customerId=customer-1&amp;status=PAID&amp;from=2026-12-07&amp;cursor=50">Next page</a>',
    );
    expect(reply.text).toContain(`<a href="/console/orders/o-00">o-00</a>`);
  });

  it.each([
    ['/console/orders?status=LOST', 'LOST is not an order status'],
    ['/console/orders?from=yesterday', 'from must be an ISO 8601 time'],
    ['/console/dead-letters/a%20b', 'a b is not a queue name'],
    [`/console/dead-letters/${QUEUE}/redrive?max=-1`, 'max must be empty (all) or a whole number from 1'],
    ['/console/sagas?status=LOST', 'status must be one of FAILED'],
    ['/console/orders/%E0%A4%A', 'is not valid percent-encoding'],
  ])('refuses %s with a 400 page', async (path, problem) => {
    // Act
    const reply = await get(path);

    // Assess
    expect(reply.status).toBe(400);
    expect(h1s(reply.text)).toEqual(['Bad request']);
    expect(reply.text).toContain(problem);
    expect(reply.text).toContain('<code>CONSOLE_BAD_REQUEST</code>');
    expect(backend.calls).toEqual([]);
  });

  it('tells the story of an order whose saga failed: timeline, payments, saga graph and failed steps', async () => {
    // Prepare
    backend.stories.set(ORDER_ID, failedOrderStory());

    // Act
    const reply = await get(`/console/orders/${ORDER_ID}`);

    // Assess
    expectConsolePage(reply, `Order ${ORDER_ID}`);
    const timeline = /<ol class="timeline" aria-label="Timeline">(.*?)<\/ol>/s.exec(reply.text)?.[1] ?? '';
    expect(
      [...timeline.matchAll(/<li><span class="badge [^"]+">(\w+)<\/span>/g)].map((match) => match[1]),
    ).toEqual(['PENDING_PAYMENT', 'PAID', 'FULFILLING', 'FULFILLMENT_FAILED']);
    expect(reply.text).toMatch(
      /<h2 id="payments-heading">Payments<\/h2>[\s\S]*?<th scope="row">pay_1<\/th><td><span class="badge badge-warn">REFUND_PENDING<\/span>/,
    );
    expect(reply.text).toContain('<figure class="saga" aria-labelledby="saga-heading">');
    expect(reply.text).toContain('<h2 id="saga-heading">Saga</h2>');
    expect(reply.text).toContain('<g class="saga-state" data-state="PickGoods" data-outcome="failed">');
    expect(reply.text).toContain('<g class="saga-state" data-state="ShipOut" data-outcome="not-reached">');
    expect(reply.text).toContain(
      '<li><strong>PickGoods</strong> failed: <code>WarehouseError</code>: out of stock <span class="muted">after 2 attempts</span></li>',
    );
    expect(reply.text).toContain(
      '<li><strong>FulfillmentFailed</strong> failed: <code>FulfillmentFailed</code>: compensated after WarehouseError: out of stock</li>',
    );
    expect(reply.text).toContain('payment pay_1 awaits its refund');
    expect(reply.text).toContain(`<a href="/console/dead-letters/${QUEUE}">${QUEUE}</a>`);
    expect(reply.text).toContain(`action="/console/sagas/fulfillment-${ORDER_ID}/redrive"`);
  });

  it('lists the logistics reports from the timeline', async () => {
    // Prepare
    const story = failedOrderStory();
    backend.stories.set(ORDER_ID, {
      ...story,
      timeline: [
        ...story.timeline.slice(0, 3),
        {
          orderId: ORDER_ID,
          version: 4,
          from: 'FULFILLING',
          to: 'FULFILLED',
          at: story.gatheredAt,
          reason: 'done',
        },
        {
          orderId: ORDER_ID,
          version: 5,
          from: 'FULFILLED',
          to: 'SHIPPED',
          at: story.gatheredAt,
          reason: 'carrier C1',
        },
      ],
    });

    // Act
    const reply = await get(`/console/orders/${ORDER_ID}`);

    // Assess
    const logistics = /<h2 id="logistics-heading">Logistics reports<\/h2>\s*<ul>(.*?)<\/ul>/s.exec(
      reply.text,
    )?.[1];
    expect(logistics).toContain('SHIPPED');
    expect(logistics).toContain('carrier C1');
    expect(logistics).not.toContain('FULFILLED');
  });

  it('answers 404 for an order nobody knows, with its id escaped', async () => {
    // Act
    const reply = await get(`/console/orders/${encodeURIComponent(HOSTILE)}`);

    // Assess
    expect(reply.status).toBe(404);
    expect(reply.text).toContain(
      'no order, saga or dead letter has the id &lt;script&gt;alert(1)&lt;/script&gt;',
    );
    expect(reply.text).not.toContain(HOSTILE);
    expect(reply.text).toContain('<code>CONSOLE_NOT_FOUND</code>');
  });

  it('escapes what the data holds: an order id in the list and on its page', async () => {
    // Prepare
    backend.orders = [summary({ orderId: HOSTILE, customerId: `"><img src=x onerror=alert(1)>` })];
    backend.stories.set(HOSTILE, failedOrderStory(HOSTILE));

    // Act
    const [list, page] = await Promise.all([
      get('/console/orders'),
      get(`/console/orders/${encodeURIComponent(HOSTILE)}`),
    ]);

    // Assess
    expect(list.text).toContain(
      '<a href="/console/orders/%3Cscript%3Ealert(1)%3C%2Fscript%3E">&lt;script&gt;alert(1)&lt;/script&gt;</a>',
    );
    expect(list.text).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(page.status).toBe(200);
    expect(h1s(page.text)).toEqual(['Order &lt;script&gt;alert(1)&lt;/script&gt;']);
    for (const reply of [list, page]) {
      expect(reply.text).not.toContain(HOSTILE);
      expect(reply.text).not.toContain('<img');
    }
  });

  it('lists the dead-letter queues with depth, oldest age and a link', async () => {
    // Act
    const reply = await get('/console/dead-letters');

    // Assess
    expectConsolePage(reply, 'Dead letters');
    expect(reply.text).toContain(`<a href="/console/dead-letters/${QUEUE}">${QUEUE}</a>`);
    expect(reply.text).toContain('<td class="number alarm">3</td><td>7 min <span class="muted">');
    expect(reply.text).toContain(`<td>${SOURCE}</td>`);
  });

  it('shows a queue messages with their bodies escaped in <pre>, and the redrive form', async () => {
    // Act
    const reply = await get(`/console/dead-letters/${QUEUE}`);

    // Assess
    expectConsolePage(reply, `Dead letters: ${QUEUE}`);
    expect(backend.callsOf('deadLetterMessages')).toEqual([
      { method: 'deadLetterMessages', args: [QUEUE, 100] },
    ]);
    expect(reply.text).toContain('<pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>');
    expect(reply.text).not.toContain(HOSTILE);
    expect(reply.text).toContain('<label for="max">Messages to move (empty: all)</label>');
    expect(reply.text).toContain('<input id="max" name="max" type="number"');
    expect(reply.text).toContain('<button type="submit">Redrive</button>');
  });

  it('answers 404 for a queue that does not exist', async () => {
    // Act
    const reply = await get('/console/dead-letters/nothing-dlq');

    // Assess
    expect(reply.status).toBe(404);
    expect(reply.text).toContain('<code>DLQ_QUEUE_NOT_FOUND</code>');
  });

  it('asks to confirm a redrive with a POST form carrying the cookie token', async () => {
    // Prepare
    const token = await csrfToken();

    // Act
    const reply = await get(`/console/dead-letters/${QUEUE}/redrive?max=2`, {
      cookie: `console_csrf=${token}`,
    });

    // Assess
    expectConsolePage(reply, `Dead letters: ${QUEUE}`);
    expect(reply.text).toContain(`Move up to 2 messages from ${QUEUE} back to ${SOURCE}`);
    expect(reply.text).toContain(`<form method="post" action="/console/dead-letters/${QUEUE}/redrive">`);
    expect(reply.text).toContain(`<input type="hidden" name="csrf" value="${token}">`);
    expect(reply.text).toContain('<input type="hidden" name="max" value="2">');
    expect(reply.text).toContain('<button type="submit">Confirm redrive</button>');
    expect(backend.callsOf('redriveDeadLetters')).toEqual([]);
  });

  it('filters sagas by status, FAILED first, with a Redrive button for each stopped-short execution', async () => {
    // Prepare
    backend.executions = [
      execution(`fulfillment-${ORDER_ID}`, 'FAILED'),
      execution('fulfillment-o-2', 'RUNNING'),
    ];

    // Act
    const [failed, running] = await Promise.all([
      get('/console/sagas'),
      get('/console/sagas?status=RUNNING'),
    ]);

    // Assess
    expectConsolePage(failed, 'Sagas');
    expect(backend.callsOf('sagas').map((call) => call.args)).toEqual(
      expect.arrayContaining([['FAILED'], ['RUNNING']]),
    );
    expect(failed.text).toContain(`<a href="/console/orders/${ORDER_ID}">fulfillment-${ORDER_ID}</a>`);
    expect(failed.text).toContain(
      `<form class="inline" method="post" action="/console/sagas/fulfillment-${ORDER_ID}/redrive">`,
    );
    expect(failed.text).toContain(
      `<button type="submit">Redrive<span class="visually-hidden"> fulfillment-${ORDER_ID}</span></button>`,
    );
    expect(running.text).toContain('fulfillment-o-2');
    expect(running.text).not.toContain('<button type="submit">Redrive');
  });

  it('answers 404 for an unknown path and 405 for a wrong method', async () => {
    // Act
    const [unknown, wrongMethod] = await Promise.all([
      get('/console/everything'),
      get('/console/sagas/fulfillment-o-1/redrive'),
    ]);

    // Assess
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain('no page at /console/everything');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');
  });

  it('answers a failing backend with a 500 page naming the error, and logs it', async () => {
    // Prepare
    backend.deadLetterQueues = async () => {
      throw Object.assign(new Error('SQS is unreachable'), { code: 'ECONNREFUSED' });
    };

    // Act
    const reply = await get('/console/dead-letters');

    // Assess
    expect(reply.status).toBe(500);
    expect(reply.text).toContain('SQS is unreachable');
    expect(reply.text).toContain('<code>ECONNREFUSED</code>');
    expect(logs.map((line) => JSON.parse(line))).toEqual([
      {
        consoleError: 'ECONNREFUSED',
        message: 'SQS is unreachable',
        method: 'GET',
        path: '/console/dead-letters',
      },
    ]);
  });

  it('refuses a Host that is not a loopback name, against DNS rebinding', async () => {
    // Act
    const reply = await get('/console', { host: `attacker.example:${new URL(server.url).port}` });

    // Assess
    expect(reply.status).toBe(403);
    expect(reply.text).toContain('<code>CONSOLE_HOST_REFUSED</code>');
    expect(backend.calls).toEqual([]);
  });
});

describe('actions', () => {
  const redrivePath = `/console/dead-letters/${QUEUE}/redrive`;

  /** A forged or broken POST: which parts of a real one it lacks or changes. */
  interface Forgery {
    readonly origin?: string | null;
    readonly cookie?: null;
    readonly token?: string;
    readonly omitToken?: true;
  }
  const forgeries: readonly (readonly [string, Forgery, string])[] = [
    ['without an Origin header', { origin: null }, 'the request has no Origin header'],
    [
      'from a foreign origin',
      { origin: 'http://attacker.example' },
      'the request came from http://attacker.example',
    ],
    ['without the token', { omitToken: true }, 'the form carries no CSRF token'],
    ['with a wrong token', { token: 'A'.repeat(43) }, 'does not match the console_csrf cookie'],
    ['without the cookie', { cookie: null }, 'the browser sent no console_csrf cookie'],
  ];

  it.each(forgeries)('refuses a redrive %s with 403 and does nothing', async (_, forgery, why) => {
    // Prepare
    const token = await csrfToken();
    const fields: Record<string, string> = { max: '2' };
    if (forgery.omitToken !== true) fields.csrf = forgery.token ?? token;

    // Act
    const reply = await post(redrivePath, fields, {
      origin: forgery.origin,
      cookie: forgery.cookie === null ? null : token,
    });

    // Assess
    expect(reply.status).toBe(403);
    expect(h1s(reply.text)).toEqual(['Request refused']);
    expect(reply.text).toContain(why);
    expect(reply.text).toContain('<code>CONSOLE_CSRF_REFUSED</code>');
    expect(backend.callsOf('redriveDeadLetters')).toEqual([]);
    expect(backend.queues[0]?.messages).toHaveLength(3);
    expect(logs).toEqual([]);
  });

  it('redrives once with origin and token, shows what moved and logs who did it', async () => {
    // Prepare
    const token = await csrfToken();

    // Act
    const reply = await post(redrivePath, { csrf: token, max: '2' }, { cookie: token });

    // Assess
    expect(reply.status).toBe(200);
    expectConsolePage(reply, `Dead letters: ${QUEUE}`);
    expect(reply.text).toContain(`Moved 2 message(s) to ${SOURCE}`);
    expect(backend.callsOf('redriveDeadLetters')).toEqual([
      { method: 'redriveDeadLetters', args: [QUEUE, 2] },
    ]);
    expect(logs.map((line) => JSON.parse(line))).toEqual([
      {
        consoleAction: 'dlq-redrive',
        operator: 'operator@example',
        target: QUEUE,
        outcome: { max: 2, deadLetterQueue: QUEUE, sourceQueue: SOURCE, moved: 2, skipped: 0 },
      },
    ]);
  });

  it('redrives every message when max is empty', async () => {
    // Prepare
    const token = await csrfToken();

    // Act
    const reply = await post(redrivePath, { csrf: token, max: '' }, { cookie: token });

    // Assess
    expect(reply.text).toContain(`Moved 3 message(s) to ${SOURCE}`);
    expect(backend.callsOf('redriveDeadLetters')).toEqual([
      { method: 'redriveDeadLetters', args: [QUEUE, undefined] },
    ]);
    expect(JSON.parse(logs[0] ?? '{}')).toMatchObject({ outcome: { max: 'all', moved: 3 } });
  });

  it('logs a redrive the backend refused, and answers with its code', async () => {
    // Prepare
    backend.queues = [{ name: 'scheduler-dlq', source: undefined, messages: [] }];
    const token = await csrfToken();

    // Act
    const reply = await post(
      '/console/dead-letters/scheduler-dlq/redrive',
      { csrf: token, max: '' },
      { cookie: token },
    );

    // Assess
    expect(reply.status).toBe(409);
    expect(reply.text).toContain('<code>DLQ_SOURCE_UNKNOWN</code>');
    expect(logs.map((line) => JSON.parse(line))).toEqual([
      {
        consoleAction: 'dlq-redrive',
        operator: 'operator@example',
        target: 'scheduler-dlq',
        outcome: { error: 'DLQ_SOURCE_UNKNOWN', message: expect.stringContaining('nowhere to redrive to') },
      },
    ]);
  });

  it('redrives a saga with origin and token, and refuses one without the token', async () => {
    // Prepare
    const name = `fulfillment-${ORDER_ID}`;
    backend.executions = [execution(name, 'FAILED')];
    const token = await csrfToken();

    // Act
    const refused = await post(`/console/sagas/${name}/redrive`, {}, { cookie: token });
    const reply = await post(`/console/sagas/${name}/redrive`, { csrf: token }, { cookie: token });

    // Assess
    expect(refused.status).toBe(403);
    expect(reply.status).toBe(200);
    expectConsolePage(reply, 'Sagas');
    expect(reply.text).toContain('redriven at <time datetime="2026-12-07T12:10:00.000Z">');
    expect(backend.callsOf('redriveSaga')).toEqual([{ method: 'redriveSaga', args: [name] }]);
    expect(logs.map((line) => JSON.parse(line))).toEqual([
      {
        consoleAction: 'saga-redrive',
        operator: 'operator@example',
        target: name,
        outcome: { outcomes: [{ name, outcome: 'redriven', redriveDate: NOW.toISOString() }] },
      },
    ]);
  });

  it("refuses the CLI's bulk word as an execution name: a page redrives only the execution it names", async () => {
    const token = await csrfToken();

    const reply = await post('/console/sagas/all-failed/redrive', { csrf: token }, { cookie: token });

    expect(reply.status).toBe(400);
    expect(reply.text).toContain('<code>CONSOLE_BAD_REQUEST</code>');
    expect(backend.callsOf('redriveSaga')).toEqual([]);
    expect(logs).toEqual([]);
  });
});
