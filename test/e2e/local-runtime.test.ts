import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalSystem } from '../../lib/local/runtime/local-system';
import { type CustomerEndpoint, fetchAs } from '../support/auth';
import { runScript } from '../support/cli';
import { descendantsOf, survivorsAfter } from '../support/processes';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const running: ChildProcess[] = [];

afterEach(() => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

/** Starts `bin/local.ts` exactly as `npm start` does, and waits until it prints its HTTP endpoint. */
async function startCli(
  environment: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, 'bin/local.ts'], {
    cwd: ROOT,
    env: { ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /HTTP API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearInterval(timer);
        resolve(match[1]);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`bin/local.ts exited with ${child.exitCode}:\n${output}`));
      }
    }, 50);
  });
  return { child, url, output: () => output };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * The tests that start whole systems as child processes took up to 25 s beside the rest of the suite on 2 cores,
 * and over 30 s at twice that load.
 */
const CHILD_SYSTEMS_TIMEOUT_MS = 60_000;

const baseEnvironment = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  FUNCTION_LOG_LEVEL: 'SILENT',
};

describe('the local runtime as `npm start` runs it', { timeout: CHILD_SYSTEMS_TIMEOUT_MS }, () => {
  it('serves requests, prints its endpoints, and on SIGTERM stops leaving no child process', async () => {
    const { child, url, output } = await startCli({ ...baseEnvironment, PORT: '0' });
    const health = await fetch(`${url}/_local/health`);
    const printed = await runScript('token.ts', ['c', '--url', url]);
    const created = await fetch(`${url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${printed.stdout.trim()}` },
      body: JSON.stringify({
        customerId: 'c',
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPrice: 1 }],
      }),
    });
    const children = descendantsOf(child.pid ?? -1);

    child.kill('SIGTERM');
    const code = await exitOf(child);

    expect(health.status).toBe(200);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(created.status).toBe(201);
    expect(output()).toMatch(/DynamoDB\s+http:\/\/127\.0\.0\.1:\d+/);
    // The fake Stripe's API base and the test key a shop front's SDK is pointed at.
    expect(output()).toMatch(/Stripe \(fake\)\s+http:\/\/127\.0\.0\.1:\d+\s/);
    expect(output()).toMatch(/stripe-secret-key sk_test_[0-9a-f]{32}\n/);
    expect(children.length).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect(await survivorsAfter(children, 3000)).toEqual([]);
  });

  it('says what is missing when Java is not installed, and exits non-zero', async () => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, 'bin/local.ts'], {
      cwd: ROOT,
      env: { PATH: '/nonexistent', HOME: baseEnvironment.HOME, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });

    const code = await exitOf(child);

    expect(code).toBe(1);
    expect(stderr).toMatch(/Java/);
    expect(stderr).toMatch(/openjdk-17-jre-headless/);
  });
});

describe('two local systems side by side', { timeout: CHILD_SYSTEMS_TIMEOUT_MS }, () => {
  it('run on their own ports with their own data, and a data folder survives a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'order-backbone-'));
    const body = JSON.stringify({
      customerId: 'c',
      currency: 'EUR',
      items: [{ sku: 'A', quantity: 1, unitPrice: 5 }],
    });
    const post = (system: CustomerEndpoint) =>
      fetchAs(system, 'c', '/orders', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    try {
      const [persisted, inMemory] = await Promise.all([
        startLocalSystem({ port: 0, dataDir, functionLogLevel: 'SILENT' }),
        startLocalSystem({ port: 0, functionLogLevel: 'SILENT' }),
      ]);
      let orderId: string;
      try {
        orderId = String(((await (await post(persisted)).json()) as { orderId: string }).orderId);
        const elsewhere = await fetchAs(inMemory, 'c', `/orders/${orderId}`);

        expect(persisted.url).not.toBe(inMemory.url);
        expect(persisted.endpoints.dynamodb).not.toBe(inMemory.endpoints.dynamodb);
        expect(elsewhere.status).toBe(404);
      } finally {
        await Promise.all([persisted.stop(), inMemory.stop()]);
      }

      const restarted = await startLocalSystem({ port: 0, dataDir, functionLogLevel: 'SILENT' });
      try {
        const again = await fetchAs(restarted, 'c', `/orders/${orderId}`);

        expect(again.status).toBe(200);
      } finally {
        await restarted.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
