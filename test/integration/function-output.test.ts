import { afterEach, describe, expect, it, vi } from 'vitest';
import { FunctionHost } from '../../lib/local/runtime/function-host';
import { type CapturedOutput, captureProcessOutput } from '../support/output-capture';

/**
 * What a hosted function writes to stdout and stderr (what Lambda ships to CloudWatch Logs) is metered per
 * function in bytes and lines, through the real function host; with `discardOutput` it is counted and dropped.
 */

const ROOT = new URL('../..', import.meta.url).pathname;

let host: FunctionHost | undefined;
let capture: CapturedOutput | undefined;

afterEach(async () => {
  capture?.restore();
  capture = undefined;
  await host?.stop();
  host = undefined;
});

function start(discardOutput: boolean): FunctionHost {
  host = new FunctionHost({
    functions: [
      {
        declaration: {
          name: 'noisy',
          entry: 'test/fixtures/functions/noisy.ts',
          memoryMb: 128,
          timeoutSeconds: 10,
          triggers: [],
          environment: {},
          access: {},
        },
        environment: {},
      },
    ],
    rootDir: ROOT,
    region: 'us-east-1',
    accountId: '000000000000',
    maxConcurrency: 1,
    discardOutput,
  });
  return host;
}

/** What reaches this process's stdout and stderr (where a worker's output is piped), kept off the terminal. */
function captureOutput(): readonly string[] {
  capture = captureProcessOutput();
  return capture.chunks;
}

// 'héllo wörld' is 11 characters and 13 bytes in UTF-8; console.log adds a newline.
const event = { log: 'héllo wörld', privateLog: 'MARKER-private', stderr: 'MARKER-stderr\n' };
const EXPECTED_BYTES = 14 + 15 + 14;

describe('function output metering', () => {
  it('meters the exact bytes and lines each invocation writes, per function, and passes them on', async () => {
    // Prepare
    const output = captureOutput();
    const functions = start(false);

    // Act
    await functions.invoke('noisy', event);
    await functions.invoke('noisy', { ...event, barrier: 'BARRIER\n' });

    // Assess
    const usage = functions.meter.snapshot();
    expect(usage['CloudWatchLogs:Ingested(bytes)@noisy']?.requests).toBe(2 * EXPECTED_BYTES);
    expect(usage['CloudWatchLogs:Ingested(events)@noisy']?.requests).toBe(2 * 3);
    await vi.waitFor(() => expect(output.join('').match(/BARRIER/g)).toHaveLength(2));
    expect(output.join('').match(/MARKER-(private|stderr)/g)).toHaveLength(4);
    // One terminal for every function: each line it passes on names the function that wrote it.
    expect(output.join('').match(/^\[noisy\] MARKER-(private|stderr)$/gm)).toHaveLength(4);
  });

  it('writes nothing to the real stdout or stderr when output is discarded, and still meters it', async () => {
    const output = captureOutput();
    const functions = start(true);

    await functions.invoke('noisy', { ...event, barrier: 'BARRIER\n' });

    // Everything the function wrote before the barrier travelled the same ordered channels ahead of it.
    await vi.waitFor(() => expect(output.join('').match(/BARRIER/g)).toHaveLength(2));
    expect(output.join('')).toBe('BARRIER\nBARRIER\n');
    expect(functions.meter.snapshot()['CloudWatchLogs:Ingested(bytes)@noisy']?.requests).toBe(EXPECTED_BYTES);
  });
});
