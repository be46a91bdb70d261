import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import EndToEndFirstSequencer from './test/support/sequencer.ts';

const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 } as const;

export default defineConfig({
  test: {
    // Vitest's default, one worker per core but one, is a single worker on 2 cores, which leaves the second core
    // idle while an end-to-end file waits on a payment window or a visibility timeout. One more worker than cores
    // (3 on 2) keeps them busy without slowing the timing-sensitive files past their timeouts.
    maxWorkers: availableParallelism() + 1,
    sequence: { sequencer: EndToEndFirstSequencer },
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'pure',
          // Unit and infrastructure tests start nothing and set no environment for the code they import, so a
          // worker runs file after file in one process: the AWS CDK and the SDK are loaded (and warmed) once per
          // worker instead of once per file, a third of these files' CPU time.
          include: ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'],
          isolate: false,
          pool: 'forks',
          ...timeouts,
        },
      },
      {
        test: {
          name: 'system',
          // Each file in a process of its own: handlers read their tables and endpoints from the environment a
          // file sets before importing them, and files start servers and child processes they check for.
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          pool: 'forks',
          globalSetup: ['test/support/global-setup.ts'],
          ...timeouts,
        },
      },
    ],
  },
});
