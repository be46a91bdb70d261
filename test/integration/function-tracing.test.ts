import { afterEach, describe, expect, it } from 'vitest';
import { FunctionHost } from '../../lib/local/runtime/function-host';
import { LOCAL_TRACING_ENVIRONMENT } from '../../lib/local/runtime/wiring';

/**
 * Locally the tracer is off, and so is the X-Ray SDK's automatic context tracking: it would otherwise hang an
 * async hook on every promise of every function, for trace context nobody reads.
 */

const ROOT = new URL('../..', import.meta.url).pathname;

let host: FunctionHost | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
});

async function probe(environment: Readonly<Record<string, string>>): Promise<unknown> {
  host = new FunctionHost({
    functions: [
      {
        declaration: {
          name: 'tracer-probe',
          entry: 'test/fixtures/functions/tracer-probe.ts',
          memoryMb: 128,
          timeoutSeconds: 10,
          triggers: [],
          environment: {},
          access: {},
        },
        environment,
      },
    ],
    rootDir: ROOT,
    region: 'us-east-1',
    accountId: '000000000000',
  });
  return await host.invoke('tracer-probe', {});
}

describe('tracing in the local runtime', () => {
  it('keeps the tracer off and installs no X-Ray context hook', async () => {
    expect(await probe(LOCAL_TRACING_ENVIRONMENT)).toEqual({ tracingEnabled: false, namespaces: [] });
  });

  it('would install the hook with the tracer off but the X-Ray SDK in its default mode', async () => {
    expect(await probe({ POWERTOOLS_TRACE_ENABLED: 'false' })).toEqual({
      tracingEnabled: false,
      namespaces: ['AWSXRay'],
    });
  });
});
