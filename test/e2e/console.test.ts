import { userInfo } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_STACK_OUTPUTS, consoleStackNames, startConsoleServer } from '../../lib/console/cli';
import type { LocalSystem } from '../../lib/local/runtime/local-system';
import { appModel, SETTING_DEFAULTS, withMaxReceiveCount } from '../../lib/model';
import { runDlqCommand } from '../../lib/ops/dlq';
import { saveScreenshot, seriousViolations, useBrowser } from '../support/browser';
import { eventually, FIRST_FULFILLMENT_WAIT_MS } from '../support/eventually';
import { localClientConfig } from '../support/local-aws';
import {
  type OrderView,
  opsNamesOf,
  placeBoxOrder,
  reportLogisticsStatus,
  requestAs,
  startTestSystem,
} from '../support/local-system';
import { payOrder } from '../support/stripe';

/**
 * The operations console in a real Chromium (docs/console.md), driven as an operator drives it, on the whole local
 * system: orders found and followed to FULFILLED, a failed saga and its refund, a parked logistics report redriven
 * from its dead-letter queue, a forged POST refused, and axe-core on every page.
 */
const STATUS_QUEUE = 'status-events.fifo';
const STATUS_DLQ = 'status-events-dlq.fifo';
const OPERATOR = `local:${userInfo().username}`;

const browser = useBrowser();

function consoleUrlOf(system: LocalSystem): string {
  if (system.consoleUrl === undefined) throw new Error('the local system serves no console');
  return system.consoleUrl;
}

async function statusOf(system: LocalSystem, customer: string, orderId: string): Promise<OrderView> {
  return (await requestAs<OrderView>(system, customer, 'GET', `/orders/${orderId}`)).body;
}

/** Waits until the order's status is one of `statuses` and every payment's is `paymentStatus` when given. */
function orderReaching(
  system: LocalSystem,
  customer: string,
  orderId: string,
  statuses: readonly string[],
  paymentStatus?: string,
  timeoutMs?: number,
): Promise<OrderView> {
  return eventually(async () => {
    const view = await statusOf(system, customer, orderId);
    if (!statuses.includes(view.status)) return undefined;
    if (paymentStatus !== undefined && !view.payments.every((payment) => payment.status === paymentStatus))
      return undefined;
    return view;
  }, timeoutMs);
}

/** axe-core on the page as it stands: no serious or critical violation; then its screenshot, when asked for. */
async function expectAccessible(page: Page, screenshot: string): Promise<void> {
  expect(await seriousViolations(page), `axe-core on ${page.url()}`).toEqual([]);
  await saveScreenshot(page, screenshot);
}

function consoleNav(page: Page): Locator {
  return page.getByRole('navigation', { name: 'Console' });
}

/** Waits for the page whose one <h1> reads `text`, loaded whole (a click only waits for navigation to start). */
async function reached(page: Page, text: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: text, exact: true }).waitFor();
  await page.waitForLoadState();
}

/** The section under the heading `name`. */
function section(page: Page, name: string): Locator {
  return page.locator('section').filter({ has: page.getByRole('heading', { name, exact: true }) });
}

function rowsWith(page: Page, text: string): Locator {
  return page.getByRole('table').getByRole('row').filter({ hasText: text });
}

