import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '../../lib/local/runtime/local-system';
import { runScript } from '../support/cli';

/**
 * `npm run ops` as an operator runs it, as a process against the whole local system: customers of the local
 * user pool through the real cognito-idp SDK, their tokens on the order API, an order that does not exist, and
 * help.
 */
let system: LocalSystem;

beforeAll(async () => {
  system = await startLocalSystem({
    port: 0,
    functionLogLevel: 'SILENT',
    settings: { PAYMENT_TIMEOUT_SECONDS: '600' },
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

describe('npm run ops -- help', () => {
  it('prints the whole usage for --help, -h and help, and exits 0', async () => {
    // Act
    const runs = await Promise.all([['--help'], ['-h'], ['help']].map((args) => runScript('ops.ts', args)));

    // Assess
    for (const run of runs) {
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toMatch(/^usage: npm run ops -- /);
      for (const area of ['dlq list', 'sagas list', 'order <orderId>', 'customers create <email>']) {
        expect(run.stdout).toContain(area);
      }
    }
  }, 60_000);

  it("prints an area's usage alone for <area> --help and help <area>, and exits 0", async () => {
    // Prepare
    const areas = ['dlq', 'sagas', 'order', 'customers'];

    // Act
    const runs = await Promise.all([
      ...areas.map((area) => runScript('ops.ts', [area, '--help'])),
      runScript('ops.ts', ['help', 'customers']),
    ]);

    // Assess
    for (const [index, run] of runs.entries()) {
      const area = areas[index] ?? 'customers';
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`  ${area} `);
      for (const other of areas.filter((candidate) => candidate !== area)) {
        expect(run.stdout).not.toContain(`  ${other} `);
      }
    }
    expect(runs[3]?.stdout).toContain(
      '--user-pool-id <CustomerUserPoolId> --client-id <CustomerUserPoolClientId>',
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
