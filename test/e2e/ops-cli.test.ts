import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconciliationReport } from '../../functions/domain/payment-service';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { runScript } from '../support/cli';
import { eventually } from '../support/eventually';
import { type OrderView, placeBoxOrder, requestAs } from '../support/local-system';
import { fakeStripeOf, openPayment, stripeFor } from '../support/stripe';

/**
 * `npm run ops` as an operator runs it, as a process against the whole local system: customers of the local
 * user pool through the real cognito-idp SDK, their tokens on the order API, an order that does not exist, a
 * reconciliation pass against the fake Stripe, and help.
 */
let system: LocalSystem;

beforeAll(async () => {
  system = await startLocalSystem({
    port: 0,
    functionLogLevel: 'SILENT',
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
    // The scheduled reconciler stays out of the way: the pass the CLI runs is the one to find the lost webhook.
    scheduleRatesSeconds: { 'payment-reconciler': 3600 },
  });
});

afterAll(async () => {
  await system?.stop();
});

function ops(args: readonly string[], stdin?: string) {
  return runScript('ops.ts', ['--local', system.url, ...args], stdin);
}

/** The sub and password `customers create` printed. */
function createdCustomer(stdout: string): { sub: string; password: string } {
  const sub = /^ {2}sub: +(\S+)$/m.exec(stdout)?.[1];
  const password = /^ {2}password: +(\S+)$/m.exec(stdout)?.[1];
  if (sub === undefined || password === undefined) throw new Error(`customers create printed:\n${stdout}`);
  return { sub, password };
}