describe('the console on a healthy system', () => {
  let system: LocalSystem;
  let sqs: SQSClient;
  const actions: string[] = [];

  beforeAll(async () => {
    system = await startTestSystem({
      settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
      // A logistics report ahead of fulfilment is received twice, a second apart, then parked in its DLQ.
      model: withMaxReceiveCount(appModel, 2),
      queueVisibilityTimeoutSeconds: 1,
      log: (line) => {
        if (line.includes('"consoleAction"')) actions.push(line);
      },
    });
    sqs = new SQSClient(localClientConfig(system.endpoints.sqs));
  });

  afterAll(async () => {
    sqs?.destroy();
    await system?.stop();
  });

  /** The messages of the status DLQ, as `ops dlq show` finds them, by order id. */
  async function parkedOrders(): Promise<string[]> {
    const result = await runDlqCommand(['show', STATUS_DLQ], { sqs, out: () => undefined });
    return result.command === 'show' ? result.messages.map((message) => message.messageGroupId ?? '') : [];
  }

  /** An unpaid order whose DELIVERED report is parked in the status DLQ: it waited for fulfilment in vain. */
  async function orderWithParkedReport(customer: string): Promise<string> {
    const { orderId } = await placeBoxOrder(system, customer, 1, 1200);
    await reportLogisticsStatus(system, { orderId, status: 'DELIVERED', eventId: `delivered-${orderId}` });
    await eventually(async () => ((await parkedOrders()).includes(orderId) ? true : undefined));
    return orderId;
  }

  it('finds an order paid through the API by its id and by its customer, and shows its timeline to FULFILLED', async () => {
    // Prepare
    const customer = 'console-shopper';
    const { orderId } = await placeBoxOrder(system, customer, 2, 1500);
    const paymentId = await payOrder(system, customer, orderId);
    await orderReaching(system, customer, orderId, ['FULFILLED'], undefined, FIRST_FULFILLMENT_WAIT_MS);
    const page = await browser.newPage();

    // Act: from the overview to the list, searching by order id, then by customer.
    await page.goto(consoleUrlOf(system));
    await reached(page, 'Overview');
    await consoleNav(page).getByRole('link', { name: 'Orders' }).click();
    await reached(page, 'Orders');
    await page.getByLabel('Order id').fill(orderId);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(new RegExp(`orderId=${orderId}`));
    await reached(page, 'Orders');
    const foundById = await rowsWith(page, orderId).count();
    await page.getByLabel('Order id').fill('');
    await page.getByLabel('Customer id').fill(customer);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(new RegExp(`customerId=${customer}`));
    await reached(page, 'Orders');
    const byCustomer = rowsWith(page, orderId);
    const foundByCustomer = await byCustomer.textContent();
    await byCustomer.getByRole('link', { name: orderId }).click();
    await reached(page, `Order ${orderId}`);

    // Assess
    expect(foundById).toBe(1);
    expect(foundByCustomer).toContain('FULFILLED');
    const timeline = await page
      .getByRole('list', { name: 'Timeline' })
      .getByRole('listitem')
      .allTextContents();
    expect(timeline).toEqual([
      expect.stringContaining('PENDING_PAYMENT'),
      expect.stringContaining('PAID'),
      expect.stringContaining('FULFILLING'),
      expect.stringContaining('FULFILLED'),
    ]);
    const payments = await section(page, 'Payments').textContent();
    expect(payments).toContain(paymentId);
    expect(payments).toContain('SUCCEEDED');
    const saga = page.getByRole('figure', { name: 'Saga' });
    expect(await saga.locator('g[data-state="MarkOrderFulfilled"]').getAttribute('data-outcome')).toBe(
      'succeeded',
    );
    expect(await saga.locator('g[data-outcome="failed"]').count()).toBe(0);
  }, 60_000);

  it('redrives a report parked in a dead-letter queue from the page, after a confirmation, and its order completes', async () => {
    // Prepare: the report arrived before the payment and waited in vain; now the order is fulfilled.
    const customer = 'console-late-report';
    const orderId = await orderWithParkedReport(customer);
    await payOrder(system, customer, orderId);
    await orderReaching(system, customer, orderId, ['FULFILLED']);
    const actionsBefore = actions.length;
    const page = await browser.newPage();
    await page.goto(`${consoleUrlOf(system)}/orders/${orderId}`);
    await reached(page, `Order ${orderId}`);
    const fixCommands = await section(page, 'Problems').locator('code').allTextContents();

    // Act: the operator goes to the queue, reads the message, and moves everything back.
    await consoleNav(page).getByRole('link', { name: 'Dead letters' }).click();
    await reached(page, 'Dead letters');
    await page.getByRole('link', { name: STATUS_DLQ }).click();
    await reached(page, `Dead letters: ${STATUS_DLQ}`);
    const shown = await page.locator('pre').filter({ hasText: orderId }).count();
    await page.getByRole('button', { name: 'Redrive', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm redrive' }).click();
    await page.getByText(`Moved 1 message(s) to ${STATUS_QUEUE}`).waitFor();
    await page.waitForLoadState();
    await expectAccessible(page, 'redrive-result');

    // Assess
    expect(shown).toBe(1);
    // The order's page named the fix as a command that runs against this local system as printed.
    expect(fixCommands).toContain(`npm run ops -- --local ${system.url} dlq redrive ${STATUS_QUEUE}`);
    const delivered = await orderReaching(system, customer, orderId, ['DELIVERED']);
    expect(delivered.history.map((entry) => entry.status)).toEqual([
      'PENDING_PAYMENT',
      'PAID',
      'FULFILLING',
      'FULFILLED',
      'DELIVERED',
    ]);
    expect(await parkedOrders()).toEqual([]);
    const logged = actions.slice(actionsBefore).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toEqual([expect.objectContaining({ operator: OPERATOR })]);
    expect(JSON.stringify(logged[0])).toContain(STATUS_DLQ);
  }, 60_000);

  it('refuses a POST without the CSRF token, or from another origin, with 403, and changes nothing', async () => {
    // Prepare
    const orderId = await orderWithParkedReport('console-forged');
    const page = await browser.newPage();
    const queuePage = `${consoleUrlOf(system)}/dead-letters/${STATUS_DLQ}`;
    await page.goto(queuePage);
    await reached(page, `Dead letters: ${STATUS_DLQ}`);
    const token = (await page.context().cookies()).find((cookie) => cookie.name === 'console_csrf')?.value;
    const actionsBefore = actions.length;

    // Act: a script on the page's own origin, without the token; the token, sent from another origin.
    const withoutToken = await page.evaluate(async (url) => {
      const response = await fetch(url, { method: 'POST', body: new URLSearchParams({ max: '' }) });
      return response.status;
    }, `${queuePage}/redrive`);
    const foreign = await page.request.post(`${queuePage}/redrive`, {
      form: { csrf: token ?? '', max: '' },
      headers: { origin: 'http://attacker.example', cookie: `console_csrf=${token ?? ''}` },
    });
    await page.reload();
    await reached(page, `Dead letters: ${STATUS_DLQ}`);

    // Assess
    expect(token).toMatch(/^\S{16,}$/);
    expect(withoutToken).toBe(403);
    expect(foreign.status()).toBe(403);
    expect(await parkedOrders()).toContain(orderId);
    expect(await page.locator('pre').filter({ hasText: orderId }).count()).toBe(1);
    expect(actions).toHaveLength(actionsBefore);
  }, 60_000);

  it('has no serious or critical accessibility violation on any page', async () => {
    // Prepare: an order, and a message in a DLQ, so that no page is empty.
    const orderId = await orderWithParkedReport('console-a11y');
    const page = await browser.newPage();

    // Act and assess: every page, reached as the operator reaches it.
    await page.goto(consoleUrlOf(system));
    await reached(page, 'Overview');
    await expectAccessible(page, 'overview');
    await consoleNav(page).getByRole('link', { name: 'Orders' }).click();
    await reached(page, 'Orders');
    await expectAccessible(page, 'orders');
    await page.getByRole('link', { name: orderId }).click();
    await reached(page, `Order ${orderId}`);
    await expectAccessible(page, 'order');
    await consoleNav(page).getByRole('link', { name: 'Dead letters' }).click();
    await reached(page, 'Dead letters');
    await expectAccessible(page, 'dead-letters');
    await page.getByRole('link', { name: STATUS_DLQ }).click();
    await reached(page, `Dead letters: ${STATUS_DLQ}`);
    await expectAccessible(page, 'dead-letter-queue');
    await page.getByLabel('Messages to move (empty: all)').fill('1');
    await page.getByRole('button', { name: 'Redrive', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm redrive' }).waitFor();
    await page.waitForLoadState();
    await expectAccessible(page, 'confirmation');
    await consoleNav(page).getByRole('link', { name: 'Sagas' }).click();
    await reached(page, 'Sagas');
    await expectAccessible(page, 'sagas');
  }, 60_000);

  it('is mounted on the gateway at /console and under it, ahead of the API, and nowhere else', async () => {
    // Act
    const [root, below, unknown, beside] = await Promise.all(
      ['/console', '/console/orders', '/console/nothing-here', '/consoles'].map((path) =>
        fetch(`${system.url}${path}`),
      ),
    );

    // Assess
    expect([root?.status, below?.status, unknown?.status]).toEqual([200, 200, 404]);
    expect(root?.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(unknown?.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(beside?.status).toBe(404);
    expect(await beside?.json()).toEqual({ message: 'Not Found' });
  });

  it('serves the same console from npm run console, on loopback only, over the stack outputs', async () => {
    // Prepare: what CloudFormation would answer, from the names the local system lists; an order to find.
    const { tableName, stateMachineArn } = await opsNamesOf(system);
    const outputs = [
      { OutputKey: CONSOLE_STACK_OUTPUTS.tableName, OutputValue: tableName },
      { OutputKey: CONSOLE_STACK_OUTPUTS.stateMachineArn, OutputValue: stateMachineArn },
    ];
    const { orderId } = await placeBoxOrder(system, 'console-aws', 1, 900);
    const dynamodb = new DynamoDBClient(localClientConfig(system.endpoints.dynamodb));
    const sfn = new SFNClient(localClientConfig(system.endpoints.stepfunctions));
    const server = await startConsoleServer({
      target: {
        dynamodb,
        sqs,
        sfn,
        ...consoleStackNames('OrderBackbone', outputs),
        refundStuckAfterSeconds: SETTING_DEFAULTS.REFUND_STUCK_AFTER_SECONDS,
      },
      operator: 'arn:aws:iam::123456789012:user/operator',
      port: 0,
      log: () => undefined,
    });
    try {
      const page = await browser.newPage();

      // Act
      await page.goto(server.url);
      await reached(page, 'Overview');
      await consoleNav(page).getByRole('link', { name: 'Orders' }).click();
      await reached(page, 'Orders');
      const listed = await rowsWith(page, orderId).count();
      const outside = await fetch(`${server.url}/orders`);

      // Assess
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.consoleUrl).toBe(`${server.url}/console`);
      expect(listed).toBe(1);
      expect(outside.status).toBe(404);
    } finally {
      await server.close();
      dynamodb.destroy();
      sfn.destroy();
    }
  }, 60_000);
});

describe('the console on a system whose warehouse fails', () => {
  let system: LocalSystem;

  beforeAll(async () => {
    system = await startTestSystem({
      settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
      logistics: { warehouseFailureRate: 1 },
      sagaRetryIntervalMs: 5,
    });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it('shows the saga step that failed, its error, and the refund, and lists the failed saga', async () => {
    // Prepare
    const customer = 'console-unlucky';
    const { orderId } = await placeBoxOrder(system, customer, 1, 2500);
    const paymentId = await payOrder(system, customer, orderId);
    await orderReaching(system, customer, orderId, ['FULFILLMENT_FAILED'], 'REFUNDED', 60_000);
    const page = await browser.newPage();

    // Act: the failed orders, then the order, then the sagas.
    await page.goto(consoleUrlOf(system));
    await reached(page, 'Overview');
    await consoleNav(page).getByRole('link', { name: 'Orders' }).click();
    await reached(page, 'Orders');
    await page.getByLabel('Status').selectOption('FULFILLMENT_FAILED');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/status=FULFILLMENT_FAILED/);
    await reached(page, 'Orders');
    await page.getByRole('link', { name: orderId }).click();
    await reached(page, `Order ${orderId}`);
    const saga = page.getByRole('figure', { name: 'Saga' });
    const pick = saga.locator('g[data-state="PickGoods"]');
    const pickOutcome = await pick.getAttribute('data-outcome');
    const pickText = await pick.textContent();
    const failedSteps = await saga.locator('g[data-outcome="failed"]').count();
    const errorShown = await page.getByText(/LogisticsUnavailableError/).count();
    const payments = await section(page, 'Payments').textContent();
    await expectAccessible(page, 'order-failed');
    await consoleNav(page).getByRole('link', { name: 'Sagas' }).click();
    await reached(page, 'Sagas');
    const sagaRow = await rowsWith(page, orderId).textContent();
    await expectAccessible(page, 'sagas-failed');

    // Assess
    expect(pickOutcome).toBe('failed');
    expect(pickText).toContain('PickGoods');
    expect(failedSteps).toBeGreaterThanOrEqual(1);
    expect(errorShown).toBeGreaterThanOrEqual(1);
    expect(payments).toContain(paymentId);
    expect(payments).toContain('REFUNDED');
    expect(sagaRow).toContain('FAILED');
  }, 90_000);
});
