import { afterEach, describe, expect, it } from 'vitest';
import { FunctionInvocationError } from '../../lib/local/invoker';
import { FunctionHost } from '../../lib/local/runtime/function-host';
import type { FunctionDeclaration } from '../../lib/model';

const ROOT = new URL('../..', import.meta.url).pathname;

function declaration(name: string, entry: string, timeoutSeconds = 5): FunctionDeclaration {
  return { name, entry, memoryMb: 128, timeoutSeconds, triggers: [], environment: {}, access: {} };
}

interface ProbeResult {
  readonly invocations: number;
  readonly environmentId: string;
  readonly functionName: string;
  readonly remainingMs: number;
  readonly greeting: string | null;
  readonly hostPath: string | null;
}

let host: FunctionHost | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
});

function start(maxConcurrency = 2, timeoutSeconds = 5): FunctionHost {
  host = new FunctionHost({
    functions: [
      {
        declaration: declaration('probe', 'test/fixtures/functions/probe.ts', timeoutSeconds),
        environment: { GREETING: 'hi' },
      },
      { declaration: declaration('broken', 'test/fixtures/functions/no-handler.ts'), environment: {} },
      { declaration: declaration('loader', 'test/fixtures/functions/loader-probe.ts'), environment: {} },
    ],
    rootDir: ROOT,
    region: 'us-east-1',
    accountId: '000000000000',
    maxConcurrency,
  });
  return host;
}

describe('FunctionHost', () => {
  it('gives the handler its own environment and a Lambda context, and reuses a warm environment', async () => {
    const functions = start(1);

    const first = (await functions.invoke('probe', { n: 1 })) as ProbeResult;
    const second = (await functions.invoke('probe', { n: 2 })) as ProbeResult;

    expect(first).toMatchObject({ functionName: 'probe', greeting: 'hi', hostPath: null, invocations: 1 });
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(5000);
    expect(second.invocations).toBe(2);
    expect(second.environmentId).toBe(first.environmentId);
  });

  it('runs concurrent invocations in separate environments up to the concurrency limit', async () => {
    const functions = start(2);

    const results = (await Promise.all(
      [1, 2, 3, 4].map((n) => functions.invoke('probe', { n, sleepMs: 100 })),
    )) as ProbeResult[];

    const perEnvironment = new Map<string, number>();
    for (const result of results) {
      perEnvironment.set(
        result.environmentId,
        Math.max(perEnvironment.get(result.environmentId) ?? 0, result.invocations),
      );
    }
    expect(perEnvironment.size).toBe(2);
    expect([...perEnvironment.values()].reduce((sum, count) => sum + count, 0)).toBe(4);
  });

  it('reports a thrown error with its name as errorType, like Lambda', async () => {
    const functions = start();

    const failure = await functions.invoke('probe', { fail: true }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(FunctionInvocationError);
    expect(failure).toMatchObject({ errorType: 'ProbeFailure', errorMessage: 'asked to fail' });
  });

  it('times an invocation out and starts a fresh environment for the next one', async () => {
    const functions = start(1, 1);
    const before = (await functions.invoke('probe', {})) as ProbeResult;

    const failure = await functions.invoke('probe', { sleepMs: 3000 }).catch((error: unknown) => error);
    const after = (await functions.invoke('probe', {})) as ProbeResult;

    expect(failure).toMatchObject({ errorType: 'Sandbox.Timedout' });
    expect(after.invocations).toBe(1);
    expect(after.environmentId).not.toBe(before.environmentId);
  });

  it('fails clearly for a module without a handler and for an undeclared function', async () => {
    const functions = start();

    await expect(functions.invoke('broken', {})).rejects.toMatchObject({
      errorType: 'Runtime.ImportModuleError',
    });
    await expect(functions.invoke('nope', {})).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
  });

  it("loads handlers with tsx's ES module hooks only: CommonJS dependencies load through Node's own require", async () => {
    const functions = start();

    const result = (await functions.invoke('loader', {})) as { requireExtensions: readonly string[] };

    // tsx's CommonJS hooks add .ts; they also re-read and lex every .js the AWS SDK requires (a fifth of a cold start).
    expect(result.requireExtensions).toContain('.js');
    expect(result.requireExtensions).not.toContain('.ts');
  });
});