describe('npm run ops -- customers', () => {
  it('creates a customer and prints a token with which they place an order as themselves', async () => {
    // Prepare
    const email = 'first@shop.example';

    // Act
    const created = await ops(['customers', 'create', email]);
    const { sub, password } = createdCustomer(created.stdout);
    const token = await ops(['customers', 'token', email, '--password-stdin'], `${password}\n`);
    const response = await fetch(`${system.url}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ currency: 'EUR', items: [{ sku: 'MUG', quantity: 1, unitPrice: 1250 }] }),
    });

    // Assess
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain('shown this once');
    expect(token).toMatchObject({ code: 0, stderr: '' });
    // Only the token, so that TOKEN=$(npm run -s ops -- customers token ...) works.
    expect(token.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ customerId: sub, status: 'PENDING_PAYMENT' });
  }, 60_000);

  it('exits 1 with a typed error for a wrong password, an unknown customer and an existing one', async () => {
    // Prepare
    const email = 'second@shop.example';
    const created = await ops(['customers', 'create', email]);
    expect(created.code).toBe(0);

    // Act
    const wrongPassword = await ops(
      ['customers', 'token', email, '--password-stdin'],
      'Not-the-password-1\n',
    );
    const unknown = await ops(
      ['customers', 'token', 'nobody@shop.example', '--password-stdin'],
      'Whatever-it-is-1\n',
    );
    const again = await ops(['customers', 'create', email]);

    // Assess
    for (const refused of [wrongPassword, unknown]) {
      expect(refused).toMatchObject({ code: 1, stdout: '' });
      expect(refused.stderr).toMatch(/^CustomerSignInRefusedError: the user pool refused /);
    }
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toMatch(/^CustomerExistsError: a customer second@shop\.example exists already/);
  }, 60_000);
});

describe('npm run ops -- order <unknown id>', () => {
  const unknownId = '01M8ZZZZZZZZZZZZZZZZZZZZZZ';

  it('says that the table has no such order and exits 1', async () => {
    // Act
    const run = await ops(['order', unknownId]);

    // Assess
    expect(run).toMatchObject({
      code: 1,
      stdout: '',
      stderr: `OrderNotFoundError: no order ${unknownId} exists in table orders\n`,
    });
  }, 60_000);

  it('with --json, prints the story with a null order and the error as JSON, and exits 1', async () => {
    // Act
    const run = await ops(['order', unknownId, '--json']);

    // Assess
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ orderId: unknownId, tableName: 'orders', order: null });
    expect(JSON.parse(run.stderr)).toEqual({
      error: {
        name: 'OrderNotFoundError',
        code: 'ORDER_NOT_FOUND',
        message: `no order ${unknownId} exists in table orders`,
      },
    });
  }, 60_000);
});

describe('npm run ops -- payments reconcile', () => {
  const customer = 'customer-reconcile';

  /** An order paid with Stripe's test card; with `loseWebhook`, every event about its intent is lost. */
  async function paidOrder(loseWebhook: boolean): Promise<{ orderId: string; paymentId: string }> {
    const { orderId } = await placeBoxOrder(system, customer, 1, 1250);
    const { paymentId } = await openPayment(system, customer, orderId);
    if (loseWebhook) fakeStripeOf(system).loseWebhooksFor(paymentId);
    await stripeFor(system).paymentIntents.confirm(paymentId, { payment_method: 'pm_card_visa' });
    return { orderId, paymentId };
  }

  async function statusOf(orderId: string): Promise<string> {
    return (await requestAs<OrderView>(system, customer, 'GET', `/orders/${orderId}`)).body.status;
  }

  it('applies a payment whose webhook was lost, prints it, and order says it came from reconciliation', async () => {
    // Prepare
    const { orderId, paymentId } = await paidOrder(true);
    const before = await statusOf(orderId);

    // Act
    const run = await ops(['payments', 'reconcile', '--since', '1h']);
    const story = await ops(['order', orderId]);

    // Assess
    expect(before).toBe('PENDING_PAYMENT');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Reconciliation: undelivered events since \S+ \(--since; /);
    expect(run.stdout).toContain('  changed 1 payment(s) that no webhook had:\n');
    expect(run.stdout).toContain(`    ${orderId}\t${paymentId}\tpaid\tfound by an undelivered event\n`);
    expect(await statusOf(orderId)).not.toBe('PENDING_PAYMENT');
    expect(story.code).toBe(0);
    expect(story.stdout).toMatch(
      new RegExp(`^  ${paymentId}  SUCCEEDED  1250 EUR  created \\S+, updated \\S+ by reconciliation$`, 'm'),
    );
  }, 60_000);

  it('changes nothing a webhook brought (order says by webhook), prints JSON, and refuses a bad --since', async () => {
    // Prepare
    const { orderId, paymentId } = await paidOrder(false);
    await eventually(async () => ((await statusOf(orderId)) === 'PENDING_PAYMENT' ? undefined : true));

    // Act
    const json = await ops(['payments', 'reconcile', '--json']);
    const story = await ops(['order', orderId]);
    const usage = await ops(['payments', 'reconcile', '--since', 'soon']);

    // Assess
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(json.stdout) as ReconciliationReport;
    expect(report.changed).toEqual([]);
    expect(report.moreEvents).toBe(false);
    expect(story.code).toBe(0);
    expect(story.stdout).toMatch(
      new RegExp(`^  ${paymentId}  SUCCEEDED  1250 EUR  created \\S+, updated \\S+ by webhook$`, 'm'),
    );
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toMatch(/^PaymentsUsageError: --since soon is neither /);
  }, 60_000);
});

describe('npm run ops -- payments reconcile, in AWS', () => {
  it('refuses to run without the stack outputs it needs, before reading any secret, and exits 2', async () => {
    // Act
    const [none, noSecret] = await Promise.all([
      runScript('ops.ts', ['payments', 'reconcile']),
      runScript('ops.ts', ['payments', 'reconcile', '--table', 'orders-x', '--timer-group', 'timers-x']),
    ]);

    // Assess
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/^UsageError: payments needs --table <name>, --stripe-secret-arn <arn> and /);
    expect(noSecret).toMatchObject({ code: 2, stdout: '' });
    expect(noSecret.stderr).toBe('UsageError: payments needs --stripe-secret-arn <arn> or --local <url>\n');
  }, 60_000);
});

describe('npm run ops -- help', () => {
  it('prints the whole usage for --help, -h and help, and exits 0', async () => {
    // Act
    const runs = await Promise.all([['--help'], ['-h'], ['help']].map((args) => runScript('ops.ts', args)));

    // Assess
    for (const run of runs) {
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^usage: npm run ops -- /);
      for (const area of [
        'dlq list',
        'sagas list',
        'order <orderId>',
        'customers create <email>',
        'payments reconcile',
      ]) {
        expect(run.stdout).toContain(area);
      }
    }
  }, 60_000);

  it("prints an area's usage alone for <area> --help and help <area>, and exits 0", async () => {
    // Prepare
    const areas = ['dlq', 'sagas', 'order', 'customers', 'payments'];

    // Act
    const runs = await Promise.all([
      ...areas.map((area) => runScript('ops.ts', [area, '--help'])),
      runScript('ops.ts', ['help', 'payments']),
    ]);

    // Assess
    for (const [index, run] of runs.entries()) {
      const area = areas[index] ?? 'payments';
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`  ${area} `);
      for (const other of areas.filter((candidate) => candidate !== area)) {
        expect(run.stdout).not.toContain(`  ${other} `);
      }
    }
    expect(runs[3]?.stdout).toContain(
      '--user-pool-id <CustomerUserPoolId> --client-id <CustomerUserPoolClientId>',
    );
    expect(runs[5]?.stdout).toContain(
      '--table <OrdersTableName> --stripe-secret-arn <PaymentProviderApiKeySecretArn> --timer-group <PaymentTimeoutsTimerGroupName>',
    );
  }, 60_000);

  it('refuses an unknown area or none with the usage on stderr, and exits 2', async () => {
    // Act
    const runs = await Promise.all([runScript('ops.ts', ['refunds', 'list']), runScript('ops.ts', [])]);

    // Assess
    for (const run of runs) {
      expect(run).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr).toMatch(/^UsageError: no area/);
      expect(run.stderr).toContain('usage: npm run ops -- ');
    }
  }, 60_000);
});
