import { type MockInstance, vi } from 'vitest';

export interface CapturedOutput {
  /** What was written to stdout and stderr, in order, as text. */
  readonly chunks: readonly string[];
  /** Puts the real streams back. */
  restore(): void;
}

/**
 * Captures what this process writes to stdout and stderr (where Lambda's log output goes, and where the local
 * function host passes its workers' output on), keeping it off the terminal until `restore()`.
 */
export function captureProcessOutput(): CapturedOutput {
  const chunks: string[] = [];
  const spies: MockInstance[] = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  return {
    chunks,
    restore: () => {
      for (const spy of spies.splice(0)) spy.mockRestore();
    },
  };
}
