/** Messages between the function host and its worker threads. */
import type { FaultOptions, Usage } from './sdk-instrumentation';

export interface WorkerSettings {
  readonly functionName: string;
  readonly functionArn: string;
  readonly entryUrl: string;
  readonly memoryMb: number;
  /** Faults to inject into the environment's AWS SDK calls; none when absent. */
  readonly faults?: FaultOptions;
  /** Count what the function writes to stdout and stderr, but do not pass it on to the host's terminal. */
  readonly discardOutput?: boolean;
}

export interface InvocationRequest {
  readonly id: number;
  readonly requestId: string;
  readonly deadlineEpochMs: number;
  readonly event: unknown;
}

/** Every answer carries the AWS requests the invocation made and the output it wrote, for the local usage meter. */
export type InvocationResponse = { readonly usage: Usage } & (
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly errorType: string; readonly errorMessage: string }
);
